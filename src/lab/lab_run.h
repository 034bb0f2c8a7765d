#pragma once
// One lab run: build the scenario's topology (topology.h), run synscope's applications in it in real
// time (apps.h), capture on the server side, read counter deltas and listener queues per namespace,
// then run the same scenario through the simulator with the profile of the running kernel
// (model::newest_profile(), 6.18, §17) and compare them attempt by attempt and counter by counter.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lab/apps.h"
#include "model/counters.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace synscope::lab {

class LabTopology;

struct LabOptions {
  std::string out_dir;  // captures (<capture>.pcap) go here; created if missing; required
  std::function<void(const std::string&)> progress;  // one line per step; may be empty
  // Observers of the run (e.g. `synscope trace` attached in the server's namespace): called once
  // the namespaces exist and before any application or capture starts, and once the captures have
  // stopped while every namespace and socket still exists. Either may be empty.
  std::function<void(const LabTopology&)> on_ready;
  std::function<void()> on_captured;
};

// What the server-side capture shows of one attempt's SYNs (§9: the client keeps the ISN).
struct WireSyns {
  int sent = 0;      // SYN transmissions seen
  int dropped = 0;   // of them, not answered (no SYN-ACK or RST before the next one or the end)
};

struct AttemptComparison {
  std::string client;
  LabAttempt lab;
  std::optional<WireSyns> lab_syns;  // none when no capture saw this attempt
  std::optional<sim::Attempt> model;
  bool agrees = false;
};

struct CounterComparison {
  std::string host;
  model::Counter counter;
  std::uint64_t lab = 0, model = 0;
  bool agrees() const { return lab == model; }
};

struct ListenerComparison {
  std::string host;
  std::uint16_t port = 0;
  int lab_a = 0, lab_q = 0;      // accept queue (Recv-Q, §13) and SYN_RECV requests at the end
  int model_a = 0, model_q = 0;
  bool agrees() const { return lab_a == model_a; }
};

struct LabReport {
  std::string scenario;
  std::string kernel;           // the profile the model ran with
  std::string uname;            // the running kernel's release
  Duration duration{};
  std::vector<std::string> notes;
  std::vector<AttemptComparison> attempts;
  std::vector<CounterComparison> counters;
  std::vector<ListenerComparison> listeners;
  std::vector<std::string> captures;  // pcap files written
  std::shared_ptr<const sim::SimResult> model_run;  // the model's run of the scenario (for --html)
  bool agrees() const;
  std::string text() const;     // the side-by-side tables
};

// The counters the differential check compares (the listen path's, §3.8, §5, §10).
const std::vector<model::Counter>& compared_counters();

// Runs the lab. Throws LabUnavailable (exit 2), LabError (a step failed, exit 1) or LabInterrupted.
LabReport run_lab(const sim::Scenario& scenario, const LabOptions& options);

// SIGINT/SIGTERM while a lab runs: the run stops, tears everything down and throws LabInterrupted.
class LabInterrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
void install_lab_signal_handlers();

// Counter values of a namespace (/proc/net/snmp "Tcp:" and /proc/net/netstat "TcpExt:", §4).
model::CounterSet read_counters(const std::string& netns);
// Parses the two files' text (header line of names, then a line of values, per group).
model::CounterSet parse_counters(const std::string& snmp, const std::string& netstat);

}  // namespace synscope::lab
