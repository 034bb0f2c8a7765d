#include "sim/builtin_scenarios.h"

namespace synscope::sim {

const BuiltinScenario* find_scenario(const std::vector<BuiltinScenario>& list, std::string_view name) {
  for (const auto& s : list)
    if (s.name == name) return &s;
  return nullptr;
}

const BuiltinScenario* find_builtin(std::string_view name) { return find_scenario(builtin_scenarios(), name); }

}  // namespace synscope::sim
