#include "sim/builtin_scenarios.h"

namespace synscope::sim {

const BuiltinScenario* find_builtin(std::string_view name) {
  for (const auto& s : builtin_scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace synscope::sim
