#pragma once
// Reads scenario TOML (schema: docs/scenario-schema.md) into a sim::Scenario.
//
// Every problem throws synscope::UsageError with a one-line message
//   "<source>:<line>: <key path>: <what is wrong>"
// e.g. `scenarios/x.toml:12: host[2].addr: "10.0.0.300" is not an IPv4 address`. Array-of-table
// indices in key paths are 0-based, as in toml++ paths. Unknown keys are errors so that a typo can
// never silently fall back to a default. Kernel profile and sysctl names are stored unchecked: the
// model owns those lists and validates them when it builds hosts.
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"
#include "sim/scenario.h"

namespace synscope::sim {

// Parses scenario TOML held in memory. `source_name` is used in messages and stored in
// Scenario::source (a file path, or "builtin:<name>").
Scenario load_scenario_text(std::string_view toml_text, const std::string& source_name);

// Reads and parses a scenario file; messages name `path` as given.
Scenario load_scenario_file(const std::string& path);

// "0.3ms", "300us", "1.5s", "2m", "1h", "10ns", "120" (bare number = seconds). Exact decimal
// arithmetic, rounded to the nearest nanosecond. Throws UsageError (`"x" is not a duration ...`)
// when malformed, negative or too large; the message carries no file/line, callers add them.
Duration parse_duration(std::string_view text);

// Same grammar, without throwing.
std::optional<Duration> try_parse_duration(std::string_view text);

}  // namespace synscope::sim
