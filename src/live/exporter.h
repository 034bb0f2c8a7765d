#pragma once
// `synscope exporter`: the doctor's numbers as Prometheus metrics, for fleets. Each scrape reads the
// host (or one network namespace) afresh — counters, sysctls, listeners through sock_diag — pairs it
// with the previous scrape's sample for the findings' rates, and returns metric families built for
// that scrape (prometheus-cpp Collectable). Metric names and labels: docs/exporter.md.
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "live/findings.h"
#include "live/snapshot.h"

namespace synscope::live {

struct ExporterOptions {
  std::string netns;             // /run/netns/NAME, or "" for our own
  // A scrape's findings compare it with a sample at least this old (rates need a window); scrapes
  // closer together than this reuse the older baseline.
  double min_window_s = 5;
  // Listener owners come from a cache refreshed in the background at most this often: reading
  // /proc/*/fd costs ~4 µs per open fd (sock_diag.h), too much to pay inside a scrape.
  double owner_refresh_s = 30;
};

// Extra metric families contributed by another part of synscope (e.g. traced drops by cause);
// called at every scrape, outside the collector's lock.
using ExtraMetrics = std::function<std::vector<prometheus::MetricFamily>()>;

class ListenPathCollector : public prometheus::Collectable {
 public:
  explicit ListenPathCollector(ExporterOptions options);
  ~ListenPathCollector() override;
  ListenPathCollector(const ListenPathCollector&) = delete;
  ListenPathCollector& operator=(const ListenPathCollector&) = delete;

  std::vector<prometheus::MetricFamily> Collect() const override;
  // The same scrape as text, straight into `out` (the /metrics fast path; same output as
  // render_exposition(Collect()) for the same host state).
  void write_exposition(std::string& out) const;
  void add_extra(ExtraMetrics extra);
  // Starts the background owner refresh (the first refresh runs at once).
  void start_owner_refresh();

 private:
  struct Baseline {
    CounterSample sample;
    std::vector<Listener> listeners;
  };
  HostSnapshot scrape_snapshot() const;
  // Reads the host and appends every family except the per-listener ones and the duration; false
  // (with synscope_scrape_error appended) when the host could not be read.
  bool read_host(HostSnapshot& snap, Diagnosis& d, std::vector<prometheus::MetricFamily>& out) const;
  void refresh_owners();

  ExporterOptions options_;
  mutable std::mutex mutex_;
  mutable std::optional<Baseline> baseline_;
  mutable std::map<std::uint64_t, std::vector<ListenerOwner>> owners_;  // by socket inode
  std::vector<ExtraMetrics> extras_;
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread owner_thread_;
};

// The Prometheus text format (0.0.4) of gauges, counters and untyped metrics, appended to `out`.
// Our own rather than prometheus::TextSerializer for speed: at 10,000 listeners (50,000 samples) the
// library's std::ostream-based serializer took 37 ms of a scrape, this one a few (bench/README.md);
// tests/live/exporter_test.cpp checks that both produce the same samples.
void append_exposition(std::string& out, const std::vector<prometheus::MetricFamily>& families);
// The per-listener families (accept queue, backlog, SYN_RECV, drops, owner info), and the same as
// text written directly (what write_exposition uses).
std::vector<prometheus::MetricFamily> listener_metric_families(const HostSnapshot& snap);
void append_listener_exposition(std::string& out, const HostSnapshot& snap);
// One scrape as text (what `synscope exporter --once` prints).
std::string render_exposition(const std::vector<prometheus::MetricFamily>& families);

}  // namespace synscope::live
