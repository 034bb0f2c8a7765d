#pragma once
// On-wire encoding shared by the pcap writer and the tcpdump formatter. The formatter prints the
// options from the very bytes the writer puts on the wire, so padding, truncation and unknown kinds
// can never disagree between a .pcap file and the text we print for it.
#include <array>
#include <cstddef>
#include <cstdint>

#include "core/segment.h"

namespace synscope::capture {

// Big-endian stores for building headers.
inline void put_be16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// The TCP data offset is 4 bits of 32-bit words: at most 60 header bytes, 40 of them options.
constexpr std::size_t kMaxTcpOptionBytes = 40;
using TcpOptionBytes = std::array<std::uint8_t, kMaxTcpOptionBytes>;

// Encodes `opts` in order and pads to a multiple of 4. Returns the padded length (0..40).
//
// Padding: Linux never needs any (tcp_options_write() aligns every option list with NOPs, which is
// why its SYN list is mss,sackOK,TS,nop,wscale), but an unaligned list built by hand is padded the
// RFC 793 way: one EOL (kind 0) followed by zero bytes, which is what zero-filling does anyway.
// An option that would not fit in the 40 bytes is dropped together with everything after it.
//
// Kinds the Segment enum does not name (cast from any other byte) are written as
// kind, length 2 + n, then the low n bytes of `a` big-endian, with n = min(b, 4). That lets tests
// and scenarios put an "unknown" option on the wire without widening TcpOption.
std::size_t encode_tcp_options(const TcpOptions& opts, TcpOptionBytes& out);

// One's-complement sum of `len` bytes (big-endian 16-bit words), folded but not inverted; `sum`
// carries a partial sum in so the TCP pseudo header can be summed separately.
std::uint32_t ones_complement_add(const std::uint8_t* data, std::size_t len, std::uint32_t sum = 0);
inline std::uint16_t ones_complement_finish(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

}  // namespace synscope::capture
