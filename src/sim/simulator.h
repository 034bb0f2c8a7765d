#pragma once
// Deterministic discrete-event simulation of a scenario (sim/scenario.h): every host runs a
// model::HostStack, segments travel over links with fixed latency, NAT boxes translate like
// netfilter, and small applications (server, clients, the seed's connect-and-close step, an L7
// proxy, a spoofed SYN flood) drive the stacks. Same scenario + seed ⇒ identical result.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/segment.h"
#include "core/time.h"
#include "model/counters.h"
#include "model/host_stack.h"
#include "model/sysctls.h"
#include "sim/scenario.h"

namespace synscope::sim {

struct CapturedSegment {
  SimTime at;
  Segment seg;
};

struct CapturePoint {
  std::string name;
  std::string host;
  Ipv4Addr addr;
  std::vector<CapturedSegment> segments;
};

struct HostDecision {
  int host = -1;
  int attempt = -1;  // the client attempt this decision concerns, when known
  model::Decision decision;
};

enum class AttemptOutcome { Pending, Established, TimedOut, Refused, Reset };
std::string_view to_string(AttemptOutcome o);

struct Attempt {
  std::string client;        // client label
  int host = -1;             // client host index
  Endpoint local;            // client's own address:port
  Endpoint remote;           // what it dialled
  std::optional<Endpoint> seen_as;  // its source after NAT, as the server sees it
  SimTime start{};
  std::optional<SimTime> established_at;
  std::optional<SimTime> ended_at;  // failure time
  AttemptOutcome outcome = AttemptOutcome::Pending;
  int syns_sent = 0;
  int syns_dropped = 0;      // silent drops decided by the peer's listen path
  std::optional<model::Rule> drop_rule;  // first silent-drop rule seen
};

struct HostResult {
  std::string name;
  Ipv4Addr addr;
  std::string kernel;
  model::Sysctls sysctls;
  model::CounterSet counters;
  std::vector<model::TcpMetrics::Row> metrics;
  std::vector<model::ListenerSnapshot> listeners;
  bool is_nat = false;
};

struct TsMemoryEvent {
  SimTime at;
  int host = -1;
  FourTuple closed;          // the connection whose close recorded it
  model::TsMemory entry;     // the entry afterwards
};

struct KernelLogLine {
  SimTime at;
  int host = -1;
  std::string text;
};

// The depth of one listener's queues whenever an event changed it (SimOptions::queue_samples).
struct QueueSample {
  SimTime at;
  int host = -1;
  std::uint16_t port = 0;
  int q = 0, a = 0;  // SYN queue (requests) and accept queue (§6)
};

struct SimResult {
  std::shared_ptr<const Scenario> scenario;
  std::vector<HostResult> hosts;
  std::vector<CapturePoint> captures;
  std::vector<HostDecision> decisions;
  std::vector<Attempt> attempts;
  std::vector<TsMemoryEvent> ts_memory;
  std::vector<KernelLogLine> kernel_log;
  std::vector<QueueSample> queue_samples;  // empty unless SimOptions::queue_samples
  bool queue_samples_capped = false;       // stopped at kMaxQueueSamples
  static constexpr std::size_t kMaxQueueSamples = 4'000'000;
  std::uint64_t segments_sent = 0;     // transmissions by stacks, NAT forwards and flood sources
  std::uint64_t segments_delivered = 0;
  std::uint64_t segments_blackholed = 0;  // addressed to nobody (e.g. SYN-ACKs to spoofed sources)
  std::uint64_t events = 0;
  std::size_t peak_live_sockets = 0;
  // Things the run changed about the scenario, e.g. a sysctl the --kernel override lacks.
  std::vector<std::string> adjustments;

  int host_index(const std::string& name) const;
  WallTime wall(SimTime t) const { return scenario->start + t; }
};

struct SimOptions {
  bool capture = true;               // record capture points
  bool decisions = true;             // record every listen-path decision
  bool track_attempts = true;        // per-attempt bookkeeping
  bool queue_samples = false;        // record listener queue depths as they change (HTML reports)
  std::optional<std::string> kernel; // override every host's kernel profile
  std::vector<std::string> sysctls;  // "name=value" for every host, or "host:name=value"
  std::optional<std::uint64_t> seed; // override the scenario seed
};

// Runs the scenario to its duration. Throws UsageError for invalid profiles/sysctls/references.
SimResult simulate(const Scenario& scenario, const SimOptions& options = {});

}  // namespace synscope::sim
