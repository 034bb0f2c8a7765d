#include "live/trace/trace_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace synscope::live::trace {

namespace {

std::string confirmation_text(const TraceEvent& e) {
  switch (e.confirmation) {
    case Confirmation::Confirmed: return fmt::format("confirmed: {} left", to_string(e.observed));
    case Confirmation::Contradicted: return fmt::format("CONTRADICTED: {}", e.note);
    case Confirmation::NotJudged: return fmt::format("not judged: {}", e.note);
    case Confirmation::Pending: return "pending";
  }
  return "";
}

bool refused(const TraceEvent& e) {
  return e.predicted.action == model::Action::Drop || e.predicted.action == model::Action::Rst;
}

}  // namespace

std::string event_text(const TraceEvent& e, std::int64_t t0_ns) {
  std::string who;
  if (!e.process.empty()) who = fmt::format(" [{}]", e.process);
  std::string note = e.confirmation == Confirmation::Confirmed && !e.note.empty() ? fmt::format(" ({})", e.note) : "";
  return fmt::format("{:+.6f} {} {} → {}{} {} [{}]{}", static_cast<double>(e.at_ns - t0_ns) / 1e9, to_string(e.kind),
                     e.peer.str(), e.local.str(), who, e.summary(), confirmation_text(e), note);
}

nlohmann::json event_json(const TraceEvent& e, std::int64_t t0_ns) {
  const auto& ev = e.predicted.evidence;
  nlohmann::json j = {
      {"type", "event"},
      {"id", e.id},
      {"t", static_cast<double>(e.at_ns - t0_ns) / 1e9},
      {"monotonic_ns", e.at_ns},
      {"segment", to_string(e.kind)},
      {"peer", e.peer.str()},
      {"local", e.local.str()},
      {"seq", e.seq},
      {"predicted", model::to_string(e.predicted.action)},
      {"dropped", e.dropped()},
      {"cause", e.cause()},
      {"section", model::rule_info(e.predicted.rule).section},
      {"explanation", e.summary()},
      {"confirmation", to_string(e.confirmation)},
      {"observed", to_string(e.observed)},
  };
  if (e.has_ts) j["tsval"] = e.tsval;
  if (e.listener) j["listener"] = e.listener->str();
  if (!e.process.empty()) j["process"] = e.process;
  if (!e.note.empty()) j["note"] = e.note;
  nlohmann::json q = nlohmann::json::object();
  if (ev.a >= 0) q["accept_queue"] = ev.a;
  if (ev.b >= 0) q["backlog"] = ev.b;
  if (ev.q >= 0) q["syn_queue"] = ev.q;
  if (ev.cap >= 0) q["syn_queue_cap"] = ev.cap;
  if (ev.young >= 0) q["young"] = ev.young;
  if (!q.empty()) j["queues"] = q;
  return j;
}

std::string probe_text(const SynTracer& t) {
  const auto& p = t.probe();
  const auto& o = t.options();
  std::string where = o.netns.empty() ? "this namespace" : "namespace " + o.netns;
  if (t.mode() == Mode::Sampling)
    return fmt::format("synscope trace: fallback mode (counters and sock_diag listeners, no per-SYN events) in {}{}", where,
                       o.port ? fmt::format(", port {}", o.port) : "");
  // Which hooks are attached where: both directions on ordinary devices; ingress alone on a
  // loopback device, where what leaves is seen coming back in.
  std::string both, single;
  for (const auto& i : p.interfaces) {
    auto& list = std::find(p.ingress_only.begin(), p.ingress_only.end(), i) != p.ingress_only.end() ? single : both;
    list += (list.empty() ? "" : ", ") + i;
  }
  std::string hooks;
  if (!both.empty() || single.empty())
    hooks = fmt::format("TC ingress/egress ({}) on {}", p.tc_hook, both.empty() ? "no interface" : both);
  if (!single.empty())
    hooks += fmt::format("{}TC ingress only ({}; loopback: egress seen at ingress) on {}", hooks.empty() ? "" : ", ",
                         p.tc_hook, single);
  return fmt::format("synscope trace: {} + raw tracepoint tcp_retransmit_synack in {}{} (fentry: {}; kprobes: {})", hooks,
                     where, o.port ? fmt::format(", port {}", o.port) : "", p.fentry, p.kprobe);
}

std::string summary_text(const SynTracer& t) {
  std::string out;
  const auto& tally = t.tally();
  if (t.mode() == Mode::Bpf) {
    out += fmt::format("traced {} handshake segments", tally.segments);
    std::vector<std::string> parts;
    for (const auto& [action, n] : tally.by_action) parts.push_back(fmt::format("{} {}", n, model::to_string(action)));
    if (!parts.empty()) {
      out += ": ";
      for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
    }
    out += fmt::format("; {} SYN-ACK retransmissions (§5.3)\n", tally.synack_retransmits);
  }
  auto drops = t.drops_by_cause();
  if (drops.empty()) {
    out += "drops by cause: none\n";
  } else {
    out += "drops by cause:\n";
    for (const auto& d : drops) out += fmt::format("  {:<24} {:>8}  ({})\n", d.cause, d.count, d.section);
  }
  if (t.mode() == Mode::Bpf) {
    if (tally.contradicted)
      out += fmt::format("{} predictions CONTRADICTED by what left the host (see the events marked CONTRADICTED)\n",
                         tally.contradicted);
    else
      out += "every judged prediction was confirmed by what left the host\n";
    auto checks = t.counter_checks();
    if (!checks.empty()) {
      out += "counters (namespace-wide delta) against the traced decisions:\n";
      for (const auto& c : checks)
        out += fmt::format("  {:<22} kernel {:>8}  traced {:>8}  {}\n", model::counter_info(c.counter).field, c.kernel,
                           c.predicted, c.agrees() ? "agree" : "DIFFER");
      bool differ = std::any_of(checks.begin(), checks.end(), [](const auto& c) { return !c.agrees(); });
      if (differ)
        out += t.options().port || !t.options().iface.empty()
                   ? "  (the counters cover the whole namespace; the trace only --port/--iface)\n"
                   : "  (a difference means segments the trace did not see, or a decision the model did not predict)\n";
    }
    if (auto lost = t.lost()) out += fmt::format("{} records lost (ring buffer full): the trace is incomplete\n", lost);
  }
  return out;
}

nlohmann::json summary_json(const SynTracer& t) {
  nlohmann::json j = {{"type", "summary"}, {"schema", "synscope.trace/1"}, {"path", t.probe().path}};
  const auto& tally = t.tally();
  j["segments"] = tally.segments;
  j["contradicted"] = tally.contradicted;
  j["synack_retransmits"] = tally.synack_retransmits;
  j["lost"] = t.lost();
  j["fentry"] = t.probe().fentry;
  j["kprobe"] = t.probe().kprobe;
  j["tc_hook"] = t.probe().tc_hook;
  j["interfaces"] = t.probe().interfaces;
  j["ingress_only"] = t.probe().ingress_only;
  nlohmann::json drops = nlohmann::json::array();
  for (const auto& d : t.drops_by_cause()) drops.push_back({{"cause", d.cause}, {"section", d.section}, {"count", d.count}});
  j["drops_by_cause"] = drops;
  nlohmann::json counters = nlohmann::json::array();
  for (const auto& c : t.counter_checks())
    counters.push_back({{"name", model::counter_info(c.counter).field}, {"kernel", c.kernel}, {"traced", c.predicted}});
  j["counters"] = counters;
  return j;
}

void TopTables::add(const TraceEvent& e) {
  auto bump = [&](Row& r) {
    ++r.segments;
    switch (e.predicted.action) {
      case model::Action::SynAck:
      case model::Action::SynAckRetransmit:
      case model::Action::ChildCreated: ++r.answered; break;
      case model::Action::CookieSynAck: ++r.cookies; break;
      case model::Action::Drop: ++r.dropped; break;
      case model::Action::Rst: ++r.resets; break;
      default: break;
    }
    if (refused(e)) ++r.causes[std::string(e.cause())];
  };
  bump(by_listener_[e.listener ? ListenerKey{e.listener, {}, e.process} : ListenerKey{std::nullopt, e.local, {}}]);
  bump(by_client_[e.peer.addr]);
}

std::string TopTables::text(std::size_t max_rows) const {
  auto table = [&](const char* title, const std::map<std::string, Row>& rows) {
    std::vector<std::pair<std::string, Row>> sorted(rows.begin(), rows.end());
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.second.dropped + a.second.resets != b.second.dropped + b.second.resets
                 ? a.second.dropped + a.second.resets > b.second.dropped + b.second.resets
                 : a.second.segments > b.second.segments;
    });
    std::string out = fmt::format("{:<44} {:>8} {:>8} {:>8} {:>8} {:>6}  {}\n", title, "segments", "answered", "cookies",
                                  "dropped", "RST", "top cause");
    for (std::size_t i = 0; i < sorted.size() && i < max_rows; ++i) {
      const auto& [key, r] = sorted[i];
      std::string top;
      std::uint64_t best = 0;
      for (const auto& [c, n] : r.causes)
        if (n > best) best = n, top = fmt::format("{} ×{}", c, n);
      out += fmt::format("{:<44} {:>8} {:>8} {:>8} {:>8} {:>6}  {}\n", key, r.segments, r.answered, r.cookies, r.dropped,
                         r.resets, top);
    }
    if (sorted.size() > max_rows) out += fmt::format("… {} more\n", sorted.size() - max_rows);
    return out;
  };
  std::map<std::string, Row> listeners, clients;
  for (const auto& [k, r] : by_listener_)
    listeners[k.listener ? k.listener->str() + (k.process.empty() ? "" : " " + k.process) : k.local.str() + " (no listener)"] = r;
  for (const auto& [a, r] : by_client_) clients[a.str()] = r;
  return table("listener", listeners) + "\n" + table("client address", clients);
}

}  // namespace synscope::live::trace
