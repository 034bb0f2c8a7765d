#pragma once
// Modulo-2^32 comparisons for sequence numbers and TCP timestamps (fact sheet §8: "a newer than b"
// iff (s32)(a - b) > 0).
#include <cstdint>

namespace synscope {

constexpr std::int32_t s32_diff(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b);
}
constexpr bool seq_after(std::uint32_t a, std::uint32_t b) { return s32_diff(a, b) > 0; }
constexpr bool seq_before(std::uint32_t a, std::uint32_t b) { return s32_diff(a, b) < 0; }

}  // namespace synscope
