#pragma once
// A host's TCP timestamp clock (§8) and the offset it adds per connection (§7.7).
#include <cstdint>

#include "core/ipv4.h"
#include "core/rng.h"
#include "core/time.h"
#include "model/kernel_profile.h"

namespace synscope::model {

class TsClockModel {
 public:
  // `start` is the raw clock value at SimTime 0; `hz` matters only for jiffies clocks.
  TsClockModel(const KernelProfile& p, std::uint32_t start, int hz, std::uint64_t secret)
      : kind_(p.ts_clock), policy_(p.ts_offset), start_(start), hz_(hz > 0 ? hz : p.default_hz), secret_(secret) {}

  // Raw clock reading (jiffies at HZ, or milliseconds since 4.13), modulo 2^32.
  std::uint32_t ticks(SimTime now) const {
    std::int64_t ns = now.count();
    std::int64_t t = kind_ == TsClock::Jiffies ? ns / (1'000'000'000 / hz_) : ns / 1'000'000;
    return start_ + static_cast<std::uint32_t>(t);
  }
  // Offset for a connection from `local` to `remote` (§7.7); tcp_timestamps=2 disables offsets.
  std::uint32_t offset(Endpoint local, Endpoint remote, int tcp_timestamps) const {
    if (tcp_timestamps != 1) return 0;
    switch (policy_) {
      case TsOffsetPolicy::None: return 0;
      case TsOffsetPolicy::PerHostPair:
        return static_cast<std::uint32_t>(keyed_hash(secret_, local.addr.value, remote.addr.value) >> 32);
      case TsOffsetPolicy::PerFourTuple:
        return static_cast<std::uint32_t>(keyed_hash(secret_, endpoint_key(local), endpoint_key(remote)) >> 32);
    }
    return 0;
  }
  int hz() const { return hz_; }
  TsClock kind() const { return kind_; }
  std::uint32_t start() const { return start_; }

 private:
  TsClock kind_;
  TsOffsetPolicy policy_;
  std::uint32_t start_;
  int hz_;
  std::uint64_t secret_;
};

}  // namespace synscope::model
