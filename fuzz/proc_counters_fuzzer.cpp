// /proc/net/netstat and /proc/net/snmp text (header/value line pairs, by header name): a NUL byte
// in the input splits it into a "before" and an "after" sample, so the sample diff (missing fields on
// either side, counters that went backwards) runs on fuzzed tables too.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "live/proc_counters.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto cut = all.find('\0');
  const std::string first(all.substr(0, cut));
  const std::string second(cut == std::string_view::npos ? all : all.substr(cut + 1));
  try {
    auto t = synscope::live::parse_counter_text(first, "netstat");
    for (const auto& f : t.fields)
      if (t.find(f.group, f.name) == nullptr) __builtin_trap();
    auto before = synscope::live::parse_counter_sample(first, second, 1.0);
    auto after = synscope::live::parse_counter_sample(second, first, 2.0);
    for (const auto& c : synscope::live::diff_samples(before, after)) (void)c.delta();
  } catch (const synscope::UsageError& e) {
    synscope::fuzz::check_one_line(e.what());
  }
  return 0;
}
