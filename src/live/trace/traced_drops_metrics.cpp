#include "live/trace/traced_drops_metrics.h"

#include <chrono>

namespace synscope::live::trace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

TracedDropsMetrics::TracedDropsMetrics(TraceOptions options) : tracer_(std::move(options)) {
  tracer_.start();
  path_ = tracer_.probe().path;
  poller_ = std::thread([this] {
    while (!stopping_) {
      tracer_.poll(100);  // events are judged inside; the counts are what the exporter needs
      auto drops = tracer_.drops_by_cause();
      std::lock_guard lock(mutex_);
      latest_ = std::move(drops);
      contradictions_ = tracer_.tally().contradicted;
    }
  });
}

TracedDropsMetrics::~TracedDropsMetrics() {
  stopping_ = true;
  if (poller_.joinable()) poller_.join();
  tracer_.stop();
}

std::vector<MetricFamily> TracedDropsMetrics::families() const {
  std::vector<MetricFamily> out(3);
  out[0] = {"synscope_trace_drops_total",
            "SYNs and final ACKs the listen path dropped or reset, by the model's cause, as traced since the exporter "
            "started (docs/trace.md)",
            MetricType::Counter,
            {}};
  out[1] = {"synscope_trace_contradictions_total",
            "Traced predictions that what left the host contradicted (docs/trace.md: reported, never hidden)",
            MetricType::Counter,
            {}};
  out[2] = {"synscope_trace_info", "The tracing path in use (1)", MetricType::Gauge, {}};
  std::lock_guard lock(mutex_);
  for (const auto& c : latest_) {
    ClientMetric m;
    m.label = {{"cause", c.cause}, {"section", c.section}};
    m.counter.value = static_cast<double>(c.count);
    out[0].metric.push_back(std::move(m));
  }
  ClientMetric contradictions;
  contradictions.counter.value = static_cast<double>(contradictions_);
  out[1].metric.push_back(std::move(contradictions));
  ClientMetric info;
  info.label = {{"path", path_}};
  info.gauge.value = 1;
  out[2].metric.push_back(std::move(info));
  return out;
}

}  // namespace synscope::live::trace
