#pragma once
// A TCP segment read from a capture (pcap, pcapng, live, or tcpdump text), for analysis. Unlike
// core/Segment (the simulator's IPv4-only wire unit) it carries IPv6 addresses, where in the file it
// came from, and what wrapped it. Decoders produce these; analysis consumes them.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/segment.h"
#include "core/time.h"

namespace synscope::capture {

// An IPv4 or IPv6 address. IPv4 is stored as ::ffff:a.b.c.d so that one 16-byte key fits both.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  bool v6 = false;

  static IpAddress from_v4(Ipv4Addr a);
  static std::optional<IpAddress> parse(std::string_view text);  // "10.0.0.1", "2001:db8::1"
  std::optional<Ipv4Addr> v4() const;
  std::string str() const;  // dotted quad, or RFC 5952 compressed IPv6
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct PacketEndpoint {
  IpAddress addr;
  std::uint16_t port = 0;
  friend bool operator==(const PacketEndpoint&, const PacketEndpoint&) = default;
  friend auto operator<=>(const PacketEndpoint&, const PacketEndpoint&) = default;
};

// What was around the TCP segment on the wire.
enum class Encapsulation : std::uint8_t {
  None,      // link header → IP → TCP
  Vlan,      // one or more 802.1Q/802.1ad tags
  Tunnel,    // TCP found inside a tunnel (GRE, ERSPAN, 802.11 in GRE, IP-in-IP): counted separately
};

struct PacketRecord {
  std::uint64_t frame = 0;        // 1-based frame number in the capture (as tshark counts)
  WallTime ts{};
  std::uint32_t interface = 0;    // pcapng interface id (0 for pcap and text)
  PacketEndpoint src, dst;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;         // tcp_flag::*
  std::uint16_t window = 0;       // raw field
  TcpOptions options;             // in wire order
  std::uint32_t payload_len = 0;  // TCP payload bytes (from the IP length, not the caplen)
  std::uint8_t ttl = 0;           // IPv4 TTL / IPv6 hop limit (0 when unknown, e.g. text input)
  Encapsulation encapsulation = Encapsulation::None;
  bool truncated = false;         // caplen cut the TCP header or options

  bool is_syn() const { return (flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST)) == tcp_flag::SYN; }
  bool is_synack() const {
    return (flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST)) == (tcp_flag::SYN | tcp_flag::ACK);
  }
};

// Non-TCP events that analysis needs: ICMP errors that quote a TCP header (port/host unreachable,
// admin prohibited), and packets that could not be decoded.
enum class IcmpKind : std::uint8_t { HostUnreachable, PortUnreachable, NetUnreachable, AdminProhibited, OtherUnreachable };
struct IcmpRecord {
  std::uint64_t frame = 0;
  WallTime ts{};
  IpAddress reporter;             // who sent the ICMP
  PacketEndpoint quoted_src, quoted_dst;  // the TCP segment it quotes
  std::uint32_t quoted_seq = 0;
  IcmpKind kind = IcmpKind::OtherUnreachable;
};

}  // namespace synscope::capture
