#pragma once
// Reads TCP segments (and ICMP errors that quote them) out of a capture: a pcap or pcapng file,
// optionally gzip- or zstd-compressed, standard input ("-"), or a live interface. libpcap does the
// file formats and the capturing; this reader decodes the link, IP and TCP headers straight from
// libpcap's buffer, without allocating per packet.
//
//   CaptureReader r = CaptureReader::open("trace.pcapng.gz");
//   CaptureItem item;
//   while (r.next(item)) { if (item.kind == CaptureItem::Kind::Tcp) use(item.tcp); }
//   if (r.stats().stopped_early) warn(r.stats().stop_reason);
//
// Link types: Ethernet (with 802.1Q/802.1ad/QinQ tags, MPLS, PPPoE, 802.3 LLC/SNAP), Linux cooked
// v1 and v2, raw IP (DLT_RAW, LINKTYPE_IPV4/IPV6), BSD loopback (DLT_NULL in either byte order,
// DLT_LOOP), 802.11 and 802.11 with radiotap. Anything else is refused with CaptureError.
//
// Tunnels: GRE (IP, transparent Ethernet bridging, PPTP's PPP), ERSPAN I/II/III, 802.11 in GRE
// (Aruba), IP-in-IP (4in4, 6in4, 4in6, 6in6), VXLAN and Geneve. The TCP inside is decoded and marked
// Encapsulation::Tunnel, and every tunnelled frame is counted per kind, so analysis can say "this
// capture's TCP is inside GRE/ERSPAN/802.11 tunnels" rather than mistaking a one-sided tunnel for
// silence.
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture/packet.h"
#include "core/error.h"
#include "core/time.h"

namespace synscope::capture {

// Input that cannot be read at all: missing or unreadable file, not a capture, corrupt compressed
// data before the first packet, unsupported link type, a live interface that cannot be opened or a
// filter that does not compile. The message is one line and names the input.
class CaptureError : public UsageError {
 public:
  using UsageError::UsageError;
};

enum class TunnelKind : std::uint8_t {
  None,
  Gre,          // GRE carrying IP (or PPP, PPTP) directly
  GreEthernet,  // GRE transparent Ethernet bridging (0x6558)
  Erspan,       // ERSPAN type I, II or III over GRE (port mirroring)
  Wlan,         // 802.11 frames inside GRE (Aruba access points)
  IpInIp,       // IPv4/IPv6 directly inside IPv4/IPv6
  Vxlan,        // VXLAN (UDP 4789)
  Geneve,       // Geneve (UDP 6081)
};
constexpr std::size_t kTunnelKindCount = 8;
// "GRE", "GRE (Ethernet bridging)", "ERSPAN", "802.11 in GRE", "IP-in-IP", "VXLAN", "Geneve".
std::string_view tunnel_name(TunnelKind kind);

// What a file starting with `head` is, when it is a capture or a compressed file that
// CaptureReader opens or explains ("pcap file header", "pcapng file header", "gzip header",
// "zstd header", "xz header", "bzip2 header"); nullopt for anything else (e.g. tcpdump text).
std::optional<std::string_view> capture_magic(std::string_view head);

// One thing the reader found: a TCP segment or an ICMP error quoting a TCP header.
struct CaptureItem {
  enum class Kind : std::uint8_t { Tcp, Icmp };
  Kind kind = Kind::Tcp;
  PacketRecord tcp;   // valid when kind == Tcp
  IcmpRecord icmp;    // valid when kind == Icmp
  // For both kinds (IcmpRecord has no fields for them): frame number, pcapng interface id, and what
  // wrapped the packet (for TCP also in tcp.frame/tcp.interface/tcp.encapsulation).
  std::uint64_t frame = 0;
  std::uint32_t interface = 0;
  Encapsulation encapsulation = Encapsulation::None;
  TunnelKind tunnel = TunnelKind::None;  // outermost tunnel, when encapsulation == Tunnel
};

struct LinkTypeCount {
  int link_type = 0;  // DLT_* value as libpcap reports it
  std::string name;   // libpcap's name, e.g. "EN10MB", "LINUX_SLL2"
  std::uint64_t frames = 0;
};

struct CaptureStats {
  std::uint64_t frames = 0;             // every frame read (numbered as tshark numbers them)
  std::uint64_t tcp = 0;                // TCP records returned
  std::uint64_t icmp = 0;               // ICMP/ICMPv6 unreachables quoting TCP returned
  std::uint64_t other = 0;              // frames returned as nothing (ARP, UDP, other ICMP, non-IP, ...)
  std::uint64_t ipv6 = 0;               // of the returned records, those whose (inner) IP is IPv6
  std::uint64_t truncated_frames = 0;   // the snapshot length cut a header we needed: the TCP record
                                        // is flagged truncated, or skipped when even ports/flags are cut
  std::uint64_t malformed = 0;          // impossible header fields (IHL < 5, data offset < 5, lengths
                                        // past the datagram): the frame is skipped
  std::uint64_t bad_tcp_options = 0;    // option lists with an impossible length: parsed up to there
  std::uint64_t vlan = 0;               // frames with at least one 802.1Q/802.1ad tag
  std::uint64_t fragments_skipped = 0;  // non-first IP fragments (no TCP header in them)
  std::uint64_t bad_time = 0;           // frames whose time stamp is before 1970 or from 2116 (2^62 ns)
                                        // on (corrupt pcapng): skipped, counted in other
  // Per TunnelKind (index = enum value): frames found inside that tunnel (outermost kind), those of
  // them returned as TCP or ICMP records, and those whose inner packet could not be opened
  // (encrypted 802.11, an unknown GRE payload, GRE source routing, nesting too deep).
  std::array<std::uint64_t, kTunnelKindCount> tunnelled{};
  std::array<std::uint64_t, kTunnelKindCount> tunnelled_tcp{};
  std::array<std::uint64_t, kTunnelKindCount> tunnel_opaque{};
  std::vector<LinkTypeCount> link_types;  // frames per link type
  // Live captures: packets the kernel or the interface dropped (pcap_stats), known at the end.
  std::uint64_t kernel_dropped = 0;
  std::uint64_t interface_dropped = 0;
  // The input ended before its end of file: truncated or corrupt capture, corrupt or cut
  // compressed data, a read error, or a failing live capture. Everything before it was returned.
  bool stopped_early = false;
  std::string stop_reason;  // one line, e.g. "truncated at frame 1234, byte offset 56789: ..."

  std::uint64_t tunnelled_total() const;
};

// Bounds for a live capture (0 = no bound on that axis; with both 0 it runs until request_stop()).
struct LiveLimits {
  std::uint64_t max_packets = 0;  // frames read (whatever the filter let through)
  Duration max_duration{0};
  int snaplen = 262144;
  bool promiscuous = false;
};

// Decodes one captured frame of link type `link_type` (a DLT_* value) the way CaptureReader::next
// does, counting it in `stats` (frames included; link_types not). Reads nothing beyond `caplen`.
// Returns true when `out` holds a record; its frame number is stats.frames, its time zero.
bool decode_frame(int link_type, const std::uint8_t* data, std::uint32_t caplen, std::uint32_t wire_len,
                  CaptureItem& out, CaptureStats& stats);

class CaptureReader {
 public:
  // Opens a pcap/pcapng file, plain, gzip or zstd (told apart by their magic bytes, not by the
  // name), or standard input for "-". Throws CaptureError when the input cannot be read at all.
  static CaptureReader open(const std::string& path);
  // Reads from an already open stream (e.g. a pipe); takes ownership and closes it. `name` is used
  // in messages.
  static CaptureReader open_stream(std::FILE* stream, const std::string& name);
  // Captures on `iface` (e.g. "lo", "any") with a BPF filter ("" = everything) until a limit is
  // reached. Throws CaptureError if the interface cannot be opened or the filter does not compile.
  static CaptureReader open_live(const std::string& iface, const std::string& bpf_filter, const LiveLimits& limits);

  CaptureReader(CaptureReader&&) noexcept;
  CaptureReader& operator=(CaptureReader&&) noexcept;
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;
  ~CaptureReader();

  // Fills `out` with the next TCP segment or ICMP error and returns true; false at the end (end of
  // file, a live limit, request_stop(), or an error recorded in stats().stop_reason). Frames that
  // are neither are counted in stats() and skipped. Does not allocate.
  bool next(CaptureItem& out);

  // Live captures: ends the capture at the next packet or read timeout. Safe from a signal handler
  // or another thread.
  void request_stop();

  const CaptureStats& stats() const;
  int link_type() const;            // DLT_* of the capture (the first interface's for pcapng)
  std::string link_type_name() const;
  const std::string& name() const;  // the path, "-", or "live:IFACE"
  // "pcap", "pcapng", "pcap (gzip)", "pcapng (zstd)", "live".
  std::string format() const;

  struct Impl;

 private:
  explicit CaptureReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace synscope::capture
