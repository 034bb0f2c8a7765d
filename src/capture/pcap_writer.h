#pragma once
// Writes simulated segments to a real pcap file (Ethernet/IPv4/TCP), so the captures the simulator
// produces can be opened with tcpdump, tshark or Wireshark exactly like the seed's captures.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/segment.h"
#include "core/time.h"

// libpcap's handle types, declared here so users of this header do not pull in <pcap.h>.
struct pcap;
struct pcap_dumper;

namespace synscope::capture {

constexpr std::size_t kEthernetHeaderLen = 14;
constexpr std::size_t kIpv4HeaderLen = 20;
constexpr std::size_t kTcpHeaderLen = 20;  // without options

// Deterministic, locally administered (bit 1 of the first octet set) MAC for an IPv4 address:
// 02:00:a:b:c:d. Stable across runs, distinct per host, and never a real vendor's address.
std::array<std::uint8_t, 6> mac_for(Ipv4Addr addr);

// Encodes one segment as an Ethernet frame: Ethernet II, IPv4 (IHL 5, DF, TTL and id from the
// segment, header checksum) and TCP (options in order, padded to 4 bytes, checksum over the pseudo
// header). Payload is `segment.payload` if non-empty, else `payload_len` zero bytes.
// Throws std::length_error if the IPv4 datagram would exceed 65535 bytes.
std::vector<std::uint8_t> encode_ethernet_frame(const Segment& segment);
// Same, into a caller-owned buffer (resized as needed, capacity reused); returns the frame length.
std::size_t encode_ethernet_frame(const Segment& segment, std::vector<std::uint8_t>& buffer);

class PcapWriter {
 public:
  static constexpr int kSnapLen = 262144;  // tcpdump's default snapshot length

  // Opens (truncates) `path`. Throws std::runtime_error naming the path and libpcap's message.
  explicit PcapWriter(const std::string& path);
  ~PcapWriter();
  PcapWriter(PcapWriter&& other) noexcept;
  PcapWriter& operator=(PcapWriter&& other) noexcept;
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Appends one packet time-stamped `when` (microsecond precision, truncated).
  void write(const Segment& segment, WallTime when);
  // Pushes buffered packets to the file (e.g. before another process reads it).
  void flush();
  // Flushes and closes; further writes throw. Called by the destructor.
  void close();

  const std::string& path() const { return path_; }
  std::uint64_t packets_written() const { return packets_; }

 private:
  std::string path_;
  pcap* pcap_ = nullptr;
  pcap_dumper* dumper_ = nullptr;
  std::vector<std::uint8_t> buffer_;  // reused for every frame: no per-packet allocation
  std::uint64_t packets_ = 0;
};

}  // namespace synscope::capture
