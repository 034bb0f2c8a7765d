#include "live/trace/trace_findings.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace synscope::live::trace {

Finding traced_drops_finding(const SynTracer& t, const std::vector<TraceEvent>& events, double seconds) {
  Finding f;
  f.id = "traced-drops";
  const auto drops = t.drops_by_cause();
  std::uint64_t total = 0;
  for (const auto& d : drops) total += d.count;
  f.severity = total ? Severity::Critical : Severity::Info;
  f.title = total ? fmt::format("traced {} refused handshake segments over {:.1f} s (synscope trace)", total, seconds)
                  : fmt::format("traced {} handshake segments over {:.1f} s: none refused (synscope trace)",
                                t.tally().segments, seconds);
  for (const auto& d : drops) f.evidence.push_back(fmt::format("{}: {} ({})", d.cause, d.count, d.section));
  std::map<std::string, std::uint64_t> per_listener;
  for (const auto& e : events)
    if (e.dropped() || e.predicted.action == model::Action::Rst)
      ++per_listener[(e.listener ? e.listener->str() : e.local.str()) + (e.process.empty() ? "" : " " + e.process)];
  for (const auto& [l, n] : per_listener) f.evidence.push_back(fmt::format("{}: {} refused", l, n));
  f.evidence.push_back(fmt::format("predictions confirmed by what left the host: {} contradicted of {} judged",
                                   t.tally().contradicted, t.tally().segments));
  f.explanation = "Each SYN and final ACK was seen arriving (TC ingress), the listener's queues read before the kernel "
                  "decided, the decision predicted with the model's rules (§3, §5.2, §10) and checked against the "
                  "SYN-ACK, RST or silence that followed (docs/trace.md).";
  f.fix = total ? "see the finding for the cause named above (accept_queue_full: accept faster or raise the backlog, §6.1; "
                  "syn_queue_full_drop: enable tcp_syncookies or raise the backlog, §6.3, §10)"
                : "";
  return f;
}

TraceWindow::TraceWindow(const std::string& duration, const std::string& netns) {
  const auto span = parse_trace_duration(duration);
  seconds_ = static_cast<double>(span.count()) / 1000.0;
  TraceOptions o;
  o.netns = netns;
  tracer_ = std::make_unique<SynTracer>(o);
  tracer_->start();
  poller_ = std::thread([this, span] {
    const auto end = std::chrono::steady_clock::now() + span;
    while (!cancel_ && std::chrono::steady_clock::now() < end)
      for (auto& e : tracer_->poll(100)) events_.push_back(std::move(e));
  });
}

TraceWindow::~TraceWindow() {
  cancel_ = true;
  if (poller_.joinable()) poller_.join();
}

Finding TraceWindow::finish() {
  if (poller_.joinable()) poller_.join();
  for (auto& e : tracer_->stop()) events_.push_back(std::move(e));
  return traced_drops_finding(*tracer_, events_, seconds_);
}

void add_finding(Diagnosis& d, Finding f) {
  auto rank = [](Severity s) { return s == Severity::Critical ? 0 : s == Severity::Warning ? 1 : 2; };
  auto at = std::find_if(d.findings.begin(), d.findings.end(), [&](const Finding& g) { return rank(g.severity) > rank(f.severity); });
  d.findings.insert(at, std::move(f));
}

}  // namespace synscope::live::trace
