#pragma once
// Loading built-in scenarios and running them for the simulator tests.
#include <string>

#include "sim/builtin_scenarios.h"
#include "sim/scenario_loader.h"
#include "sim/simulator.h"

namespace synscope::sim::testing {

inline Scenario builtin(const std::string& name) {
  const auto* b = find_builtin(name);
  if (!b) throw std::runtime_error("no builtin " + name);
  return load_scenario_text(b->toml, "builtin:" + name);
}

inline SimResult run_builtin(const std::string& name, SimOptions opt = {}) { return simulate(builtin(name), opt); }

inline const HostResult& host(const SimResult& r, const std::string& name) {
  return r.hosts.at(static_cast<std::size_t>(r.host_index(name)));
}

inline int count_rule(const SimResult& r, model::Rule rule) {
  int n = 0;
  for (const auto& d : r.decisions)
    if (d.decision.verdict.rule == rule) ++n;
  return n;
}

}  // namespace synscope::sim::testing
