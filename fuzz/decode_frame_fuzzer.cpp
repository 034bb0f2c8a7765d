// capture::decode_frame on arbitrary frames of every link type the reader accepts: the first byte
// picks the link type, the second how much of the frame the "snapshot" kept (caplen ≤ the wire
// length, as libpcap guarantees), the rest is the frame. Every encapsulation (VLAN/QinQ, MPLS,
// PPPoE, LLC/SNAP, GRE, ERSPAN, 802.11 in GRE, IP-in-IP, VXLAN, Geneve, ICMP quotes) is reached from
// these by the bytes alone. The decoder must read nothing past caplen and count what it skips.
#include <pcap/dlt.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "capture/capture_reader.h"

namespace {
// DLT_* values the reader decodes, plus LINKTYPE_RAW (101) which libpcap maps to DLT_RAW, and one it
// refuses (DLT_PPP) to check the "unknown link type" path returns nothing.
constexpr int kLinkTypes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, 101, DLT_IPV4, DLT_IPV6,
                              DLT_NULL,   DLT_LOOP,      DLT_IEEE802_11, DLT_IEEE802_11_RADIO, DLT_PPP};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int link = kLinkTypes[data[0] % (sizeof kLinkTypes / sizeof kLinkTypes[0])];
  const bool cut = data[1] & 0x80;  // snapshot cut the frame: wire length > caplen
  const std::uint32_t extra = data[1] & 0x7f;
  // An exactly sized heap copy, so ASan sees any read past caplen.
  std::vector<std::uint8_t> frame(data + 2, data + size);
  const auto caplen = static_cast<std::uint32_t>(frame.size());
  const std::uint32_t wire = caplen + (cut ? extra * 97 : 0);
  synscope::capture::CaptureItem item;
  synscope::capture::CaptureStats stats;
  const bool got = synscope::capture::decode_frame(link, frame.data(), caplen, wire, item, stats);
  if (got && item.kind == synscope::capture::CaptureItem::Kind::Tcp) {
    // A record must describe what the frame held: options within capacity, the payload from the IP
    // length (never more than the IP datagram can carry).
    if (item.tcp.options.size() > synscope::TcpOptions::kCapacity) __builtin_trap();
  }
  if (stats.frames != 1) __builtin_trap();
  return 0;
}
