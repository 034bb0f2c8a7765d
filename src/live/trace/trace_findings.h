#pragma once
// `synscope doctor --trace D`: the traced drops of a window as one more finding, next to what the
// counters and listeners say (the doctor's evidence is namespace-wide; this names causes per SYN).
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "live/findings.h"
#include "live/trace/syn_tracer.h"

namespace synscope::live::trace {

// The finding "traced-drops": drops by cause with their sections, the listeners they hit, and how
// many predictions the wire contradicted. Critical when anything was refused.
Finding traced_drops_finding(const SynTracer& t, const std::vector<TraceEvent>& events, double seconds);

// Inserts `f` among `d.findings` keeping the most severe first.
void add_finding(Diagnosis& d, Finding f);

// Traces a namespace for a duration on a thread of its own while the caller does something else
// (the doctor takes its samples meanwhile).
class TraceWindow {
 public:
  // Starts tracing (throws TraceUnavailable or UsageError for a bad duration).
  TraceWindow(const std::string& duration, const std::string& netns);
  ~TraceWindow();
  TraceWindow(const TraceWindow&) = delete;
  TraceWindow& operator=(const TraceWindow&) = delete;
  // Waits until the duration has passed, stops tracing, returns the finding.
  Finding finish();

 private:
  std::unique_ptr<SynTracer> tracer_;
  std::vector<TraceEvent> events_;
  double seconds_ = 0;
  std::atomic<bool> cancel_{false};
  std::thread poller_;
};

}  // namespace synscope::live::trace
