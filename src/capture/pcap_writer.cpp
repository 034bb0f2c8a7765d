#include "capture/pcap_writer.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "capture/tcp_wire.h"

namespace synscope::capture {


std::array<std::uint8_t, 6> mac_for(Ipv4Addr addr) {
  const std::uint32_t v = addr.value;
  return {0x02, 0x00, static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::size_t encode_ethernet_frame(const Segment& s, std::vector<std::uint8_t>& buf) {
  TcpOptionBytes opts;
  const std::size_t opt_len = encode_tcp_options(s.options, opts);
  const std::size_t tcp_len = kTcpHeaderLen + opt_len;
  const std::size_t payload_len = s.payload.empty() ? s.payload_len : s.payload.size();
  const std::size_t ip_total = kIpv4HeaderLen + tcp_len + payload_len;
  if (ip_total > 0xffff) throw std::length_error("segment too large for one IPv4 datagram");
  const std::size_t frame_len = kEthernetHeaderLen + ip_total;
  if (buf.size() < frame_len) buf.resize(frame_len);  // grows to the largest frame seen, then stays
  std::uint8_t* p = buf.data();

  // Ethernet II: destination, source, EtherType IPv4.
  const auto dmac = mac_for(s.dst.addr), smac = mac_for(s.src.addr);
  std::copy(dmac.begin(), dmac.end(), p);
  std::copy(smac.begin(), smac.end(), p + 6);
  put_be16(p + 12, 0x0800);

  // IPv4: what Linux sends for TCP: no options, DF set (path MTU discovery), TOS 0.
  std::uint8_t* ip = p + kEthernetHeaderLen;
  ip[0] = 0x45;
  ip[1] = 0;
  put_be16(ip + 2, static_cast<std::uint32_t>(ip_total));
  put_be16(ip + 4, s.ip_id);
  put_be16(ip + 6, 0x4000);
  ip[8] = s.ttl;
  ip[9] = 6;  // TCP
  put_be16(ip + 10, 0);
  put_be32(ip + 12, s.src.addr.value);
  put_be32(ip + 16, s.dst.addr.value);
  put_be16(ip + 10, ones_complement_finish(ones_complement_add(ip, kIpv4HeaderLen)));

  // TCP header, options, payload.
  std::uint8_t* tcp = ip + kIpv4HeaderLen;
  put_be16(tcp + 0, s.src.port);
  put_be16(tcp + 2, s.dst.port);
  put_be32(tcp + 4, s.seq);
  put_be32(tcp + 8, s.ack);
  tcp[12] = static_cast<std::uint8_t>((tcp_len / 4) << 4);
  tcp[13] = s.flags;
  put_be16(tcp + 14, s.window);
  put_be16(tcp + 16, 0);  // checksum, filled below
  put_be16(tcp + 18, 0);  // urgent pointer: Segment does not model urgent data
  std::copy(opts.begin(), opts.begin() + static_cast<std::ptrdiff_t>(opt_len), tcp + kTcpHeaderLen);
  std::uint8_t* data = tcp + tcp_len;
  if (!s.payload.empty())
    std::memcpy(data, s.payload.data(), payload_len);
  else
    std::memset(data, 0, payload_len);

  // Checksum over the pseudo header (src, dst, zero, protocol, TCP length) and the segment.
  std::uint8_t pseudo[12];
  std::memcpy(pseudo, ip + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = 6;
  put_be16(pseudo + 10, static_cast<std::uint32_t>(tcp_len + payload_len));
  std::uint32_t sum = ones_complement_add(pseudo, sizeof pseudo);
  sum = ones_complement_add(tcp, tcp_len + payload_len, sum);
  put_be16(tcp + 16, ones_complement_finish(sum));
  return frame_len;
}

std::vector<std::uint8_t> encode_ethernet_frame(const Segment& segment) {
  std::vector<std::uint8_t> buf;
  buf.resize(encode_ethernet_frame(segment, buf));
  return buf;
}

PcapWriter::PcapWriter(const std::string& path) : path_(path) {
  pcap_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, kSnapLen, PCAP_TSTAMP_PRECISION_MICRO);
  if (!pcap_) throw std::runtime_error("cannot write pcap file '" + path + "': pcap_open_dead failed");
  dumper_ = pcap_dump_open(pcap_, path.c_str());
  if (!dumper_) {
    std::string msg = pcap_geterr(pcap_);
    pcap_close(pcap_);
    pcap_ = nullptr;
    throw std::runtime_error("cannot write pcap file '" + path + "': " + msg);
  }
  buffer_.reserve(kEthernetHeaderLen + kIpv4HeaderLen + kTcpHeaderLen + kMaxTcpOptionBytes + 1500);
}

PcapWriter::~PcapWriter() { close(); }

PcapWriter::PcapWriter(PcapWriter&& other) noexcept
    : path_(std::move(other.path_)),
      pcap_(std::exchange(other.pcap_, nullptr)),
      dumper_(std::exchange(other.dumper_, nullptr)),
      buffer_(std::move(other.buffer_)),
      packets_(other.packets_) {}

PcapWriter& PcapWriter::operator=(PcapWriter&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    pcap_ = std::exchange(other.pcap_, nullptr);
    dumper_ = std::exchange(other.dumper_, nullptr);
    buffer_ = std::move(other.buffer_);
    packets_ = other.packets_;
  }
  return *this;
}

void PcapWriter::write(const Segment& segment, WallTime when) {
  if (!dumper_) throw std::logic_error("PcapWriter::write after close (" + path_ + ")");
  const std::size_t len = encode_ethernet_frame(segment, buffer_);
  // Floor division so instants before 1970 still get a non-negative microsecond part.
  const std::int64_t secs = when.whole_seconds();
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<decltype(hdr.ts.tv_sec)>(secs);
  hdr.ts.tv_usec = static_cast<decltype(hdr.ts.tv_usec)>((when.unix_ns - secs * 1000000000) / 1000);
  hdr.caplen = static_cast<bpf_u_int32>(std::min<std::size_t>(len, kSnapLen));
  hdr.len = static_cast<bpf_u_int32>(len);
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &hdr, buffer_.data());
  ++packets_;
}

void PcapWriter::flush() {
  if (dumper_ && pcap_dump_flush(dumper_) != 0)
    throw std::runtime_error("cannot write pcap file '" + path_ + "': flush failed");
}

void PcapWriter::close() {
  if (dumper_) {
    pcap_dump_close(dumper_);  // flushes and closes the FILE*
    dumper_ = nullptr;
  }
  if (pcap_) {
    pcap_close(pcap_);
    pcap_ = nullptr;
  }
}

}  // namespace synscope::capture
