#pragma once
// The scenarios shipped in scenarios/*.toml, embedded into the binary at build time
// (cmake/embed_scenarios.cmake) so that `synscope sim NAME` works without the source tree.
#include <string_view>
#include <vector>

namespace synscope::sim {

struct BuiltinScenario {
  std::string_view name;  // file stem
  std::string_view toml;
};

const std::vector<BuiltinScenario>& builtin_scenarios();
const BuiltinScenario* find_builtin(std::string_view name);

}  // namespace synscope::sim
