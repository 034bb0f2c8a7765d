#pragma once
// /proc/net/netstat and /proc/net/snmp, parsed by header name (fact sheet §4: fields come and go
// between kernels, so never by position). Each file is pairs of lines "Group: Name1 Name2 …" /
// "Group: v1 v2 …". Unknown fields are kept; the ones the doctor needs and cannot find are noted.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synscope::live {

struct CounterField {
  std::string group;  // "TcpExt", "Tcp", "IpExt", …
  std::string name;   // "ListenOverflows"
  std::int64_t value = 0;  // signed: Tcp MaxConn is -1
};

// One read of one file, in the file's own order.
class CounterTable {
 public:
  std::vector<CounterField> fields;
  const CounterField* find(std::string_view group, std::string_view name) const;
};

// Throws UsageError naming `source` and the line when the text is not header/value pairs with equal
// field counts (truncated or edited files).
CounterTable parse_counter_text(std::string_view text, std::string_view source);

// Both files read at one instant, with the raw text kept (bundles store it verbatim).
struct CounterSample {
  double at_seconds = 0;  // CLOCK_MONOTONIC when read (only differences matter)
  std::string netstat_text, snmp_text;
  CounterTable netstat, snmp;
  std::optional<std::int64_t> get(std::string_view group, std::string_view name) const;
};
CounterSample parse_counter_sample(std::string netstat_text, std::string snmp_text, double at_seconds);

// The counters the findings read (§3.8, §4, §9), as group/field.
struct WatchedCounter {
  std::string_view group, name, meaning;
};
const std::vector<WatchedCounter>& watched_counters();

struct CounterChange {
  std::string group, name;
  std::optional<std::int64_t> before, after;  // nullopt: field missing in that sample
  std::int64_t delta() const { return before && after ? *after - *before : 0; }
};
// Every field of `after` (plus fields only in `before`), by name; watched ones first.
std::vector<CounterChange> diff_samples(const CounterSample& before, const CounterSample& after);

}  // namespace synscope::live
