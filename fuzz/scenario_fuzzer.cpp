// The scenario TOML loader (docs/scenario-schema.md) on arbitrary text: toml++'s own parsing and
// every key's checks. Malformed TOML, wrong types, out-of-range values and unknown keys must all be
// one "<source>:<line>: <key>: <what>" UsageError line. Durations are fuzzed on their own too.
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "sim/scenario_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)synscope::sim::load_scenario_text(text, "fuzz.toml");
  } catch (const synscope::UsageError& e) {
    synscope::fuzz::check_one_line(e.what());
  }
  if (size < 64) {
    const auto d = synscope::sim::try_parse_duration(text);
    if (d && d->count() < 0) __builtin_trap();
  }
  return 0;
}
