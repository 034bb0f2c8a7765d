#pragma once
// The tracer's drops by cause as exporter metrics: `synscope exporter --trace` runs a SynTracer on a
// thread of its own (SynTracer is single-threaded: only that thread polls it) and each scrape reads
// the latest counts, as synscope_trace_drops_total{cause,section} (docs/exporter.md).
#include <prometheus/metric_family.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "live/trace/syn_tracer.h"

namespace synscope::live::trace {

class TracedDropsMetrics {
 public:
  // Starts the tracer (throws TraceUnavailable with the reason) and its polling thread.
  explicit TracedDropsMetrics(TraceOptions options);
  ~TracedDropsMetrics();  // stops polling, then detaches the tracer (removing what it added to tc)
  TracedDropsMetrics(const TracedDropsMetrics&) = delete;
  TracedDropsMetrics& operator=(const TracedDropsMetrics&) = delete;

  std::string path() const { return path_; }  // "tc+raw_tracepoint" or "sampling"
  std::vector<prometheus::MetricFamily> families() const;

 private:
  SynTracer tracer_;
  std::string path_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<CauseDrops> latest_;
  std::uint64_t contradictions_ = 0;
  std::thread poller_;
};

}  // namespace synscope::live::trace
