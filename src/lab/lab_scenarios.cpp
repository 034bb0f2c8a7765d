#include "lab/lab_scenarios.h"

namespace synscope::lab {

const LabScenarioText* find_lab_scenario(std::string_view name) {
  for (const auto& s : lab_scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace synscope::lab
