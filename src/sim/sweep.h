#pragma once
// Repeats a scenario with different seeds (so different random TS clocks) and measures how often
// the counted clients fail — seed 003's "roughly half of NAT'd clients fail after a server-side close".
#include <string>

#include "sim/simulator.h"

namespace synscope::sim {

struct SweepResult {
  int trials = 0;
  int attempts = 0;            // counted attempts over all trials
  int first_syn_dropped = 0;   // attempts whose first SYN got no answer (delayed or failed)
  int never_connected = 0;     // attempts that ended without a connection
  double fraction = 0;         // first_syn_dropped / attempts
  double ci_low = 0, ci_high = 0;  // Wilson 95 % interval
  Duration mean_delay{};       // mean time to establish among delayed-but-connected attempts
};

SweepResult run_sweep(const Scenario& scenario, const SimOptions& options);
std::string render_sweep(const Scenario& scenario, const SweepResult& r);
// Wilson score interval for k successes out of n at 95 %.
std::pair<double, double> wilson95(int k, int n);

}  // namespace synscope::sim
