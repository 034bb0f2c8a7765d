#pragma once
// One TCP/IPv4 segment as it crosses a wire: the unit the model consumes, the simulator routes and
// the capture writers print. Options keep their on-wire order because tcpdump prints them in order
// and because Linux's order (mss,sackOK,TS,nop,wscale on a SYN) is part of what an analyst reads.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/ipv4.h"

namespace synscope {

namespace tcp_flag {
constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40,
                       CWR = 0x80;
}

struct TcpTimestamp {
  std::uint32_t val = 0;
  std::uint32_t ecr = 0;
  friend constexpr bool operator==(TcpTimestamp, TcpTimestamp) = default;
};

enum class TcpOptionKind : std::uint8_t { Eol = 0, Nop = 1, Mss = 2, WindowScale = 3, SackPermitted = 4, Timestamp = 8 };

struct TcpOption {
  TcpOptionKind kind = TcpOptionKind::Nop;
  std::uint32_t a = 0;  // mss / wscale shift / TS val
  std::uint32_t b = 0;  // TS ecr
  friend constexpr bool operator==(const TcpOption&, const TcpOption&) = default;
};

// Fixed-capacity, ordered option list (a SYN carries at most 5 option items plus padding nops).
class TcpOptions {
 public:
  static constexpr std::size_t kCapacity = 10;
  void push(TcpOption o) {
    if (count_ < kCapacity) items_[count_++] = o;
  }
  // Empties the list. Items past size() are never read, so they need no zeroing (a decoder reusing
  // one record per packet would otherwise copy 128 bytes each time).
  void clear() { count_ = 0; }
  void nop() { push({TcpOptionKind::Nop}); }
  void mss(std::uint16_t v) { push({TcpOptionKind::Mss, v}); }
  void sack_ok() { push({TcpOptionKind::SackPermitted}); }
  void timestamp(std::uint32_t val, std::uint32_t ecr) { push({TcpOptionKind::Timestamp, val, ecr}); }
  void wscale(std::uint8_t shift) { push({TcpOptionKind::WindowScale, shift}); }

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  const TcpOption* begin() const { return items_.data(); }
  const TcpOption* end() const { return items_.data() + count_; }

  std::optional<TcpTimestamp> ts() const {
    for (const auto& o : *this)
      if (o.kind == TcpOptionKind::Timestamp) return TcpTimestamp{o.a, o.b};
    return std::nullopt;
  }
  std::optional<std::uint16_t> mss_value() const {
    for (const auto& o : *this)
      if (o.kind == TcpOptionKind::Mss) return static_cast<std::uint16_t>(o.a);
    return std::nullopt;
  }
  std::optional<std::uint8_t> wscale_value() const {
    for (const auto& o : *this)
      if (o.kind == TcpOptionKind::WindowScale) return static_cast<std::uint8_t>(o.a);
    return std::nullopt;
  }
  bool has_sack_ok() const {
    for (const auto& o : *this)
      if (o.kind == TcpOptionKind::SackPermitted) return true;
    return false;
  }
  // Bytes the options occupy on the wire, before padding to a multiple of 4.
  std::size_t wire_length() const {
    std::size_t n = 0;
    for (const auto& o : *this) {
      switch (o.kind) {
        case TcpOptionKind::Eol:
        case TcpOptionKind::Nop: n += 1; break;
        case TcpOptionKind::Mss: n += 4; break;
        case TcpOptionKind::WindowScale: n += 3; break;
        case TcpOptionKind::SackPermitted: n += 2; break;
        case TcpOptionKind::Timestamp: n += 10; break;
      }
    }
    return n;
  }
  friend bool operator==(const TcpOptions& x, const TcpOptions& y) {
    if (x.count_ != y.count_) return false;
    for (std::size_t i = 0; i < x.count_; ++i)
      if (!(x.items_[i] == y.items_[i])) return false;
    return true;
  }

 private:
  std::array<TcpOption, kCapacity> items_{};
  std::size_t count_ = 0;
};

struct Segment {
  Endpoint src;
  Endpoint dst;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // raw 16-bit field as on the wire (unscaled)
  TcpOptions options;
  std::uint32_t payload_len = 0;
  // Payload bytes, when the sender has real content (e.g. an SSH banner); otherwise the capture
  // writers fill `payload_len` zero bytes. Points into scenario-owned storage.
  std::string_view payload;
  std::uint8_t ttl = 64;
  std::uint16_t ip_id = 0;

  bool has(std::uint8_t f) const { return (flags & f) == f; }
  bool is_syn() const { return (flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST)) == tcp_flag::SYN; }
  bool is_synack() const { return (flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST)) == (tcp_flag::SYN | tcp_flag::ACK); }
  // Sequence space the segment consumes (SYN and FIN count one each).
  std::uint32_t seq_len() const {
    return payload_len + ((flags & tcp_flag::SYN) ? 1 : 0) + ((flags & tcp_flag::FIN) ? 1 : 0);
  }
};

}  // namespace synscope
