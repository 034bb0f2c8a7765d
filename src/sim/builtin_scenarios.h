#pragma once
// The scenarios shipped in scenarios/*.toml, embedded into the binary at build time
// (cmake/embed_scenarios.cmake) so that `synscope sim NAME` works without the source tree.
// The lab's scenarios (scenarios/lab/*.toml, lab/lab_scenarios.h) are embedded the same way.
#include <string_view>
#include <vector>

namespace synscope::sim {

// One embedded scenario file.
struct BuiltinScenario {
  std::string_view name;  // file stem
  std::string_view toml;
};

const std::vector<BuiltinScenario>& builtin_scenarios();
const BuiltinScenario* find_builtin(std::string_view name);
// The scenario named `name` in `list`, or nullptr.
const BuiltinScenario* find_scenario(const std::vector<BuiltinScenario>& list, std::string_view name);

}  // namespace synscope::sim
