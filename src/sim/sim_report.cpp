#include "sim/sim_report.h"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "capture/pcap_writer.h"
#include "capture/tcpdump_text.h"
#include "core/error.h"
#include "core/seq.h"
#include "model/kernel_profile.h"
#include "model/sysctls.h"

namespace synscope::sim {
namespace {

using model::Counter;
using model::Rule;

std::string clock(const SimResult& r, SimTime t) { return format_clock_time(r.wall(t)); }
std::string secs(Duration d) { return fmt::format("{:.3f} s", to_seconds(d)); }
// tcpm_ts_stamp is whole seconds (get_seconds(), §7.2): print it without a fraction.
std::string stamp(std::int64_t unix_sec) { return format_clock_time(WallTime{unix_sec * 1000000000}).substr(0, 8); }

bool is_listen_rule(Rule rule) {
  switch (rule) {
    case Rule::ClientEstablished:
    case Rule::Established:
    case Rule::ClientSynRetransmit:
      return false;
    default:
      return true;
  }
}

std::string sysctl_line(const HostResult& h) {
  const auto& s = h.sysctls;
  const auto& p = model::find_profile(h.kernel);
  std::string line = fmt::format("tcp_timestamps={} tcp_syncookies={} somaxconn={} tcp_max_syn_backlog={}",
                                 s.tcp_timestamps, s.tcp_syncookies, s.somaxconn, s.tcp_max_syn_backlog);
  if (p.has_tw_recycle) line = fmt::format("tcp_tw_recycle={} ", s.tcp_tw_recycle) + line;
  if (s.tcp_abort_on_overflow) line += " tcp_abort_on_overflow=1";
  return line;
}

bool host_is_server(const HostResult& h) { return !h.listeners.empty(); }

std::string peer_label(const SimResult& r, const HostDecision& d) {
  if (d.attempt >= 0) {
    const auto& a = r.attempts[static_cast<std::size_t>(d.attempt)];
    return a.client;
  }
  return "";
}

// Lines of the "Why" section for per-host PAWS drops, one group per attempt.
void explain_paws(const SimResult& r, std::vector<std::string>& out) {
  std::map<int, std::vector<const HostDecision*>> by_attempt;
  std::vector<const HostDecision*> unattributed;
  for (const auto& d : r.decisions)
    if (d.decision.verdict.rule == Rule::PerHostPaws) {
      if (d.attempt >= 0) by_attempt[d.attempt].push_back(&d); else unattributed.push_back(&d);
    }
  if (by_attempt.empty() && unattributed.empty()) return;
  std::size_t shown = 0;
  for (const auto& [aid, ds] : by_attempt) {
    if (shown++ == 5) {
      out.push_back(fmt::format("  … and {} more attempts dropped the same way.", by_attempt.size() - 5));
      break;
    }
    const auto& a = r.attempts[static_cast<std::size_t>(aid)];
    const auto& first = ds.front()->decision;
    const auto& host = r.hosts[static_cast<std::size_t>(ds.front()->host)];
    const auto& e = first.verdict.evidence;
    // The close that recorded this memory: the latest TS event on that host for that peer before the drop.
    const TsMemoryEvent* cause = nullptr;
    for (const auto& ev : r.ts_memory)
      if (ev.host == ds.front()->host && ev.closed.remote.addr == first.tuple.remote.addr && ev.at <= first.at &&
          ev.entry.ts == e.remembered_tsval)
        cause = &ev;
    std::string who = a.seen_as && a.seen_as->addr != a.local.addr
                          ? fmt::format("{} ({}, seen by {} as {})", a.client, a.local.str(), host.name, a.seen_as->str())
                          : fmt::format("{} ({})", a.client, a.local.str());
    if (cause) {
      out.push_back(fmt::format(
          "- At {} {} closed {} → {} first (it was the active closer). With tcp_tw_recycle=1 the kernel "
          "remembered the peer's last timestamp in tcp_metrics: {} → TSval {}, received at {} (§7.1, §7.2).",
          clock(r, cause->at), host.name, cause->closed.local.str(), cause->closed.remote.str(),
          cause->closed.remote.addr.str(), cause->entry.ts,
          stamp(cause->entry.stamp_sec)));
    }
    std::int64_t age = e.now_sec - e.remembered_stamp_sec;
    out.push_back(fmt::format(
        "- At {} the SYN of {} (ISN {}) reached {} with TSval {}. The remembered TSval {} for {} is {} ticks ahead of it "
        "(more than TCP_PAWS_WINDOW = 1) and was recorded {} s earlier (less than TCP_PAWS_MSL = 60 s), so per-host "
        "PAWS rejected it (§7.3): silently dropped, no SYN-ACK, PAWSPassive+1 and ListenDrops+1.",
        clock(r, first.at), who, first.seq, host.name, first.tsval, e.remembered_tsval,
        first.tuple.remote.addr.str(), static_cast<std::int64_t>(s32_diff(e.remembered_tsval, first.tsval)), age));
    if (ds.size() > 1) {
      std::string gaps;
      for (std::size_t i = 1; i < ds.size(); ++i)
        gaps += (i > 1 ? ", " : "") + fmt::format("{:.0f}", to_seconds(ds[i]->decision.at - ds[i - 1]->decision.at));
      out.push_back(fmt::format(
          "  The client retransmitted the same ISN {} more times, {} s apart, each with a TSval about 1000 higher per "
          "second but still far behind: all dropped the same way (each counted again).",
          ds.size() - 1, gaps));
    }

    if (a.outcome == AttemptOutcome::Established && a.established_at) {
      out.push_back(fmt::format(
          "  The memory expires 60 s after {} ({}). The SYN sent after that was answered: {} connected {} after its "
          "first SYN, with {} SYNs.",
          stamp(e.remembered_stamp_sec), stamp(e.remembered_stamp_sec + 60), a.client,
          secs(*a.established_at - a.start), a.syns_sent));
    } else if (a.outcome == AttemptOutcome::TimedOut) {
      out.push_back(fmt::format("  {} gave up with ETIMEDOUT after {} SYNs.", a.client, a.syns_sent));
    } else {
      out.push_back(fmt::format("  The window ends at {}; the simulation ended before {} connected.",
                                stamp(e.remembered_stamp_sec + 60), a.client));
    }
  }
  if (!unattributed.empty())
    out.push_back(fmt::format("- {} further SYNs were dropped by per-host PAWS.", unattributed.size()));
}

void explain_counts(const SimResult& r, std::vector<std::string>& out) {
  std::map<std::pair<int, Rule>, std::vector<const HostDecision*>> groups;
  for (const auto& d : r.decisions) {
    Rule rule = d.decision.verdict.rule;
    if (rule == Rule::PerHostPaws) continue;
    if (d.decision.verdict.dropped() || d.decision.verdict.action == model::Action::CookieSynAck ||
        rule == Rule::FinalAckAbortOnOverflow || rule == Rule::CookieAckValid || rule == Rule::NoListener)
      groups[{d.host, rule}].push_back(&d);
  }
  for (const auto& [key, ds] : groups) {
    const auto& host = r.hosts[static_cast<std::size_t>(key.first)];
    const auto& v = ds.front()->decision.verdict;
    const auto& e = v.evidence;
    const auto& info = model::rule_info(key.second);
    std::string what;
    switch (key.second) {
      case Rule::AcceptQueueFull:
        what = fmt::format(
            "{} SYNs were dropped at {} because the accept queue was full ({}): the application is not calling "
            "accept() fast enough, and this kernel drops the SYN itself rather than answering it ({} {}). Each SYN "
            "counts ListenOverflows and ListenDrops.",
            ds.size(), host.name, model::describe(v), info.section,
            model::find_profile(host.kernel).accept_queue_syn == model::AcceptQueueSynTest::FullAndYoung
                ? "— only while more than one request is still young"
                : "— unconditionally since 4.10");
        break;
      case Rule::FinalAckQueueFull: {
        // §10: an ACK validated as a SYN cookie has no request behind it: nothing is kept, nothing re-sent.
        std::size_t cookies = 0;
        for (const auto* d : ds) {
          const auto& dv = d->decision.verdict;
          for (std::uint8_t i = 0; i < dv.counter_count; ++i) cookies += dv.counters[i] == model::Counter::SyncookiesRecv;
        }
        what = fmt::format("{} final ACKs were ignored at {} because the accept queue was full at ACK time ({}): the "
                           "client believes it is connected",
                           ds.size(), host.name, model::describe(v));
        const std::size_t requests = ds.size() - cookies;
        if (requests)
          what += fmt::format(", {}the server keeps the request and retransmits its SYN-ACK, and each answer is ignored "
                              "again until accept() makes room",
                              cookies ? fmt::format("for {} of them ", requests) : std::string());
        if (cookies)
          what += fmt::format("{}{} answered a SYN cookie, so no request exists: the ACK is discarded and nothing is "
                              "retransmitted (§10)",
                              requests ? "; " : ", but ", cookies == ds.size() ? std::string("they") : std::to_string(cookies));
        what += fmt::format(" ({}).", info.section);
        break;
      }
      case Rule::FinalAckAbortOnOverflow:
        what = fmt::format(
            "{} final ACKs were answered with RST at {} because the accept queue was full and "
            "tcp_abort_on_overflow=1 ({}): the clients see ECONNRESET instead of a silent stall.",
            ds.size(), host.name, info.section);
        break;
      case Rule::SynQueueFullDrop:
        what = fmt::format(
            "{} SYNs were dropped at {} because the SYN queue was full ({}) and tcp_syncookies=0 ({}): "
            "TCPReqQFullDrop and ListenDrops count them.",
            ds.size(), host.name, model::describe(v), info.section);
        break;
      case Rule::SynQueueFullCookie:
      case Rule::SyncookiesAlways:
        what = fmt::format("{} SYNs at {} were answered with SYN cookies ({}; {}): no request is kept, and the "
                           "connection is rebuilt from the cookie when the final ACK arrives.",
                           ds.size(), host.name, info.title, info.section);
        break;
      case Rule::CookieAckValid:
        what = fmt::format("{} connections at {} were completed from a valid SYN cookie (SyncookiesRecv, §10).",
                           ds.size(), host.name);
        break;
      case Rule::UnprovenPeer:
        what = fmt::format("{} SYNs were dropped at {}: {} ({}).", ds.size(), host.name, model::describe(v),
                           info.section);
        break;
      case Rule::SynAckTimeoutExpired:
        what = fmt::format("{} requests at {} expired after their SYN-ACK retries ({}; as few as {} retransmissions "
                           "under queue pressure).",
                           ds.size(), host.name, info.section, e.retries);
        break;
      case Rule::NoListener:
        what = fmt::format("{} SYNs reached {} on a port nobody listens on and were refused with RST ({}).",
                           ds.size(), host.name, info.section);
        break;
      case Rule::ClientSynTimeout:
        what = fmt::format("{} connection attempts from {} gave up with ETIMEDOUT ({}).", ds.size(), host.name,
                           info.section);
        break;
      default:
        what = fmt::format("{} × {} at {} ({}).", ds.size(), info.title, host.name, info.section);
        break;
    }
    out.push_back("- " + what);
  }
}

void explain_no_drop(const SimResult& r, std::vector<std::string>& out) {
  // The per-host timestamp story only matters where several clients share one source address.
  if (r.scenario->nats.empty() && r.scenario->proxies.empty()) return;
  std::set<std::string> middleboxes;
  for (const auto& p : r.scenario->proxies) middleboxes.insert(p.host);
  for (const auto& h : r.hosts) {
    if (middleboxes.count(h.name)) continue;
    if (!host_is_server(h) || h.is_nat) continue;
    const auto& p = model::find_profile(h.kernel);
    if (!p.has_tw_recycle) {
      out.push_back(fmt::format(
          "- {} runs kernel profile {} ({}): tcp_tw_recycle does not exist there (removed in 4.12), so no per-host "
          "timestamp check can drop a SYN, whatever the clients' TS clocks (§7.7).",
          h.name, p.name, p.title));
    } else if (!h.sysctls.tcp_tw_recycle) {
      out.push_back(fmt::format(
          "- {}: tcp_tw_recycle=0, so the per-host PAWS check is never applied (§3.3 step 7a) and SYNs with older "
          "TSvals from one NAT address are accepted.",
          h.name));
    } else {
      bool any = false;
      for (const auto& ev : r.ts_memory)
        if (r.hosts[static_cast<std::size_t>(ev.host)].name == h.name) any = true;
      if (!any)
        out.push_back(fmt::format(
            "- {}: tcp_tw_recycle=1, but {} never closed a connection first, so tcp_metrics holds no remembered "
            "timestamp to compare SYNs against (§7.1).",
            h.name, h.name));
      else
        out.push_back(fmt::format(
            "- {}: tcp_tw_recycle=1 and tcp_metrics remembered timestamps, but no later SYN from those addresses "
            "was more than 1 tick behind them within 60 s (§7.3).",
            h.name));
    }
  }
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string render_verdicts(const SimResult& r, std::size_t max_rows) {
  std::vector<std::vector<std::string>> rows = {{"time", "host", "peer", "client", "seq", "TSval", "verdict", "rule", "counters"}};
  std::size_t total = 0;
  for (const auto& d : r.decisions) {
    const auto& v = d.decision.verdict;
    if (!is_listen_rule(v.rule)) continue;
    if (r.attempts.size() > 0 && d.attempt >= 0 && r.attempts[static_cast<std::size_t>(d.attempt)].host == d.host &&
        v.rule != Rule::ClientSynTimeout)
      continue;  // client-side bookkeeping, shown in the attempts table
    ++total;
    if (rows.size() > max_rows) continue;
    const auto& info = model::rule_info(v.rule);
    rows.push_back({clock(r, d.decision.at), r.hosts[static_cast<std::size_t>(d.host)].name, d.decision.tuple.remote.str(),
                    peer_label(r, d), d.decision.seq ? std::to_string(d.decision.seq) : "-",
                    d.decision.has_ts ? std::to_string(d.decision.tsval) : "-", std::string(to_string(v.action)),
                    fmt::format("{} {}", info.id, info.section), model::counters_text(v)});
  }
  std::string out = table(rows);
  if (total + 1 > rows.size()) out += fmt::format("  … {} more rows (--verbose shows all)\n", total + 1 - rows.size());
  return out;
}

std::string render_explanation(const SimResult& r) {
  std::vector<std::string> lines;
  explain_paws(r, lines);
  explain_counts(r, lines);
  bool dropped = false;
  for (const auto& d : r.decisions)
    if (d.decision.verdict.dropped() && d.decision.verdict.rule != Rule::ClientSynTimeout) dropped = true;
  if (!dropped) {
    lines.insert(lines.begin(), "- No SYN was dropped.");
    explain_no_drop(r, lines);
  }
  for (const auto& a : r.adjustments) lines.push_back("- Note: " + a + ".");
  for (const auto& n : r.scenario->notes) lines.push_back("- Note: " + n);
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string render_text(const SimResult& r, const TextOptions& opt) {
  const Scenario& sc = *r.scenario;
  std::string out = fmt::format("synscope sim: {} — {}\n", sc.name, sc.description);
  out += fmt::format("simulated {} from {} UTC, seed {}\n\n", secs(sc.duration), format_date_time(sc.start), sc.seed);

  out += "Hosts:\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : r.hosts) {
      const auto& p = model::find_profile(h.kernel);
      rows.push_back({h.name, h.addr.str(), std::string(p.name), h.is_nat ? "NAT" : (host_is_server(h) ? "server" : "client"),
                      host_is_server(h) ? sysctl_line(h) : ""});
    }
    out += table(rows);
  }

  capture::TcpdumpFormatter fmtr;
  for (const auto& c : r.captures) {
    out += fmt::format("\nCapture at {} ({}), as `tcpdump -nn` prints it: {} packets\n", c.host, c.addr.str(),
                       c.segments.size());
    std::size_t limit = opt.verbose ? c.segments.size() : opt.capture_lines;
    fmtr.reset();
    for (std::size_t i = 0; i < c.segments.size(); ++i) {
      std::string line = fmtr.format(c.segments[i].seg, r.wall(c.segments[i].at));
      if (i < limit) out += "  " + line + "\n";
    }
    if (c.segments.size() > limit) out += fmt::format("  … {} more packets (--verbose shows all)\n", c.segments.size() - limit);
  }

  out += "\nListen-path verdicts:\n";
  out += render_verdicts(r, opt.verbose ? SIZE_MAX : opt.verdict_rows);

  if (!r.attempts.empty()) {
    out += "\nConnection attempts:\n";
    std::vector<std::vector<std::string>> rows = {{"client", "from", "to", "seen as", "start", "SYNs", "outcome", "after"}};
    std::size_t limit = opt.verbose ? r.attempts.size() : opt.attempt_rows;
    for (std::size_t i = 0; i < r.attempts.size() && i < limit; ++i) {
      const auto& a = r.attempts[i];
      std::string after = a.established_at ? secs(*a.established_at - a.start) : (a.ended_at ? secs(*a.ended_at - a.start) : "-");
      std::string outcome(to_string(a.outcome));
      if (a.syns_dropped && a.drop_rule)
        outcome += fmt::format(" ({} SYNs dropped: {})", a.syns_dropped, model::rule_info(*a.drop_rule).id);
      rows.push_back({a.client, a.local.str(), a.remote.str(), a.seen_as ? a.seen_as->str() : "-", clock(r, a.start),
                      std::to_string(a.syns_sent), outcome, after});
    }
    out += table(rows);
    if (r.attempts.size() > limit) out += fmt::format("  … {} more attempts (--verbose shows all)\n", r.attempts.size() - limit);
  }

  for (const auto& h : r.hosts) {
    if (!host_is_server(h) && !opt.verbose) continue;
    if (!h.counters.any()) continue;
    out += fmt::format("\nCounters of {} ({}), as `nstat` prints them:\n", h.name, h.kernel);
    out += h.counters.nstat_text();
    out += fmt::format("and as `netstat -s` prints them (net-tools 2.10):\n{}", h.counters.netstat_text());
  }
  if (!r.kernel_log.empty()) {
    out += "\nKernel log:\n";
    for (const auto& l : r.kernel_log)
      out += fmt::format("  {} {}: {}\n", clock(r, l.at), r.hosts[static_cast<std::size_t>(l.host)].name, l.text);
  }
  out += "\nWhy:\n" + render_explanation(r);
  return out;
}

nlohmann::json render_json(const SimResult& r) {
  using nlohmann::json;
  const Scenario& sc = *r.scenario;
  json j;
  j["schema"] = "synscope.sim/1";
  j["scenario"] = {{"name", sc.name}, {"description", sc.description}, {"seed", sc.seed},
                   {"start", format_date_time(sc.start)}, {"duration_s", to_seconds(sc.duration)}};
  j["hosts"] = json::array();
  for (const auto& h : r.hosts) {
    json jh = {{"name", h.name}, {"addr", h.addr.str()}, {"kernel", h.kernel}, {"nat", h.is_nat}};
    json sys = json::object();
    for (const auto& info : model::known_sysctls())
      if (!model::sysctl_unavailable_reason(model::find_profile(h.kernel), info.name))
        sys[std::string(info.name)] = h.sysctls.get(info.name);
    jh["sysctls"] = sys;
    jh["counters"] = h.counters.to_json();
    jh["tcp_metrics"] = json::array();
    for (const auto& m : h.metrics)
      jh["tcp_metrics"].push_back({{"local", m.local.str()}, {"peer", m.peer.str()}, {"tsval", m.memory.ts},
                                   {"ts_stamp", m.memory.stamp_sec}, {"has_rtt", m.memory.has_rtt}});
    jh["listeners"] = json::array();
    for (const auto& l : h.listeners)
      jh["listeners"].push_back({{"port", l.port}, {"backlog", l.backlog}, {"syn_queue_cap", l.table_size},
                                 {"syn_queue", l.q}, {"young", l.young}, {"accept_queue", l.a}, {"drops", l.drops}});
    j["hosts"].push_back(jh);
  }
  j["decisions"] = json::array();
  for (const auto& d : r.decisions) {
    const auto& v = d.decision.verdict;
    const auto& info = model::rule_info(v.rule);
    json counters = json::array();
    for (std::size_t i = 0; i < v.counter_count; ++i) counters.push_back(model::counter_info(v.counters[i]).field);
    json jd = {{"time", format_date_time(r.wall(d.decision.at))}, {"t", to_seconds(d.decision.at)},
               {"host", r.hosts[static_cast<std::size_t>(d.host)].name}, {"local", d.decision.tuple.local.str()},
               {"remote", d.decision.tuple.remote.str()}, {"seq", d.decision.seq},
               {"action", std::string(to_string(v.action))}, {"rule", info.id}, {"section", info.section},
               {"explanation", model::describe(v)}, {"counters", counters}};
    if (d.decision.has_ts) jd["tsval"] = d.decision.tsval;
    if (d.attempt >= 0) jd["attempt"] = d.attempt;
    j["decisions"].push_back(jd);
  }
  j["attempts"] = json::array();
  for (const auto& a : r.attempts) {
    json ja = {{"client", a.client}, {"from", a.local.str()}, {"to", a.remote.str()},
               {"start", format_date_time(r.wall(a.start))}, {"syns_sent", a.syns_sent},
               {"syns_dropped", a.syns_dropped}, {"outcome", std::string(to_string(a.outcome))}};
    if (a.seen_as) ja["seen_as"] = a.seen_as->str();
    if (a.established_at) ja["established_after_s"] = to_seconds(*a.established_at - a.start);
    if (a.drop_rule) ja["drop_rule"] = model::rule_info(*a.drop_rule).id;
    j["attempts"].push_back(ja);
  }
  j["ts_memory"] = json::array();
  for (const auto& e : r.ts_memory)
    j["ts_memory"].push_back({{"time", format_date_time(r.wall(e.at))}, {"host", r.hosts[static_cast<std::size_t>(e.host)].name},
                              {"closed", e.closed.local.str() + " > " + e.closed.remote.str()}, {"tsval", e.entry.ts},
                              {"ts_stamp", e.entry.stamp_sec}});
  j["kernel_log"] = json::array();
  for (const auto& l : r.kernel_log)
    j["kernel_log"].push_back({{"time", format_date_time(r.wall(l.at))}, {"host", r.hosts[static_cast<std::size_t>(l.host)].name},
                               {"text", l.text}});
  j["captures"] = json::array();
  for (const auto& c : r.captures) j["captures"].push_back({{"name", c.name}, {"host", c.host}, {"packets", c.segments.size()}});
  j["stats"] = {{"segments_sent", r.segments_sent}, {"segments_delivered", r.segments_delivered},
                {"segments_blackholed", r.segments_blackholed}, {"events", r.events}};
  j["adjustments"] = r.adjustments;
  j["explanation"] = render_explanation(r);
  return j;
}

std::vector<std::string> write_outputs(const SimResult& r, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UsageError(fmt::format("cannot create output directory {}: {}", dir, ec.message()));
  std::vector<std::string> written;
  for (const auto& c : r.captures) {
    std::string pcap_path = dir + "/" + c.name + ".pcap";
    std::string txt_path = dir + "/" + c.name + ".txt";
    {
      capture::PcapWriter w(pcap_path);
      for (const auto& s : c.segments) w.write(s.seg, r.wall(s.at));
    }
    std::ofstream txt(txt_path);
    if (!txt) throw UsageError(fmt::format("cannot write {}", txt_path));
    capture::TcpdumpFormatter f;
    std::string buf;
    for (const auto& s : c.segments) {
      buf.clear();
      f.append(buf, s.seg, r.wall(s.at));
      txt << buf << '\n';
    }
    written.push_back(pcap_path);
    written.push_back(txt_path);
  }
  std::string json_path = dir + "/result.json";
  std::ofstream js(json_path);
  if (!js) throw UsageError(fmt::format("cannot write {}", json_path));
  js << render_json(r).dump(2) << '\n';
  written.push_back(json_path);
  return written;
}

std::string render_variant_table(const std::vector<VariantRun>& runs) {
  std::vector<std::vector<std::string>> rows = {{"variant", "server kernel", "attempts", "connected (client view)", "failed",
                                                 "SYNs dropped", "ListenOverflows", "ListenDrops", "PAWSPassive",
                                                 "TCPReqQFullDrop", "SyncookiesSent", "EmbryonicRsts"}};
  for (const auto& run : runs) {
    const auto& r = run.result;
    int established = 0, failed = 0, dropped = 0;
    for (const auto& a : r.attempts) {
      if (a.outcome == AttemptOutcome::Established) ++established;
      if (a.outcome == AttemptOutcome::TimedOut || a.outcome == AttemptOutcome::Refused || a.outcome == AttemptOutcome::Reset)
        ++failed;
    }
    model::CounterSet total;
    std::string kernel;
    for (const auto& h : r.hosts) {
      if (!host_is_server(h) || h.is_nat) continue;
      if (kernel.empty()) kernel = h.kernel;
      for (std::size_t i = 0; i < model::kCounterCount; ++i) total.add(static_cast<Counter>(i), h.counters[static_cast<Counter>(i)]);
    }
    for (const auto& d : r.decisions)
      if (d.decision.verdict.dropped() && d.decision.verdict.rule != Rule::ClientSynTimeout &&
          d.decision.verdict.rule != Rule::FinalAckQueueFull && d.decision.verdict.rule != Rule::SynAckTimeoutExpired)
        ++dropped;
    rows.push_back({run.name, kernel, std::to_string(r.attempts.size()), std::to_string(established), std::to_string(failed),
                    std::to_string(dropped), std::to_string(total[Counter::ListenOverflows]),
                    std::to_string(total[Counter::ListenDrops]), std::to_string(total[Counter::PAWSPassive]),
                    std::to_string(total[Counter::TCPReqQFullDrop]), std::to_string(total[Counter::SyncookiesSent]),
                    std::to_string(total[Counter::EmbryonicRsts])});
  }
  return table(rows);
}

}  // namespace synscope::sim
