// Text and JSON renderings of a replay result (analyze/replay.h). The JSON schema is documented in
// docs/replay.md.
#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analyze/replay.h"
#include "core/seq.h"

namespace synscope::analyze {
namespace {

std::string clock(WallTime t) { return format_clock_time(t); }

// A SYN with a new ISN that meets the request of an earlier ISN on its 4-tuple: the model reports no
// listen-path verdict for it, so the replay names it.
constexpr model::RuleInfo kResetsRequest{"syn_resets_request",
                                         "a SYN with a new ISN reset the request of an earlier ISN on this 4-tuple; "
                                         "nothing sent",
                                         "§5.1 step 5"};
// tcpm_ts_stamp is whole seconds (get_seconds(), §7.2): print it without a fraction.
std::string stamp(std::int64_t unix_sec) { return format_clock_time(WallTime{unix_sec * 1000000000}).substr(0, 8); }

std::string sysctl_line(const ReplayResult& r) {
  const auto& s = r.sysctls;
  std::string line = fmt::format("tcp_timestamps={} tcp_syncookies={} somaxconn={} tcp_max_syn_backlog={}",
                                 s.tcp_timestamps, s.tcp_syncookies, s.somaxconn, s.tcp_max_syn_backlog);
  if (r.profile->has_tw_recycle) line = fmt::format("tcp_tw_recycle={} ", s.tcp_tw_recycle) + line;
  if (s.tcp_abort_on_overflow) line += " tcp_abort_on_overflow=1";
  if (s.tcp_synack_retries != 5) line += fmt::format(" tcp_synack_retries={}", s.tcp_synack_retries);
  return line;
}

std::string model_label(const ReplayResult& r) {
  std::string changes;
  for (const auto& c : r.sysctl_changes) changes += ", " + c;
  return fmt::format("kernel {}{}", r.profile->name, changes.empty() ? ", default sysctls" : changes);
}

std::string accept_text(AcceptMode m) {
  switch (m) {
    case AcceptMode::Immediate: return "accept() at once";
    case AcceptMode::FirstAction: return "accept() at the server's first data or FIN on each connection";
    case AcceptMode::Never: return "accept() never called (a stalled application)";
  }
  return "";
}

std::string server_text(const ReplayResult& r) {
  return r.port ? fmt::format("{}:{}", r.server.str(), *r.port) : r.server.str();
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string model_cell(const ReplaySyn& s) {
  if (s.verdict) return std::string(model::to_string(s.verdict->action));
  return std::string(to_string(s.model));
}

std::string rule_cell(const ReplaySyn& s) {
  if (s.resets_request) return fmt::format("{} ({})", kResetsRequest.id, kResetsRequest.section);
  if (!s.verdict) return "-";
  const auto& info = model::rule_info(s.verdict->rule);
  return fmt::format("{} ({})", info.id, info.section);
}

// Title and numbers of the rule that dropped a SYN.
std::string evidence_text(const model::Verdict& v) {
  const auto& info = model::rule_info(v.rule);
  std::string d = model::describe(v);
  if (d == info.title) return std::string(info.title);
  return fmt::format("{}: {}", info.title, d);
}

std::string summary_lines(const ReplayResult& r) {
  auto s = r.summary();
  std::string out = fmt::format("capture: {}, {} unanswered\n", plural(s.syns, "SYN", "SYNs"), s.unanswered);
  std::string drops;
  if (s.model_dropped == 0) {
    drops = "none would be dropped";
  } else {
    std::string rules;
    for (const auto& [id, n] : s.dropped_by_rule) rules += fmt::format("{}{}: {}", rules.empty() ? "" : ", ", id, n);
    drops = fmt::format("{} would be dropped ({})", s.model_dropped, rules);
  }
  out += fmt::format("model ({}): {}", model_label(r), drops);
  if (s.unanswered) out += fmt::format("; {} of the {} unanswered would have been answered", s.saved, s.unanswered);
  if (s.lost) out += fmt::format("; {} answered in the capture would be dropped", s.lost);
  out += '\n';
  return out;
}

std::string syn_table(const ReplayResult& r, const ReplayTextOptions& opt) {
  std::vector<const ReplaySyn*> rows;
  bool filtered = false;
  if (!opt.verbose && r.syns.size() > opt.max_rows) {
    for (const auto& s : r.syns)
      if (s.differs() || s.model_dropped()) rows.push_back(&s);
    filtered = !rows.empty();
  }
  if (!filtered)
    for (const auto& s : r.syns) rows.push_back(&s);
  std::size_t shown = std::min(rows.size(), opt.verbose ? rows.size() : opt.max_rows);
  std::size_t client_w = 6, model_w = 5, capture_w = 7;
  for (std::size_t i = 0; i < shown; ++i) {
    client_w = std::max(client_w, rows[i]->client.str().size());
    model_w = std::max(model_w, model_cell(*rows[i]).size());
    capture_w = std::max(capture_w, std::string(to_string(rows[i]->capture)).size());
  }
  bool any_differ = false;
  for (const auto& s : r.syns) any_differ = any_differ || s.differs();

  std::string out = fmt::format("SYNs to {}{}:\n", server_text(r), any_differ ? " (* = the model's answer differs from the capture's)" : "");
  if (filtered)
    out += fmt::format("  (the {} SYNs the model drops or answers differently; -v shows all {})\n", rows.size(), r.syns.size());
  // Without a chosen port the SYNs go to several ports: show which.
  const bool port_col = !r.port;
  out += fmt::format("    {:<15}  {:<{}}  {}{:<10}  {:<10}  {:<3}  {:<{}}  {:<{}}  {}\n", "time", "client", client_w,
                     port_col ? "port   " : "", "ISN", "TSval", "try", "capture", capture_w, "model", model_w, "rule");
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& s = *rows[i];
    out += fmt::format("  {} {:<15}  {:<{}}  {}{:<10}  {:<10}  {:<3}  {:<{}}  {:<{}}  {}\n", s.differs() ? '*' : ' ',
                       clock(s.at), s.client.str(), client_w, port_col ? fmt::format("{:<5}  ", s.server.port) : "",
                       s.isn, s.tsval ? std::to_string(*s.tsval) : "-", s.transmission, to_string(s.capture), capture_w,
                       model_cell(s), model_w, rule_cell(s));
    if (s.model_dropped() && s.verdict) out += fmt::format("      {}\n", evidence_text(*s.verdict));
    if (s.resets_request) out += fmt::format("      {}\n", kResetsRequest.title);
  }
  if (shown < rows.size()) out += fmt::format("  … {} more (-v shows every SYN)\n", rows.size() - shown);
  return out;
}

std::string why_lines(const ReplayResult& r) {
  std::string out;
  // One line per connection the server closed first, with the entry as that close left it (an orphaned
  // FIN_WAIT2 socket records once, and again when the peer's FIN brings it to TIME_WAIT, §7.1).
  std::vector<const ReplayTsMemory*> closes;
  for (const auto& m : r.ts_memory) {
    auto same = [&](const ReplayTsMemory* c) { return c->closed == m.closed; };
    auto it = std::find_if(closes.begin(), closes.end(), same);
    if (it == closes.end()) closes.push_back(&m); else *it = &m;
  }
  for (std::size_t i = 0; i < closes.size(); ++i) {
    if (i == 5) {
      out += fmt::format("- … and {} more connections the server closed first.\n", closes.size() - 5);
      break;
    }
    const auto& m = *closes[i];
    out += fmt::format(
        "- The server closed {} → {} first (it was the active closer). With tcp_tw_recycle=1 the model's tcp_metrics "
        "remembers {} → TSval {} from {} on, received at {} (§7.1, §7.2): until {} a SYN from {} whose TSval is more "
        "than 1 behind it is dropped (§7.3).\n",
        m.closed.local.str(), m.closed.remote.str(), m.closed.remote.addr.str(), m.entry.ts, clock(m.at),
        stamp(m.entry.stamp_sec), stamp(m.entry.stamp_sec + 60), m.closed.remote.addr.str());
  }
  auto s = r.summary();
  if (r.profile->has_tw_recycle && !r.sysctls.tcp_tw_recycle && s.saved)
    out += "- tcp_tw_recycle=0: the per-host PAWS check is never applied (§3.1 step 7a), whatever the SYNs' TSvals.\n";
  if (!r.profile->has_tw_recycle && s.saved)
    out += fmt::format("- Kernel {} has no tcp_tw_recycle (removed in 4.12, §7.7): no per-host PAWS check at all.\n",
                       r.profile->name);
  bool resent_unseen = false;
  for (const auto& x : r.syns)
    resent_unseen = resent_unseen || (x.capture == SynAnswer::None && x.verdict &&
                                      x.verdict->rule == model::Rule::RetransmittedSyn);
  if (resent_unseen)
    out += "- Retransmitted SYNs the capture left unanswered find the model's request and get its SYN-ACK again (§2); "
           "a real client would already have completed the handshake after the model's first SYN-ACK.\n";
  return out;
}

}  // namespace

std::string render_replay_text(const ReplayResult& r, const ReplayTextOptions& opt) {
  std::string out = fmt::format("synscope replay: {} ({}, {}), server {}\n", r.input, r.format,
                                plural(r.tcp_segments, "TCP segment", "TCP segments"), server_text(r));
  out += fmt::format("model: kernel {}, {}\n", r.profile->name, r.profile->title);
  out += fmt::format("  sysctls: {}\n", sysctl_line(r));
  std::string ports;
  constexpr std::size_t kMaxPorts = 10;
  for (std::size_t i = 0; i < r.listening.size() && i < kMaxPorts; ++i) {
    auto p = r.listening[i];
    ports += (ports.empty() ? "" : ", ") + std::to_string(p);
    if (auto it = r.listen_late.find(p); it != r.listen_late.end()) ports += " (from " + clock(it->second) + ")";
  }
  if (r.listening.size() > kMaxPorts)
    ports = fmt::format("{} ports ({} … {})", r.listening.size(), ports, r.listening.back());
  out += fmt::format("  listening on {} with listen(fd, {}): B = {} (§6.1); {}\n", ports.empty() ? "no port" : ports,
                     r.backlog_requested, r.backlog, accept_text(r.accept));
  out += '\n' + summary_lines(r) + '\n';
  out += syn_table(r, opt);
  std::string why = why_lines(r);
  if (!why.empty()) out += "\nWhy (model):\n" + why;
  if (opt.verbose) {
    if (!r.other_decisions.empty()) {
      out += "\nOther model decisions (final ACKs, SYN-ACK timers, ...):\n";
      for (const auto& d : r.other_decisions)
        out += fmt::format("  {}  {:<21}  {:<16}  {} ({}): {}\n", clock(d.at), d.tuple.remote.str(),
                           model::to_string(d.verdict.action), model::rule_info(d.verdict.rule).id,
                           model::rule_info(d.verdict.rule).section, model::describe(d.verdict));
    }
    out += "\nModel counters, as `nstat` prints them:\n" + r.counters.nstat_text();
  }
  if (!r.notes.empty()) {
    out += "\nNotes:\n";
    for (const auto& n : r.notes) out += "- " + n + '\n';
  }
  return out;
}

nlohmann::json render_replay_json(const ReplayResult& r) {
  using nlohmann::json;
  auto s = r.summary();
  json sysctls = json::object();
  for (const auto& info : model::known_sysctls()) {
    if (info.name == "tcp_tw_recycle" && !r.profile->has_tw_recycle) continue;
    if (info.name == "tcp_syn_linear_timeouts" && !r.profile->has_syn_linear_timeouts) continue;
    sysctls[std::string(info.name)] = r.sysctls.get(info.name);
  }
  json by_rule = json::object();
  for (const auto& [id, n] : s.dropped_by_rule) by_rule[id] = n;
  json syns = json::array();
  for (const auto& x : r.syns) {
    json model = {{"answer", json_name(x.model)}};
    if (x.verdict) {
      const auto& v = *x.verdict;
      const auto& info = model::rule_info(v.rule);
      json ev = json::object();
      const auto& e = v.evidence;
      if (e.q >= 0) ev["q"] = e.q;
      if (e.b >= 0) ev["b"] = e.b;
      if (e.a >= 0) ev["a"] = e.a;
      if (e.young >= 0) ev["young"] = e.young;
      if (e.cap >= 0) ev["cap"] = e.cap;
      if (v.rule == model::Rule::PerHostPaws) {
        ev["remembered_tsval"] = e.remembered_tsval;
        ev["remembered_unix_s"] = e.remembered_stamp_sec;
        ev["now_unix_s"] = e.now_sec;
        ev["syn_has_ts"] = e.syn_has_ts;
        if (e.syn_has_ts) ev["syn_tsval"] = e.syn_tsval;
      }
      json counters = json::array();
      for (std::size_t i = 0; i < v.counter_count; ++i) counters.push_back(model::counter_info(v.counters[i]).field);
      model["action"] = model::to_string(v.action);
      model["rule"] = info.id;
      model["title"] = info.title;
      model["section"] = info.section;
      model["description"] = model::describe(v);
      model["counters"] = counters;
      model["evidence"] = ev;
    } else if (x.resets_request) {
      model["action"] = nullptr;
      model["rule"] = kResetsRequest.id;
      model["title"] = kResetsRequest.title;
      model["section"] = kResetsRequest.section;
    } else {
      model["action"] = nullptr;
      model["rule"] = nullptr;
    }
    json capture = {{"answer", json_name(x.capture)}};
    capture["delay_s"] = x.capture_delay ? json(to_seconds(*x.capture_delay)) : json(nullptr);
    syns.push_back({{"time", format_date_time(x.at)},
                    {"unix_ns", x.at.unix_ns},
                    {"frame", x.frame},
                    {"client", x.client.str()},
                    {"server", x.server.str()},
                    {"isn", x.isn},
                    {"tsval", x.tsval ? json(*x.tsval) : json(nullptr)},
                    {"transmission", x.transmission},
                    {"capture", capture},
                    {"model", model},
                    {"model_dropped", x.model_dropped()},
                    {"differs", x.differs()}});
  }
  json memory = json::array();
  for (const auto& m : r.ts_memory)
    memory.push_back({{"time", format_date_time(m.at)},
                      {"closed", {{"local", m.closed.local.str()}, {"remote", m.closed.remote.str()}}},
                      {"peer", m.closed.remote.addr.str()},
                      {"tsval", m.entry.ts},
                      {"received_unix_s", m.entry.stamp_sec}});
  json others = json::array();
  for (const auto& d : r.other_decisions)
    others.push_back({{"time", format_date_time(d.at)},
                      {"peer", d.tuple.remote.str()},
                      {"local", d.tuple.local.str()},
                      {"seq", d.seq},
                      {"action", model::to_string(d.verdict.action)},
                      {"rule", model::rule_info(d.verdict.rule).id},
                      {"section", model::rule_info(d.verdict.rule).section},
                      {"description", model::describe(d.verdict)}});
  return json{
      {"schema", "synscope.replay/1"},
      {"input",
       {{"path", r.input},
        {"format", r.format},
        {"tcp_segments", r.tcp_segments},
        {"inbound", r.inbound},
        {"outbound", r.outbound},
        {"duplicates", r.duplicates},
        {"unmatched", r.unmatched},
        {"adopted_connections", r.adopted},
        {"stop_reason", r.stop_reason.empty() ? json(nullptr) : json(r.stop_reason)}}},
      {"server",
       {{"addr", r.server.str()},
        {"port", r.port ? json(*r.port) : json(nullptr)},
        {"chosen", r.server_choice.empty() ? json(nullptr) : json(r.server_choice)},
        {"listening", r.listening},
        {"listening_from", [&] {
           json late = json::object();
           for (const auto& [port, at] : r.listen_late) late[std::to_string(port)] = format_date_time(at);
           return late;
         }()},
        {"backlog_requested", r.backlog_requested},
        {"backlog", r.backlog},
        {"accept", to_string(r.accept)}}},
      {"model",
       {{"kernel", r.profile->name},
        {"title", r.profile->title},
        {"sysctls", sysctls},
        {"changed", r.sysctl_changes}}},
      {"summary",
       {{"syns", s.syns},
        {"unanswered", s.unanswered},
        {"model_dropped", s.model_dropped},
        {"dropped_by_rule", by_rule},
        {"unanswered_answered_by_model", s.saved},
        {"answered_dropped_by_model", s.lost},
        {"differ", s.differ}}},
      {"syns", syns},
      {"ts_memory", memory},
      {"other_decisions", others},
      {"counters", r.counters.to_json()},
      {"notes", r.notes}};
}

}  // namespace synscope::analyze
