#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synscope {

// An IPv4 address in host byte order (10.85.3.111 == 0x0a55036f).
struct Ipv4Addr {
  std::uint32_t value = 0;
  friend constexpr bool operator==(Ipv4Addr, Ipv4Addr) = default;
  friend constexpr auto operator<=>(Ipv4Addr, Ipv4Addr) = default;
  std::string str() const;
  static std::optional<Ipv4Addr> parse(std::string_view text);
};

// An address and port, "10.85.3.51:29090".
struct Endpoint {
  Ipv4Addr addr;
  std::uint16_t port = 0;
  friend constexpr bool operator==(Endpoint, Endpoint) = default;
  friend constexpr auto operator<=>(Endpoint, Endpoint) = default;
  std::string str() const;
  // "ADDR:PORT"; port required.
  static std::optional<Endpoint> parse(std::string_view text);
};

// A connection as seen from one side: local and remote endpoints.
struct FourTuple {
  Endpoint local;
  Endpoint remote;
  friend constexpr bool operator==(const FourTuple&, const FourTuple&) = default;
};

inline std::uint64_t mix64(std::uint64_t x) {
  // splitmix64 finaliser: a cheap, well-distributed integer hash.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t endpoint_key(Endpoint e) { return (std::uint64_t{e.addr.value} << 16) | e.port; }


}  // namespace synscope
