#pragma once
// Deterministic pseudo-random numbers. The simulator must give byte-identical output for the same
// scenario and seed on every machine, so we avoid std distributions (their algorithms are
// implementation-defined) and derive everything from xoshiro256** seeded by splitmix64.
#include <cstdint>

#include "core/ipv4.h"

namespace synscope {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& s : state_) {
      x += 0x9e3779b97f4a7c15ULL;
      s = mix64(x);
    }
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  std::uint32_t next_u32() { return static_cast<std::uint32_t>(next() >> 32); }
  // Uniform in [0, bound) by Lemire's multiply-shift (bias below 2^-32, irrelevant here).
  std::uint64_t below(std::uint64_t bound) {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * bound) >> 64);
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
};

// A keyed hash for simulated secrets (ISN, TS offsets, cookies): stands in for the kernel's
// SipHash/MD5 keyed by boot-time secrets; only its determinism and spread matter here.
inline std::uint64_t keyed_hash(std::uint64_t key, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
  std::uint64_t h = mix64(key ^ 0x243f6a8885a308d3ULL);
  h = mix64(h ^ a);
  h = mix64(h ^ (b + 0x13198a2e03707344ULL));
  h = mix64(h ^ (c + 0xa4093822299f31d0ULL));
  return h;
}

}  // namespace synscope
