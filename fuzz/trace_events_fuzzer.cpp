// The trace's userspace half: raw ring-buffer records (struct syn_trace_event, as the BPF programs
// write them) through the Correlator — predictions from the model's rules with arbitrary listener
// numbers, families, kinds and time stamps that jump around — and the settle/flush that judges them.
// The first byte picks the kernel profile's index; each further sizeof(record) bytes is one record;
// a record's low ts bits decide whether settle() runs after it.
#include <cstdint>
#include <cstring>

#include "live/trace/correlator.h"
#include "model/kernel_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto& profiles = synscope::model::all_profiles();
  const auto& profile = profiles[data[0] % profiles.size()];
  synscope::live::trace::Correlator c(profile);
  ++data;
  --size;
  std::int64_t now = 0;
  while (size >= sizeof(syn_trace_event)) {
    syn_trace_event raw;
    std::memcpy(&raw, data, sizeof raw);
    // bpf_ktime_get_ns() is CLOCK_MONOTONIC: nanoseconds since boot, below 2^62 for 146 years of
    // uptime. Records past that cannot come from the kernel (and made the correlator's window
    // arithmetic overflow in the first run), so the fuzzer stays in the kernel's range.
    raw.ts_ns &= (std::uint64_t{1} << 62) - 1;
    data += sizeof raw;
    size -= sizeof raw;
    c.add(raw);
    now = static_cast<std::int64_t>(raw.ts_ns);
    if (raw.ts_ns & 1) (void)c.settle(now);
  }
  for (const auto& e : c.settle(now, true)) (void)e.summary();
  return 0;
}
