// From each front-end's result to a report::Report. The TSval picture is built from the best source
// of truth each has: the simulator knows which host sent every SYN and what its server's tcp_metrics
// remembered; a capture only shows addresses, so its attempts are split by the analyzer's TS-clock
// separation (one line per clock behind an address).
#include "report/builders.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "analyze/diagnose.h"
#include "model/counters.h"
#include "model/verdict.h"

namespace synscope::report {

namespace {

constexpr std::int64_t kPawsWindowUs = 60'000'000;  // TCP_PAWS_MSL: the memory applies for 60 s (§7.3)

std::int64_t us(SimTime t) { return t.count() / 1000; }

void add_counters(Report& r, const std::string& host, const model::CounterSet& c) {
  for (std::size_t i = 0; i < model::kCounterCount; ++i) {
    const auto id = static_cast<model::Counter>(i);
    if (c[id] != 0) r.counters.push_back({host, model::nstat_name(id), {static_cast<std::int64_t>(c[id])}});
  }
}

// Lanes top to bottom: trouble first, so that the eye lands on it.
void order_lanes(Report& r, const std::vector<std::string>& preferred) {
  std::set<std::uint32_t> used;
  for (const auto& a : r.attempts) used.insert(a.lane);
  std::vector<std::string> lanes;
  for (const auto& p : preferred)
    if (used.count(r.strings.id(p))) lanes.push_back(p);
  for (std::uint32_t id : used) {
    const auto& s = r.strings.all()[id];
    if (std::find(lanes.begin(), lanes.end(), s) == lanes.end()) lanes.push_back(s);
  }
  r.lanes = std::move(lanes);
}

// Addresses most worth a look first: SYNs dropped under a remembered TSval, then several clocks,
// then the most unanswered SYNs.
void order_ts(std::vector<TsAddress>& v) {
  auto score = [](const TsAddress& a) {
    std::uint64_t below = 0, unanswered = 0, points = 0;
    for (const auto& l : a.lines)
      for (const auto& p : l.points) {
        points++;
        if (p.kind != 1) continue;
        unanswered++;
        for (const auto& b : a.bands)
          if (p.t >= b.from && p.t < b.until && static_cast<std::int32_t>(b.ts - p.ts) > 0) {
            below++;
            break;
          }
      }
    return std::tuple(below, a.bands.size(), std::min<std::size_t>(a.lines.size(), 8), unanswered, points);
  };
  std::vector<std::pair<decltype(score(v[0])), std::size_t>> keyed;
  for (std::size_t i = 0; i < v.size(); ++i) keyed.emplace_back(score(v[i]), i);
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  std::vector<TsAddress> out;
  out.reserve(v.size());
  for (auto& [k, i] : keyed) out.push_back(std::move(v[i]));
  v = std::move(out);
}

bool syn_rule(model::Rule r) {
  using model::Rule;
  switch (r) {
    case Rule::NoListener:
    case Rule::SynFinFlags:
    case Rule::SynQueueFullDrop:
    case Rule::SynQueueFullCookie:
    case Rule::SyncookiesAlways:
    case Rule::AcceptQueueFull:
    case Rule::PerHostPaws:
    case Rule::UnprovenPeer:
    case Rule::SynAckSent:
    case Rule::RetransmittedSyn:
    case Rule::TimeWaitSynRejected: return true;
    default: return false;  // TimeWaitSynAccepted: the same SYN gets a second decision right after
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Simulation

Report from_sim(const std::vector<sim::VariantRun>& runs) {
  const sim::SimResult& s = runs.at(0).result;
  const sim::Scenario& sc = *s.scenario;
  Report r;
  r.kind = "sim";
  r.title = "synscope sim: " + sc.name;
  r.subtitle = sc.description;
  r.t0 = sc.start;

  std::set<int> servers;  // hosts with a listener
  for (std::size_t h = 0; h < s.hosts.size(); ++h)
    if (!s.hosts[h].listeners.empty()) servers.insert(static_cast<int>(h));

  // Rows: one per attempt the simulator followed; its SYNs as the server saw them.
  std::vector<std::vector<const sim::HostDecision*>> syn_decisions(s.attempts.size());
  for (const auto& d : s.decisions)
    if (d.attempt >= 0 && servers.count(d.host) && d.host != s.attempts[static_cast<std::size_t>(d.attempt)].host &&
        syn_rule(d.decision.verdict.rule))
      syn_decisions[static_cast<std::size_t>(d.attempt)].push_back(&d);

  std::uint64_t established = 0, failed = 0, dropped_syns = 0;
  std::map<model::Rule, Finding> by_rule;
  std::map<std::string, Finding> by_outcome;
  for (std::size_t i = 0; i < s.attempts.size(); ++i) {
    const sim::Attempt& a = s.attempts[i];
    AttemptRow row;
    row.id = i + 1;
    row.start = us(a.start);
    for (const auto* d : syn_decisions[i]) {
      const auto act = d->decision.verdict.action;
      const bool answered = act == model::Action::SynAck || act == model::Action::CookieSynAck ||
                            act == model::Action::SynAckRetransmit || act == model::Action::Rst || act == model::Action::Ack;
      row.add_syn(us(d->decision.at), answered);
      if (row.answer == Answer::None && answered && act != model::Action::Ack) {
        row.answer_at = us(d->decision.at);
        row.answer = act == model::Action::Rst ? Answer::Rst
                     : act == model::Action::CookieSynAck ? Answer::CookieSynAck
                                                          : Answer::SynAck;
      }
    }
    if (row.kept == 0) row.add_syn(row.start, false);
    row.syns = static_cast<std::uint32_t>(std::max(a.syns_sent, 1));
    row.unanswered = static_cast<std::uint32_t>(a.syns_dropped);
    if (a.established_at) {
      row.end = us(*a.established_at);
      row.after = us(*a.established_at - a.start);
    } else if (a.ended_at) {
      row.end = us(*a.ended_at);
    }
    const bool late = a.outcome == sim::AttemptOutcome::Established && (a.syns_dropped > 0 || a.syns_sent > 1);
    const std::string outcome = late ? "established late" : std::string(sim::to_string(a.outcome));
    row.outcome = r.strings.id(outcome);
    row.lane = row.outcome;
    row.important = late || (a.outcome != sim::AttemptOutcome::Established && a.outcome != sim::AttemptOutcome::Pending);
    row.client = r.strings.id(a.local.addr.str());
    row.client_port = a.local.port;
    row.server = r.strings.id(a.remote.str());
    row.via = r.strings.id(a.seen_as ? fmt::format("{} as {}", a.client, a.seen_as->str()) : a.client);
    if (a.drop_rule) row.cause = r.strings.id(model::rule_info(*a.drop_rule).title);
    established += a.outcome == sim::AttemptOutcome::Established;
    failed += a.outcome == sim::AttemptOutcome::TimedOut || a.outcome == sim::AttemptOutcome::Refused ||
              a.outcome == sim::AttemptOutcome::Reset;
    dropped_syns += static_cast<std::uint64_t>(a.syns_dropped);

    if (a.drop_rule) {
      Finding& f = by_rule[*a.drop_rule];
      f.attempts.push_back(row.id);
      if (a.outcome != sim::AttemptOutcome::Established) f.severity = "critical";
      for (const auto* d : syn_decisions[i])
        if (d->decision.verdict.dropped()) {
          if (f.evidence.size() < 4)
            f.evidence.push_back(fmt::format("#{} {} at {}: {}", row.id, a.client, format_clock_time(s.wall(d->decision.at)),
                                             model::describe(d->decision.verdict)));
          break;
        }
    } else if (row.important) {
      Finding& f = by_outcome[outcome];
      f.attempts.push_back(row.id);
    }
    r.attempts.push_back(row);
  }
  r.column_labels = {{"via", "client (as the server sees it)"}, {"cause", "first drop rule"}};
  order_lanes(r, {"timed out (ETIMEDOUT)", "refused (RST)", "reset", "established late", "pending", "established"});

  for (auto& [rule, f] : by_rule) {
    const auto& info = model::rule_info(rule);
    std::uint64_t syns = 0;
    for (auto id : f.attempts) syns += s.attempts[id - 1].syns_dropped;
    if (f.severity.empty()) f.severity = "warning";
    f.title = fmt::format("{}: {} SYN{} silently dropped ({} attempt{})", info.title, syns, syns == 1 ? "" : "s",
                          f.attempts.size(), f.attempts.size() == 1 ? "" : "s");
    f.text = fmt::format("Listen-path rule {} ({}).{}", info.id, info.section,
                         f.severity == "critical" ? " Some of these attempts never connected." : " These attempts connected in the end, late.");
    r.findings.push_back(std::move(f));
  }
  for (auto& [outcome, f] : by_outcome) {
    f.severity = outcome == "established late" ? "warning" : "critical";
    f.title = fmt::format("{} attempt{} {}", f.attempts.size(), f.attempts.size() == 1 ? "" : "s", outcome);
    f.text = "No silent drop was recorded for these: see the explanation below.";
    r.findings.push_back(std::move(f));
  }
  if (!s.kernel_log.empty()) {
    Finding f;
    f.severity = "info";
    f.title = fmt::format("kernel log: {} line{}", s.kernel_log.size(), s.kernel_log.size() == 1 ? "" : "s");
    for (const auto& l : s.kernel_log) {
      if (f.evidence.size() >= 5) break;
      f.evidence.push_back(fmt::format("{} {}: {}", format_clock_time(s.wall(l.at)), s.hosts[static_cast<std::size_t>(l.host)].name, l.text));
    }
    r.findings.push_back(std::move(f));
  }

  // TSval picture: every SYN a listening host decided on, grouped by source address as the server
  // saw it and split by the host that really sent it (the simulator knows it even behind a NAT).
  std::map<std::string, TsAddress> ts;
  std::map<std::pair<std::string, std::string>, std::size_t> line_of;
  auto line = [&](const std::string& addr, const std::string& label) -> TsLine& {
    TsAddress& A = ts[addr];
    A.addr = addr;
    auto [it, fresh] = line_of.emplace(std::pair{addr, label}, A.lines.size());
    if (fresh) A.lines.push_back(TsLine{label, {}});
    return A.lines[it->second];
  };
  std::unordered_map<std::uint64_t, std::string> label_of_endpoint;  // the server's view of the sender
  auto client_label = [&](const sim::Attempt& a) { return fmt::format("{} ({})", a.client, a.local.addr.str()); };
  for (const auto& a : s.attempts) label_of_endpoint[endpoint_key(a.seen_as.value_or(a.local))] = client_label(a);
  for (const auto& d : s.decisions) {
    if (!servers.count(d.host) || !d.decision.has_ts || !syn_rule(d.decision.verdict.rule)) continue;
    const auto& remote = d.decision.tuple.remote;
    std::string label = d.attempt >= 0 ? client_label(s.attempts[static_cast<std::size_t>(d.attempt)]) : "other senders";
    line(remote.addr.str(), label)
        .points.push_back(TsPoint{us(d.decision.at), d.decision.tsval, static_cast<std::uint8_t>(d.decision.verdict.dropped() ? 1 : 0),
                                  d.attempt >= 0 ? d.attempt + 1 : -1});
  }
  std::set<std::uint32_t> remembered;  // addresses the server remembered a TSval of
  for (std::size_t k = 0; k < s.ts_memory.size(); ++k) {
    const auto& m = s.ts_memory[k];
    if (!servers.count(m.host)) continue;
    // A close updates the entry more than once within moments (the peer's FIN, then the reaped
    // TIME_WAIT, §7.2): only the entry as it was left is worth a band.
    const bool superseded = std::any_of(s.ts_memory.begin() + static_cast<std::ptrdiff_t>(k) + 1, s.ts_memory.end(), [&](const sim::TsMemoryEvent& n) {
      return n.host == m.host && n.closed.remote.addr == m.closed.remote.addr && n.at - m.at < seconds(1);
    });
    if (superseded) continue;
    const std::string addr = m.closed.remote.addr.str();
    remembered.insert(m.closed.remote.addr.value);
    ts[addr].addr = addr;
    ts[addr].bands.push_back(TsBand{
        us(m.at), us(m.at) + kPawsWindowUs, m.entry.ts,
        fmt::format("{} closed {} → {} first, so with tcp_tw_recycle it remembers the last TSval it got from {}: {} "
                    "(tcp_metrics, §7.2). For 60 s a SYN from {} with a smaller TSval is dropped without an answer (§7.3).",
                    s.hosts[static_cast<std::size_t>(m.host)].name, m.closed.local.str(), m.closed.remote.str(), addr,
                    m.entry.ts, addr)});
  }
  // The other segments the server received from those addresses show where the remembered TSval
  // came from (e.g. the NAT box's own sshd) and that every sender keeps its own clock.
  for (const auto& cp : s.captures) {
    const int h = s.host_index(cp.host);
    if (!servers.count(h)) continue;
    for (const auto& c : cp.segments) {
      const Segment& seg = c.seg;
      if (seg.dst.addr != cp.addr || seg.is_syn() || !remembered.count(seg.src.addr.value)) continue;
      const auto tso = seg.options.ts();
      if (!tso) continue;
      std::string label;
      if (auto it = label_of_endpoint.find(endpoint_key(seg.src)); it != label_of_endpoint.end()) {
        label = it->second;
      } else {
        label = seg.src.addr.str();
        for (const auto& host : s.hosts)
          if (host.addr == seg.src.addr) label = fmt::format("{} ({}), its own connection", host.name, host.addr.str());
      }
      line(seg.src.addr.str(), label).points.push_back(TsPoint{us(c.at), tso->val, 2, -1});
    }
  }
  for (auto& [addr, A] : ts) {
    if (A.lines.empty()) continue;
    if (A.bands.empty() && A.lines.size() == 1 && A.lines[0].points.size() < 3 &&
        std::none_of(A.lines[0].points.begin(), A.lines[0].points.end(), [](const TsPoint& p) { return p.kind == 1; }))
      continue;  // a sender with a SYN or two, all answered: nothing to see
    std::set<std::string> senders;
    for (const auto& l : A.lines) senders.insert(l.label);
    if (senders.size() > 1) A.note = fmt::format("{} senders share this address (NAT), each with its own TS clock", senders.size());
    for (auto& l : A.lines)
      std::stable_sort(l.points.begin(), l.points.end(), [](const TsPoint& x, const TsPoint& y) { return x.t < y.t; });
    r.ts.push_back(std::move(A));
  }
  order_ts(r.ts);
  r.ts_note = "From the simulator: every SYN the server decided on, labelled with the host that really sent it.";

  // Queues.
  std::map<std::pair<int, std::uint16_t>, QueueSeries> qs;
  for (const auto& q : s.queue_samples) {
    QueueSeries& Q = qs[{q.host, q.port}];
    Q.t.push_back(us(q.at));
    Q.q.push_back(q.q);
    Q.a.push_back(q.a);
  }
  for (auto& [key, Q] : qs) {
    const auto& host = s.hosts[static_cast<std::size_t>(key.first)];
    Q.host = host.name;
    Q.port = key.second;
    Q.source = "simulation";
    for (const auto& l : host.listeners)
      if (l.port == key.second) {
        Q.backlog = l.backlog;
        Q.syn_limit = l.table_size;
      }
    r.queues.push_back(std::move(Q));
  }
  if (s.queue_samples_capped) r.notes.push_back("Queue depths stop after the first 4 million changes.");
  if (r.queues.empty()) r.queues_note = "No listener in this scenario.";

  for (const auto& h : s.hosts) add_counters(r, h.name, h.counters);
  r.counters_title = "Counters at the end of the run (nstat names)";
  r.counter_columns = {"value"};
  r.explanation = sim::render_explanation(s);
  if (runs.size() > 1) {
    r.extra_title = "Variants (same scenario, other kernel or sysctls)";
    r.extra_text = sim::render_variant_table(runs);
  }
  r.summary = {{"scenario", sc.name},
               {"simulated", fmt::format("{:.3f} s from {} UTC", to_seconds(sc.duration), format_date_time(sc.start))},
               {"hosts", std::to_string(s.hosts.size())},
               {"attempts", std::to_string(s.attempts.size())},
               {"established", std::to_string(established)},
               {"failed", std::to_string(failed)},
               {"SYNs silently dropped", std::to_string(dropped_syns)}};
  for (const auto& a : s.adjustments) r.notes.push_back(a);
  return r;
}

// ------------------------------------------------------------------------------------------------
// Capture analysis

AnalysisCollector::AnalysisCollector(analyze::AddressNamer namer) : namer_(std::move(namer)) {
  by_cause_.resize(analyze::kCauseCount);
  report_.kind = "analyze";
}

void AnalysisCollector::add(const analyze::Attempt& a) {
  using analyze::Outcome;
  Report& r = report_;
  AttemptRow row;
  row.id = a.id;
  const std::int64_t start_ns = a.first_syn().unix_ns;
  first_ns_ = std::min(first_ns_, start_ns);
  // Absolute µs here; finish() moves them to the report's origin once the first packet is known.
  auto abs_us = [](WallTime t) { return t.unix_ns / 1000; };
  row.start = abs_us(a.first_syn());
  for (const auto* s = a.syns_begin(); s != a.syns_end(); ++s) row.add_syn(abs_us(s->at), s->answered);
  row.syns = a.syn_count;
  std::uint32_t unanswered = 0;
  for (const auto* s = a.syns_begin(); s != a.syns_end(); ++s) unanswered += !s->answered;
  if (a.syn_count > a.kept_syns() && !a.last_syn().answered) unanswered += a.syn_count - static_cast<std::uint32_t>(a.kept_syns());
  row.unanswered = unanswered;
  if (a.synack) {
    row.answer_at = abs_us(a.synack->at);
    row.answer = a.synack->cookie ? Answer::CookieSynAck : Answer::SynAck;
  } else if (a.answer_at) {
    row.answer_at = abs_us(*a.answer_at);
    row.answer = a.icmp ? Answer::Icmp : a.rsts ? Answer::Rst : Answer::None;
  }
  if (a.established_at)
    row.end = abs_us(*a.established_at);
  else if (a.answer_at)
    row.end = abs_us(*a.answer_at);
  else
    row.end = abs_us(a.last_syn().at);
  if (auto d = a.time_to_established()) row.after = d->count() / 1000;
  const std::string outcome = a.delayed() ? "established late" : std::string(analyze::to_string(a.outcome));
  row.outcome = r.strings.id(outcome);
  row.lane = row.outcome;
  row.important = a.delayed() || analyze::is_failure(a.outcome);
  const std::string client = namer_(a.client.addr);
  row.client = r.strings.id(client);
  row.client_port = a.client.port;
  row.server = r.strings.id(analyze::endpoint_text(a.server, namer_));
  if (a.ts_clock) row.via = r.strings.id(fmt::format("TS clock {}", a.ts_clock));
  if (!a.causes.empty()) {
    const auto& c = a.causes.front();
    row.cause = r.strings.id(analyze::title(c.kind));
    Finding& f = by_cause_[static_cast<std::size_t>(c.kind)];
    f.attempt_count++;
    if (f.attempts.size() < 20'000) f.attempts.push_back(a.id);
    if (f.evidence.size() < 3 && !c.evidence.empty()) f.evidence.push_back(fmt::format("#{}: {}", a.id, c.evidence.front()));
  }
  r.attempts.push_back(row);

  const std::uint32_t addr = row.client;
  for (const auto* s = a.syns_begin(); s != a.syns_end(); ++s)
    if (s->has_ts) points_.push_back(SynPoint{addr, a.ts_clock, s->answered, s->ts, s->at.unix_ns, a.id});
  if (a.server_memory) {
    const auto& m = *a.server_memory;
    const bool known = std::any_of(bands_.begin(), bands_.end(), [&](const Band& b) {
      return b.addr == addr && b.closed_at == m.closed_at.unix_ns && b.ts == m.peer_tsval;
    });
    if (!known)
      bands_.push_back(Band{addr, r.strings.id(namer_(m.server_side.addr)), m.closed_at.unix_ns, m.peer_tsval,
                            fmt::format("{} closed {} → {} first (frame {}); the last TSval it had received from {} was {}. "
                                        "With tcp_tw_recycle the server remembers it (tcp_metrics, §7.2) and for 60 s drops "
                                        "SYNs from {} whose TSval is smaller (§7.3).",
                                        analyze::endpoint_text(m.server_side, namer_), analyze::endpoint_text(m.server_side, namer_),
                                        analyze::endpoint_text(m.peer_side, namer_), m.frame, client, m.peer_tsval, client)});
  }
}

Report AnalysisCollector::finish(const analyze::AnalysisResult& res) {
  Report r = std::move(report_);
  r.title = "synscope analyze: " + res.input;
  r.subtitle = fmt::format("{} — why did these SYNs go unanswered?", res.format);
  r.t0 = res.tracker.any ? res.tracker.first : WallTime{first_ns_ == INT64_MAX ? 0 : first_ns_};
  const std::int64_t t0 = r.t0.unix_ns / 1000;
  for (auto& row : r.attempts) {
    row.start -= t0;
    if (row.end >= 0) row.end -= t0;
    if (row.answer_at >= 0) row.answer_at -= t0;
    for (std::uint8_t i = 0; i < row.kept; ++i) row.syn_at[i] -= t0;
  }
  r.attempts_total = r.attempts.size();
  r.column_labels = {{"via", "TS clock (behind its address)"}, {"cause", "likely cause"}};
  order_lanes(r, {"unanswered", "ack-ignored", "reset-after-ack", "refused", "unreachable", "synack-unacked",
                  "established late", "established", "completed-unseen", "capture-ended"});

  // TSval picture: per client address, one line per TS clock.
  std::unordered_map<std::uint32_t, std::size_t> addr_index;
  std::vector<std::map<std::uint16_t, TsLine>> lines;
  for (const auto& p : points_) {
    auto [it, fresh] = addr_index.emplace(p.addr, r.ts.size());
    if (fresh) {
      r.ts.push_back(TsAddress{r.strings.all()[p.addr], "", {}, {}});
      lines.emplace_back();
    }
    TsLine& l = lines[it->second][p.clock];
    if (l.label.empty()) l.label = p.clock ? fmt::format("TS clock {}", p.clock) : "TS clock ?";
    l.points.push_back(TsPoint{p.t / 1000 - t0, p.ts, static_cast<std::uint8_t>(p.answered ? 0 : 1), static_cast<std::int64_t>(p.attempt)});
  }
  // A newer close by the same server replaces what it remembered of the address (§7.2): each band
  // ends where the next one of its server begins.
  std::sort(bands_.begin(), bands_.end(), [](const Band& x, const Band& y) {
    return std::tie(x.addr, x.server, x.closed_at) < std::tie(y.addr, y.server, y.closed_at);
  });
  for (std::size_t k = 0; k < bands_.size(); ++k) {
    const Band& b = bands_[k];
    auto it = addr_index.find(b.addr);
    if (it == addr_index.end()) continue;  // no SYN with a TSval from it: nothing to compare
    std::int64_t until = b.closed_at + kPawsWindowUs * 1000;
    if (k + 1 < bands_.size() && bands_[k + 1].addr == b.addr && bands_[k + 1].server == b.server)
      until = std::min(until, bands_[k + 1].closed_at);
    r.ts[it->second].bands.push_back(TsBand{b.closed_at / 1000 - t0, until / 1000 - t0, b.ts, b.text});
  }
  for (std::size_t i = 0; i < r.ts.size(); ++i) {
    for (auto& [clock, l] : lines[i]) {
      std::sort(l.points.begin(), l.points.end(), [](const TsPoint& x, const TsPoint& y) { return x.t < y.t; });
      r.ts[i].lines.push_back(std::move(l));
    }
    if (r.ts[i].lines.size() > 1) r.ts[i].note = fmt::format("{} TS clocks behind this address (several hosts, or per-connection offsets)", r.ts[i].lines.size());
  }
  points_.clear();
  // Addresses that only ever sent one answered SYN say nothing; keep the picture to the telling ones.
  std::erase_if(r.ts, [](const TsAddress& a) {
    std::size_t n = 0, unanswered = 0;
    for (const auto& l : a.lines)
      for (const auto& p : l.points) n++, unanswered += p.kind == 1;
    return a.bands.empty() && a.lines.size() < 2 && unanswered == 0 && n < 3;
  });
  order_ts(r.ts);
  r.ts_note = "From the capture: SYNs of each client address, split into TS clocks by the analyzer (a clock is a run of TSvals advancing with time at 1000, 250 or 100 Hz).";

  for (std::size_t k = 0; k < by_cause_.size(); ++k) {
    Finding& f = by_cause_[k];
    if (!f.attempt_count) continue;
    const auto kind = static_cast<analyze::CauseKind>(k);
    f.severity = kind == analyze::CauseKind::PacketLoss ? "warning" : kind == analyze::CauseKind::Unexplained ? "info" : "critical";
    const auto& cc = res.causes[k];
    f.title = fmt::format("{}: {} attempt{} ({} SYN{} unanswered)", analyze::title(kind), f.attempt_count, f.attempt_count == 1 ? "" : "s",
                          cc.syns_lost, cc.syns_lost == 1 ? "" : "s");
    const auto sec = analyze::section(kind);
    f.text = sec.empty() ? "The most likely cause of these attempts' failure or delay." : fmt::format("Fact sheet {}.", sec);
    r.findings.push_back(std::move(f));
  }
  std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& x, const Finding& y) {
    auto rank = [](const std::string& s) { return s == "critical" ? 0 : s == "warning" ? 1 : 2; };
    return rank(x.severity) < rank(y.severity);
  });
  // Several TS clocks behind one address: one finding for all such addresses (a NAT'd capture has
  // thousands), its evidence the busiest, its link every attempt from them.
  if (!res.clocks.empty()) {
    Finding f;
    f.severity = "info";
    f.title = fmt::format("{} address{} with several TS clocks: hosts behind one address (NAT) or per-connection offsets",
                          res.clocks.size(), res.clocks.size() == 1 ? "" : "es");
    f.text = "Harmless by itself; with tcp_tw_recycle on the server, the clocks that are behind get dropped for 60 s after the server closes a connection to the address first (§7.3, §8).";
    std::unordered_map<std::uint32_t, bool> addrs;
    for (const auto& c : res.clocks) {
      const auto addr = r.strings.id(res.display(c.addr));
      addrs[addr] = true;
      if (f.evidence.size() < 5)
        f.evidence.push_back(fmt::format("{}: {} clocks over {} attempts", res.display(c.addr), c.clock_count, c.attempts));
    }
    for (const auto& row : r.attempts)
      if (addrs.count(row.client)) {
        f.attempt_count++;
        if (f.attempts.size() < 20'000) f.attempts.push_back(row.id);
      }
    r.findings.push_back(std::move(f));
  }

  const auto established = res.outcomes[static_cast<std::size_t>(analyze::Outcome::Established)];
  r.summary = {{"input", res.input},
               {"format", res.format},
               {"frames", std::to_string(res.frames)},
               {"span", fmt::format("{:.1f} s", res.tracker.any ? to_seconds(Duration{res.tracker.last.unix_ns - res.tracker.first.unix_ns}) : 0.0)},
               {"SYNs", std::to_string(res.tracker.syns)},
               {"attempts", std::to_string(res.tracker.attempts)},
               {"established", std::to_string(established)},
               {"of them late", std::to_string(res.delayed)},
               {"failed", std::to_string(res.failed)}};
  if (res.cookies) r.summary.emplace_back("SYN cookies", std::to_string(res.cookies));
  if (!res.stop_reason.empty()) r.notes.push_back("The capture ended early: " + res.stop_reason);
  r.queues_note = "A capture does not show the server's queues; `synscope sim` and `synscope lab` reports do.";
  r.counters_title = "Capture";
  r.counter_columns = {"count"};
  auto stat = [&](const char* name, std::uint64_t v) {
    if (v) r.counters.push_back({"capture", name, {static_cast<std::int64_t>(v)}});
  };
  stat("TCP segments", res.tracker.tcp);
  stat("ICMP errors", res.tracker.icmp);
  stat("SYN transmissions", res.tracker.syns);
  stat("duplicate SYN frames", res.tracker.duplicate_syns);
  stat("SYN-ACKs", res.tracker.synacks);
  stat("handshakes without their SYN", res.tracker.synack_without_syn);
  stat("connections without a handshake", res.tracker.midstream_flows);
  stat("frames out of time order", res.tracker.time_backwards);
  stat("TCP inside tunnels", res.tracker.tunnelled);
  return r;
}

// ------------------------------------------------------------------------------------------------
// Replay

Report from_replay(const analyze::ReplayResult& rr) {
  using analyze::SynAnswer;
  Report r;
  r.kind = "replay";
  r.title = "synscope replay: " + rr.input;
  r.subtitle = fmt::format("{} replayed through kernel model {}{}{}", rr.format, rr.profile ? std::string(rr.profile->name) : "?",
                           rr.sysctl_changes.empty() ? "" : " with ", fmt::format("{}", fmt::join(rr.sysctl_changes, " ")));
  r.t0 = rr.syns.empty() ? WallTime{} : rr.syns.front().at;
  for (const auto& s : rr.syns) r.t0.unix_ns = std::min(r.t0.unix_ns, s.at.unix_ns);
  for (const auto& m : rr.ts_memory) r.t0.unix_ns = std::min(r.t0.unix_ns, m.at.unix_ns);
  auto rel = [&](WallTime t) { return r.rel(t); };

  // Attempts: the SYNs of one client ISN (§9: retransmissions keep it).
  std::map<std::tuple<std::uint64_t, std::uint32_t>, std::size_t> attempt_of;
  std::vector<std::vector<const analyze::ReplaySyn*>> groups;
  for (const auto& s : rr.syns) {
    auto [it, fresh] = attempt_of.emplace(std::tuple{endpoint_key(s.client), s.isn}, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(&s);
  }
  // TS clocks per client address, separated by the analyzer's rule.
  std::map<std::uint32_t, std::vector<analyze::TsClock>> clocks;
  std::map<model::Rule, Finding> by_rule;
  Finding saved, lost;
  std::map<std::string, TsAddress> ts;
  std::map<std::pair<std::string, std::uint32_t>, std::size_t> line_of;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& syns = groups[g];
    const auto& first = *syns.front();
    AttemptRow row;
    row.id = g + 1;
    row.start = rel(first.at);
    bool cap_answered = false, model_answered = false, model_dropped_all = true, differs = false;
    std::optional<model::Rule> drop_rule;
    const analyze::ReplaySyn* drop_syn = nullptr;
    for (const auto* s : syns) {
      const bool answered = s->capture != SynAnswer::None;
      row.add_syn(rel(s->at), answered);
      row.unanswered += !answered;
      if (answered && row.answer == Answer::None && s->capture_delay) {
        row.answer_at = rel(s->at + *s->capture_delay);
        row.answer = s->capture == SynAnswer::Rst ? Answer::Rst : s->capture == SynAnswer::CookieSynAck ? Answer::CookieSynAck : Answer::SynAck;
      }
      cap_answered |= analyze::is_answered(s->capture);
      model_answered |= analyze::is_answered(s->model);
      model_dropped_all &= s->model_dropped();
      differs |= s->differs();
      if (s->model_dropped() && s->verdict && !drop_rule) {
        drop_rule = s->verdict->rule;
        drop_syn = s;
      }
    }
    row.syns = static_cast<std::uint32_t>(syns.size());
    row.end = row.answer_at >= 0 ? row.answer_at : rel(syns.back()->at);
    const auto last_cap = syns.back()->capture;
    std::string lane;
    if (!cap_answered && model_answered)
      lane = "unanswered, the model answers (saved)";
    else if (cap_answered && !model_answered && model_dropped_all)
      lane = "answered, the model drops (lost)";
    else if (last_cap == SynAnswer::Rst)
      lane = "refused (RST)";
    else if (!cap_answered)
      lane = "unanswered, the model drops too";
    else
      lane = row.unanswered ? "answered late" : "answered";
    row.lane = r.strings.id(lane);
    row.outcome = r.strings.id(fmt::format("capture: {}", analyze::to_string(last_cap)));
    row.model = r.strings.id(fmt::format("{}{}", analyze::to_string(syns.back()->model),
                                         syns.back()->verdict ? " (" + std::string(model::rule_info(syns.back()->verdict->rule).id) + ")" : ""));
    if (drop_rule) row.cause = r.strings.id(model::rule_info(*drop_rule).title);
    row.important = row.unanswered > 0 || differs;
    row.client = r.strings.id(first.client.addr.str());
    row.client_port = first.client.port;
    row.server = r.strings.id(first.server.str());

    if (drop_rule) {
      Finding& f = by_rule[*drop_rule];
      f.attempts.push_back(row.id);
      if (f.evidence.size() < 4 && drop_syn)
        f.evidence.push_back(fmt::format("#{} {} at {}: {}", row.id, first.client.str(), format_clock_time(drop_syn->at), model::describe(*drop_syn->verdict)));
    }
    if (!cap_answered && model_answered) saved.attempts.push_back(row.id);
    if (cap_answered && !model_answered && model_dropped_all) lost.attempts.push_back(row.id);

    // Clock and points.
    std::uint16_t clock_id = 0;
    if (first.tsval) {
      auto& cl = clocks[first.client.addr.value];
      for (auto& c : cl)
        if (analyze::continues_ts_clock(c, first.at.unix_ns, *first.tsval)) clock_id = static_cast<std::uint16_t>(c.id);
      if (!clock_id && cl.size() < 4096) {
        analyze::TsClock c;
        c.id = static_cast<std::uint32_t>(cl.size() + 1);
        cl.push_back(c);
        clock_id = static_cast<std::uint16_t>(c.id);
      }
      for (auto& c : cl)
        if (c.id == clock_id) {
          c.last_at = syns.back()->at;
          c.last_tsval = syns.back()->tsval.value_or(*first.tsval);
        }
      row.via = r.strings.id(fmt::format("TS clock {}", clock_id));
    }
    const std::string addr = first.client.addr.str();
    for (const auto* s : syns) {
      if (!s->tsval) continue;
      ts[addr].addr = addr;
      auto [it, fresh] = line_of.emplace(std::pair{addr, clock_id}, ts[addr].lines.size());
      if (fresh) ts[addr].lines.push_back(TsLine{fmt::format("TS clock {}", clock_id), {}});
      ts[addr].lines[it->second].points.push_back(
          TsPoint{rel(s->at), *s->tsval, static_cast<std::uint8_t>(s->capture == SynAnswer::None ? 1 : 0), static_cast<std::int64_t>(row.id)});
    }
    r.attempts.push_back(row);
  }
  for (std::size_t k = 0; k < rr.ts_memory.size(); ++k) {
    const auto& m = rr.ts_memory[k];
    const std::string addr = m.closed.remote.addr.str();
    if (!ts.count(addr)) continue;
    // Updated again within moments by the same close (§7.2): the band is the entry as it was left.
    if (k + 1 < rr.ts_memory.size() && rr.ts_memory[k + 1].closed.remote.addr == m.closed.remote.addr &&
        rr.ts_memory[k + 1].at.unix_ns - m.at.unix_ns < 1'000'000'000)
      continue;
    ts[addr].bands.push_back(TsBand{rel(m.at), rel(m.at) + kPawsWindowUs, m.entry.ts,
                                    fmt::format("In the model, the server closed {} → {} first; with tcp_tw_recycle it remembers TSval {} "
                                                "from {} (§7.2) and drops, for 60 s, SYNs from it whose TSval is smaller (§7.3).",
                                                m.closed.local.str(), m.closed.remote.str(), m.entry.ts, addr)});
  }
  for (auto& [addr, A] : ts) {
    if (A.lines.size() > 1) A.note = fmt::format("{} TS clocks behind this address", A.lines.size());
    r.ts.push_back(std::move(A));
  }
  order_ts(r.ts);
  r.ts_note = "SYNs from the capture, split into TS clocks by the analyzer's rule; red marks what the capture shows unanswered. The band is what the model's tcp_metrics remembered.";
  r.column_labels = {{"outcome", "capture"}, {"model", "model"}, {"cause", "model's drop rule"}, {"via", "TS clock"}};
  order_lanes(r, {"unanswered, the model answers (saved)", "answered, the model drops (lost)", "unanswered, the model drops too",
                  "refused (RST)", "answered late", "answered"});
  for (auto& [rule, f] : by_rule) {
    const auto& info = model::rule_info(rule);
    f.severity = "critical";
    f.title = fmt::format("the model drops SYNs of {} attempt{}: {}", f.attempts.size(), f.attempts.size() == 1 ? "" : "s", info.title);
    f.text = fmt::format("Listen-path rule {} ({}).", info.id, info.section);
    r.findings.push_back(std::move(f));
  }
  if (!saved.attempts.empty()) {
    saved.severity = "warning";
    saved.title = fmt::format("{} attempt{} unanswered in the capture would have been answered by this model", saved.attempts.size(),
                              saved.attempts.size() == 1 ? "" : "s");
    saved.text = "The model with these settings sends a SYN-ACK where the capture shows nothing: the settings are a fix worth trying.";
    r.findings.push_back(std::move(saved));
  }
  if (!lost.attempts.empty()) {
    lost.severity = "warning";
    lost.title = fmt::format("{} attempt{} answered in the capture would be dropped by this model", lost.attempts.size(), lost.attempts.size() == 1 ? "" : "s");
    lost.text = "The model drops SYNs the real server answered.";
    r.findings.push_back(std::move(lost));
  }
  const auto sum = rr.summary();
  r.summary = {{"input", rr.input},
               {"server", rr.server.str() + (rr.port ? ":" + std::to_string(*rr.port) : "")},
               {"model", rr.profile ? std::string(rr.profile->name) : "?"},
               {"listen()", fmt::format("backlog {} → B = {}", rr.backlog_requested, rr.backlog)},
               {"SYNs", std::to_string(sum.syns)},
               {"unanswered in the capture", std::to_string(sum.unanswered)},
               {"dropped by the model", std::to_string(sum.model_dropped)},
               {"saved by the model", std::to_string(sum.saved)}};
  for (const auto& n : rr.notes) r.notes.push_back(n);
  r.queues_note = "The replay does not sample the model's queues; `synscope sim` and `synscope lab` reports do.";
  add_counters(r, "model", rr.counters);
  r.counters_title = "The model's counters over the replay";
  r.counter_columns = {"value"};
  return r;
}

// ------------------------------------------------------------------------------------------------
// Lab

Report from_lab(const lab::LabReport& lab, Report r) {
  r.kind = "lab";
  r.title = "synscope lab: " + lab.scenario;
  r.subtitle = fmt::format("on the real kernel {} in network namespaces, against the model ({})", lab.uname, lab.kernel);
  r.summary.insert(r.summary.begin(), {{"scenario", lab.scenario}, {"kernel", lab.uname}, {"result", lab.agrees() ? "the model agrees with the kernel" : "the model DISAGREES with the kernel"}});
  r.counters.clear();
  r.counters_title = "Counters (delta over the run, per namespace)";
  r.counter_columns = {"lab", "model"};
  for (const auto& c : lab.counters)
    r.counters.push_back({c.host, model::nstat_name(c.counter), {static_cast<std::int64_t>(c.lab), static_cast<std::int64_t>(c.model)}});
  Finding disagree;
  disagree.severity = "critical";
  for (const auto& c : lab.counters)
    if (!c.agrees()) disagree.evidence.push_back(fmt::format("{} {}: lab {}, model {}", c.host, model::nstat_name(c.counter), c.lab, c.model));
  for (const auto& a : lab.attempts)
    if (!a.agrees) disagree.evidence.push_back(fmt::format("attempt of {}: the lab and the model differ", a.client));
  for (const auto& l : lab.listeners)
    if (!l.agrees()) disagree.evidence.push_back(fmt::format("{}:{} accept queue at the end: lab {}, model {}", l.host, l.port, l.lab_a, l.model_a));
  if (!disagree.evidence.empty()) {
    disagree.title = "the model disagrees with the kernel";
    disagree.text = "See the comparison below (docs/lab.md).";
    r.findings.insert(r.findings.begin(), std::move(disagree));
  } else {
    Finding ok;
    ok.severity = "info";
    ok.title = "the model agrees with the kernel: attempts, counters and queues";
    r.findings.insert(r.findings.begin(), std::move(ok));
  }
  if (lab.model_run) {
    Report model = from_sim({sim::VariantRun{"model", *lab.model_run}});
    // The model's times count from the scenario's t=0, the capture's from its first packet; the lab
    // starts its capture just before the scenario's first step, so both are drawn from the same origin.
    for (auto& q : model.queues) {
      q.source = "model (the simulator's run of this scenario on " + lab.kernel + ")";
      for (const auto& l : lab.listeners)
        if (l.host == q.host && l.port == q.port) {
          q.measured_a = l.lab_a;
          q.measured_q = l.lab_q;
        }
      r.queues.push_back(std::move(q));
    }
    if (!r.queues.empty())
      r.queues_note = "Queue depths over time are the model's; the lab's own values, read with sock_diag at the end of the run, are the diamonds.";
  }
  r.extra_title = "The lab against the model";
  r.extra_text = lab.text();
  for (const auto& n : lab.notes) r.notes.push_back(n);
  return r;
}

}  // namespace synscope::report
