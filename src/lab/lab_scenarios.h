#pragma once
// The lab scenarios shipped in scenarios/lab/*.toml, embedded at build time (cmake/embed_scenarios.cmake,
// like the simulator's built-in ones) so that `synscope lab NAME` works without the source tree.
#include <string_view>
#include <vector>

#include "sim/builtin_scenarios.h"

namespace synscope::lab {

using LabScenarioText = sim::BuiltinScenario;

const std::vector<LabScenarioText>& lab_scenarios();
inline const LabScenarioText* find_lab_scenario(std::string_view name) { return sim::find_scenario(lab_scenarios(), name); }

}  // namespace synscope::lab
