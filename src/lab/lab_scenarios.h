#pragma once
// The lab scenarios shipped in scenarios/lab/*.toml, embedded at build time
// (cmake/embed_lab_scenarios.cmake) so that `synscope lab NAME` works without the source tree.
#include <string_view>
#include <vector>

namespace synscope::lab {

struct LabScenarioText {
  std::string_view name;  // file stem
  std::string_view toml;
};

const std::vector<LabScenarioText>& lab_scenarios();
const LabScenarioText* find_lab_scenario(std::string_view name);

}  // namespace synscope::lab
