// CaptureReader and IpAddress: real public captures (../shared/pcaps) and captures built here byte by
// byte, each checked field by field against tshark run on the same file; compressed files, pipes,
// truncated and corrupt files, unsupported link types, hostile headers, and a live capture on lo.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "capture/capture_reader.h"
#include "capture/pcap_writer.h"
#include "capture/tcp_wire.h"
#include "capture_test_util.h"

namespace synscope::capture::testing {
namespace {

using namespace tcp_flag;
using Bytes = std::vector<std::uint8_t>;

// ------------------------------------------------------------------------------------------------
// Where things are, and tshark
// ------------------------------------------------------------------------------------------------

std::string pcap_path(const std::string& name) { return std::string(SYNSCOPE_SOURCE_DIR) + "/../shared/pcaps/" + name; }

std::string quote(const std::string& s) { return "'" + s + "'"; }

// tshark with no name resolution, inside an empty network namespace so nothing leaves the machine
// (falls back to plain -n where namespaces are not allowed), and without IP reassembly: the reader
// takes the TCP header from the first fragment, which is what tshark shows when it does not reassemble.
const std::string& tshark() {
  static const std::string cmd = [] {
    const bool ns = std::system("unshare --net true >/dev/null 2>&1") == 0;
    return std::string(ns ? "unshare --net " : "") + "tshark -n -o ip.defragment:FALSE -o ipv6.defragment:FALSE";
  }();
  return cmd;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}
std::string last_of(const std::string& list) {
  const auto parts = split(list, ',');
  return parts.back();
}

std::vector<std::string> tshark_fields(const std::string& path, const std::string& filter,
                                       const std::vector<std::string>& fields) {
  TempDir dir;
  std::string cmd = tshark() + " -r " + quote(path) + " -Y " + quote(filter) + " -T fields -E separator=/t -E aggregator=,";
  for (const auto& f : fields) cmd += " -e " + f;
  const auto r = run_command(cmd, dir);
  EXPECT_EQ(r.exit_status, 0) << cmd << "\n" << r.err;
  return split_lines(r.out);
}

std::size_t tshark_frame_count(const std::string& path) {
  TempDir dir;
  const auto r = run_command(tshark() + " -r " + quote(path) + " -T fields -e frame.number", dir);
  return split_lines(r.out).size();
}

// One line per TCP frame, the same shape for tshark and for the reader, so a whole capture can be
// compared with one EXPECT_EQ on the first difference.
std::string row(std::uint64_t frame, std::uint32_t iface, const std::string& src, const std::string& dst,
                unsigned sport, unsigned dport, std::uint32_t seq, std::uint32_t ack, unsigned flags, unsigned window,
                const std::string& len, unsigned ttl, const std::string& kinds, const std::string& tsval, const std::string& mss) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "#%llu if%u %s:%u > %s:%u seq %u ack %u flags 0x%02x win %u len %s ttl %u opts [%s] ts %s mss %s",
                static_cast<unsigned long long>(frame), iface, src.c_str(), sport, dst.c_str(), dport, seq, ack, flags,
                window, len.c_str(), ttl, kinds.c_str(), tsval.c_str(), mss.c_str());
  return buf;
}

std::vector<std::string> tshark_tcp_rows(const std::string& path) {
  const auto lines = tshark_fields(path, "tcp && !icmp && !icmpv6",
                                   {"frame.number", "frame.interface_id", "frame.protocols", "ip.src", "ip.dst",
                                    "ipv6.src", "ipv6.dst", "ip.ttl", "ipv6.hlim", "tcp.srcport", "tcp.dstport",
                                    "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.len",
                                    "tcp.option_kind", "tcp.options.timestamp.tsval", "tcp.options.mss_val"});
  std::vector<std::string> rows;
  for (const auto& line : lines) {
    const auto c = split(line, '\t');
    if (c.size() < 19) {
      ADD_FAILURE() << "short tshark line: " << line;
      continue;
    }
    // The IP header right before TCP decides the family (tunnels can mix them).
    const auto protos = split(c[2], ':');
    bool v6 = false;
    for (std::size_t i = 0; i < protos.size() && protos[i] != "tcp"; ++i) {
      if (protos[i] == "ip") v6 = false;
      if (protos[i] == "ipv6") v6 = true;
    }
    try {
    const std::string src = last_of(v6 ? c[5] : c[3]), dst = last_of(v6 ? c[6] : c[4]);
    const unsigned ttl = static_cast<unsigned>(std::stoul(last_of(v6 ? c[8] : c[7])));
    // tshark leaves tcp.len empty in an IP fragment (it cannot know the segment's length).
    const std::string len = c[15].empty() ? "?" : c[15];
    // tshark lists every padding byte after an EOL as another EOL; the reader stops at the first.
    std::string kinds;
    if (!c[16].empty())
      for (const auto& k : split(c[16], ',')) {
        kinds += (kinds.empty() ? "" : ",") + k;
        if (k == "0") break;
      }
    rows.push_back(row(std::stoull(c[0]), c[1].empty() ? 0 : static_cast<std::uint32_t>(std::stoul(c[1])), src, dst,
                       static_cast<unsigned>(std::stoul(c[9])), static_cast<unsigned>(std::stoul(c[10])),
                       static_cast<std::uint32_t>(std::stoul(c[11])), static_cast<std::uint32_t>(std::stoul(c[12])),
                       static_cast<unsigned>(std::stoul(c[13], nullptr, 16) & 0xff),
                       static_cast<unsigned>(std::stoul(c[14])), len, ttl, kinds,
                       c[17], c[18]));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot read tshark line (" << e.what() << "): " << line;
    }
  }
  return rows;
}

std::string our_row(const PacketRecord& t) {
  std::string kinds;
  for (const auto& o : t.options) kinds += (kinds.empty() ? "" : ",") + std::to_string(static_cast<int>(o.kind));
  const auto ts = t.options.ts();
  const auto mss = t.options.mss_value();
  return row(t.frame, t.interface, t.src.addr.str(), t.dst.addr.str(), t.src.port, t.dst.port, t.seq, t.ack, t.flags,
             t.window, std::to_string(t.payload_len), t.ttl, kinds, ts ? std::to_string(ts->val) : "", mss ? std::to_string(*mss) : "");
}

struct ReadResult {
  std::vector<std::string> tcp_rows;
  std::vector<std::string> icmp_rows;
  std::vector<CaptureItem> items;
  CaptureStats stats;
  std::string format;
  int link_type = -1;
};

std::string icmp_row(const CaptureItem& it) {
  const IcmpRecord& r = it.icmp;
  return "#" + std::to_string(r.frame) + " " + r.reporter.str() + " quotes " + r.quoted_src.addr.str() + ":" +
         std::to_string(r.quoted_src.port) + " > " + r.quoted_dst.addr.str() + ":" + std::to_string(r.quoted_dst.port) +
         " seq " + std::to_string(r.quoted_seq);
}

ReadResult drain(CaptureReader& reader) {
  ReadResult out;
  CaptureItem it;
  while (reader.next(it)) {
    if (it.kind == CaptureItem::Kind::Tcp)
      out.tcp_rows.push_back(our_row(it.tcp));
    else
      out.icmp_rows.push_back(icmp_row(it));
    out.items.push_back(it);
  }
  out.stats = reader.stats();
  out.format = reader.format();
  out.link_type = reader.link_type();
  return out;
}

ReadResult read_all(const std::string& path) {
  auto reader = CaptureReader::open(path);
  return drain(reader);
}

std::vector<std::string> tshark_icmp_rows(const std::string& path) {
  const auto lines = tshark_fields(path, "(icmp.type == 3 || icmpv6.type == 1) && tcp",
                                   {"frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
                                    "tcp.srcport", "tcp.dstport", "tcp.seq", "tcp.seq_raw"});  // absolute inside ICMP
  std::vector<std::string> rows;
  for (const auto& line : lines) {
    const auto c = split(line, '\t');
    const bool v6 = c[1].find("icmpv6") != std::string::npos;
    const auto srcs = split(v6 ? c[4] : c[2], ','), dsts = split(v6 ? c[5] : c[3], ',');
    rows.push_back("#" + c[0] + " " + srcs.front() + " quotes " + srcs.back() + ":" + c[6] + " > " + dsts.back() + ":" +
                   c[7] + " seq " + (!c[8].empty() ? c[8] : !c[9].empty() ? c[9] : "?"));
  }
  return rows;
}

void expect_same_rows(const std::vector<std::string>& expected, const std::vector<std::string>& actual,
                      const std::string& what) {
  EXPECT_EQ(expected.size(), actual.size()) << what;
  for (std::size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
    std::string mine = actual[i];
    // Where tshark could not tell (tcp.len in a fragment, the sequence number quoted in ICMPv6),
    // the field is not compared.
    for (const std::string field : {" len ", " seq "}) {
      const auto want = expected[i].find(field + "?");
      const auto at = mine.find(field);
      if (want == std::string::npos || at == std::string::npos) continue;
      const auto end = mine.find(' ', at + field.size());
      mine.replace(at + field.size(), (end == std::string::npos ? mine.size() : end) - (at + field.size()), "?");
    }
    if (expected[i] != mine) {
      ADD_FAILURE() << what << ": first difference at record " << i << "\n tshark: " << expected[i]
                    << "\n reader: " << actual[i];
      return;
    }
  }
}

// Reads `path` and checks every TCP and ICMP record against tshark's dissection of the same file.
ReadResult expect_matches_tshark(const std::string& path) {
  ReadResult ours = read_all(path);
  expect_same_rows(tshark_tcp_rows(path), ours.tcp_rows, path + " (TCP)");
  expect_same_rows(tshark_icmp_rows(path), ours.icmp_rows, path + " (ICMP)");
  EXPECT_EQ(ours.stats.frames, tshark_frame_count(path)) << path;
  EXPECT_EQ(ours.stats.frames, ours.stats.tcp + ours.stats.icmp + ours.stats.other) << path;
  EXPECT_FALSE(ours.stats.stopped_early) << ours.stats.stop_reason;
  return ours;
}

// ------------------------------------------------------------------------------------------------
// Building frames
// ------------------------------------------------------------------------------------------------

void append(Bytes& b, std::initializer_list<std::uint8_t> v) { b.insert(b.end(), v.begin(), v.end()); }
void append(Bytes& b, const Bytes& v) { b.insert(b.end(), v.begin(), v.end()); }
void append16(Bytes& b, std::uint32_t v) { append(b, {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}); }
void append32(Bytes& b, std::uint32_t v) {
  append16(b, v >> 16);
  append16(b, v & 0xffff);
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes b;
  for (const auto& p : parts) append(b, p);
  return b;
}

// An IPv4/TCP packet exactly as the pcap writer puts it on the wire (checksums included).
Bytes ipv4_tcp(const Segment& s) {
  const auto frame = encode_ethernet_frame(s);
  return Bytes(frame.begin() + static_cast<std::ptrdiff_t>(kEthernetHeaderLen), frame.end());
}
Bytes tcp_of(const Segment& s) {
  const auto frame = encode_ethernet_frame(s);
  return Bytes(frame.begin() + static_cast<std::ptrdiff_t>(kEthernetHeaderLen + kIpv4HeaderLen), frame.end());
}

Bytes ipv4(std::uint8_t proto, const char* src, const char* dst, const Bytes& payload, Bytes options = {},
           std::uint16_t frag = 0x4000, std::uint8_t ttl = 64) {
  while (options.size() % 4) options.push_back(0);
  Bytes b;
  const std::size_t ihl = 20 + options.size();
  append(b, {static_cast<std::uint8_t>(0x40 | (ihl / 4)), 0});
  append16(b, static_cast<std::uint32_t>(ihl + payload.size()));
  append16(b, 0x1234);
  append16(b, frag);
  append(b, {ttl, proto, 0, 0});
  append32(b, Ipv4Addr::parse(src)->value);
  append32(b, Ipv4Addr::parse(dst)->value);
  append(b, options);
  put_be16(b.data() + 10, ones_complement_finish(ones_complement_add(b.data(), ihl)));
  append(b, payload);
  return b;
}

Bytes v6bytes(const char* text) {
  Bytes b(16);
  EXPECT_EQ(inet_pton(AF_INET6, text, b.data()), 1) << text;
  return b;
}

// IPv6 header + payload (the payload starts with whatever `next` says: an extension header or transport).
Bytes ipv6(std::uint8_t next, const char* src, const char* dst, const Bytes& payload, std::uint8_t hlim = 64) {
  Bytes b;
  append(b, {0x60, 0, 0, 0});
  append16(b, static_cast<std::uint32_t>(payload.size()));
  append(b, {next, hlim});
  append(b, v6bytes(src));
  append(b, v6bytes(dst));
  append(b, payload);
  return b;
}

// TCP for IPv6 addresses: the segment's TCP bytes with the checksum redone over the IPv6 pseudo header.
Bytes tcp6(const Segment& s, const char* src, const char* dst) {
  Bytes t = tcp_of(s);
  put_be16(t.data() + 16, 0);
  Bytes pseudo = cat({v6bytes(src), v6bytes(dst)});
  append32(pseudo, static_cast<std::uint32_t>(t.size()));
  append32(pseudo, 6);
  std::uint32_t sum = ones_complement_add(pseudo.data(), pseudo.size());
  sum = ones_complement_add(t.data(), t.size(), sum);
  put_be16(t.data() + 16, ones_complement_finish(sum));
  return t;
}

Bytes ethernet(std::uint16_t type, const Bytes& payload) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  append16(b, type);
  append(b, payload);
  return b;
}
Bytes tagged(std::initializer_list<std::pair<std::uint16_t, std::uint16_t>> tags, std::uint16_t type, const Bytes& payload) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  for (const auto& [tpid, vid] : tags) {
    append16(b, tpid);
    append16(b, vid);
  }
  append16(b, type);
  append(b, payload);
  return b;
}
Bytes udp(std::uint16_t sport, std::uint16_t dport, const Bytes& payload) {
  Bytes b;
  append16(b, sport);
  append16(b, dport);
  append16(b, static_cast<std::uint32_t>(8 + payload.size()));
  append16(b, 0);
  append(b, payload);
  return b;
}

Segment syn(const char* src, const char* dst, std::uint32_t isn, std::uint32_t tsval = 1000) {
  return make_segment(src, dst, isn, 0, SYN, 64240, linux_syn_options(1460, tsval, 0, 7));
}

struct Frame {
  Bytes bytes;
  std::uint32_t caplen = 0;   // 0: all of it
  std::uint32_t wire_len = 0; // 0: bytes.size()
};

// Writes frames with libpcap (pcap_open_dead + pcap_dump), one second apart, microsecond stamps.
void write_pcap(const std::string& path, int dlt, const std::vector<Frame>& frames, int snaplen = 262144) {
  pcap_t* p = pcap_open_dead(dlt, snaplen);
  ASSERT_NE(p, nullptr);
  pcap_dumper_t* d = pcap_dump_open(p, path.c_str());
  ASSERT_NE(d, nullptr) << pcap_geterr(p);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    pcap_pkthdr h{};
    h.ts.tv_sec = 1700000000 + static_cast<long>(i);
    h.ts.tv_usec = static_cast<long>(i * 1000 + 7);
    h.caplen = frames[i].caplen ? frames[i].caplen : static_cast<bpf_u_int32>(frames[i].bytes.size());
    h.len = frames[i].wire_len ? frames[i].wire_len : static_cast<bpf_u_int32>(frames[i].bytes.size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, frames[i].bytes.data());
  }
  pcap_dump_close(d);
  pcap_close(p);
}
void write_pcap(const std::string& path, int dlt, const std::vector<Bytes>& frames) {
  std::vector<Frame> f;
  for (const auto& b : frames) f.push_back({b});
  write_pcap(path, dlt, f);
}

void write_bytes(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

// ------------------------------------------------------------------------------------------------
// IpAddress
// ------------------------------------------------------------------------------------------------

TEST(IpAddress, Ipv4RoundTrip) {
  const auto a = IpAddress::from_v4(*Ipv4Addr::parse("10.85.3.111"));
  EXPECT_FALSE(a.v6);
  EXPECT_EQ(a.str(), "10.85.3.111");
  EXPECT_EQ(a.v4()->value, 0x0a55036fu);
  EXPECT_EQ(a.bytes[10], 0xff);
  EXPECT_EQ(a.bytes[11], 0xff);
  EXPECT_EQ(IpAddress::parse("10.85.3.111"), a);
  EXPECT_EQ(IpAddress::parse("0.0.0.0")->str(), "0.0.0.0");
  EXPECT_EQ(IpAddress::parse("255.255.255.255")->str(), "255.255.255.255");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "a.b.c.d"})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
}

TEST(IpAddress, Ipv6TextIsRfc5952) {
  const std::pair<const char*, const char*> cases[] = {
      {"2001:db8::1", "2001:db8::1"},
      {"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},   // leading zeros, uppercase
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},                // tie: the leftmost run
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},             // one zero group is not compressed
      {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},                      // the longest run wins
      {"::", "::"},
      {"::1", "::1"},
      {"1::", "1::"},
      {"fe80::", "fe80::"},
      {"0:0:0:0:0:0:0:0", "::"},
      {"1:0:0:0:0:0:0:0", "1::"},
      {"0:0:0:0:0:0:0:1", "::1"},
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
      {"1:2:3:4:5:6::", "1:2:3:4:5:6::"},
      {"1::8", "1::8"},
      {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},                       // "::" never stands for one group
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},                     // IPv4-mapped keeps the dotted tail
      {"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
      {"abcd:ef01:2345:6789:abcd:ef01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"},
  };
  for (const auto& [in, want] : cases) {
    const auto a = IpAddress::parse(in);
    ASSERT_TRUE(a) << in;
    EXPECT_TRUE(a->v6) << in;
    EXPECT_FALSE(a->v4()) << in;
    EXPECT_EQ(a->str(), want) << in;
    EXPECT_EQ(IpAddress::parse(a->str()), a) << in;  // the text reads back to the same address
  }
  for (const char* bad : {":", ":::", "1:::2", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
                          ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "g::", "1::2:3:4:5:6:7:8", "::1.2.3", "1.2.3.4::",
                          "::1.2.3.4:5", "fe80::1%eth0", "::ffff:256.0.0.1"})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
}

TEST(IpAddress, Ipv6TextAgreesWithInetNtop) {
  // glibc's inet_ntop follows RFC 5952 too, except that it prints ::a.b.c.d for the deprecated
  // IPv4-compatible range, which RFC 5952 does not ask for: those are left out.
  std::mt19937 rng(5952);
  for (int i = 0; i < 20000; ++i) {
    IpAddress a;
    a.v6 = true;
    for (int g = 0; g < 8; ++g) {
      const int pick = static_cast<int>(rng() % 4);
      const std::uint16_t v = pick < 2 ? 0 : pick == 2 ? static_cast<std::uint16_t>(rng() % 16) : static_cast<std::uint16_t>(rng());
      a.bytes[2 * g] = static_cast<std::uint8_t>(v >> 8);
      a.bytes[2 * g + 1] = static_cast<std::uint8_t>(v);
    }
    bool first96_zero = true;
    for (int k = 0; k < 12; ++k) first96_zero = first96_zero && a.bytes[k] == 0;
    if (first96_zero) continue;
    char buf[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf), nullptr);
    ASSERT_EQ(a.str(), buf);
    ASSERT_EQ(IpAddress::parse(buf), a) << buf;
  }
}

TEST(IpAddress, OrderingAndEquality) {
  const auto v4 = IpAddress::from_v4(*Ipv4Addr::parse("1.2.3.4"));
  const auto mapped = *IpAddress::parse("::ffff:1.2.3.4");
  EXPECT_EQ(v4.bytes, mapped.bytes);
  EXPECT_NE(v4, mapped);  // the family is part of the value
  EXPECT_LT(*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"));
}

// ------------------------------------------------------------------------------------------------
// Real captures
// ------------------------------------------------------------------------------------------------

TEST(CaptureReaderReal, LinuxCookedV1InPcapng) {
  const auto r = expect_matches_tshark(pcap_path("ndpi_rtsp.pcap"));
  EXPECT_EQ(r.link_type, DLT_LINUX_SLL);
  EXPECT_EQ(r.format, "pcapng");  // despite the name
  EXPECT_EQ(r.stats.tcp, 568u);
  ASSERT_EQ(r.stats.link_types.size(), 1u);
  EXPECT_EQ(r.stats.link_types[0].name, "LINUX_SLL");
  EXPECT_EQ(r.stats.link_types[0].frames, 568u);
}

TEST(CaptureReaderReal, RawIp) {
  const auto r = expect_matches_tshark(pcap_path("ndpi_ocs.pcap"));
  EXPECT_EQ(r.link_type, DLT_RAW);
  EXPECT_EQ(r.format, "pcap");
  EXPECT_EQ(r.stats.tcp, 938u);
  EXPECT_EQ(r.stats.other, 8u);  // DNS over UDP
}

TEST(CaptureReaderReal, SynScanPcapng) {
  const auto r = expect_matches_tshark(pcap_path("cs_synscan.pcapng"));
  EXPECT_EQ(r.link_type, DLT_EN10MB);
  EXPECT_EQ(r.stats.frames, 2011u);
  std::size_t syns = 0;
  for (const auto& it : r.items) syns += it.tcp.is_syn();
  TempDir dir;
  EXPECT_EQ(syns, split_lines(run_command(tshark() + " -r " + quote(pcap_path("cs_synscan.pcapng")) +
                                              " -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.flags.reset == 0'",
                                          dir)
                                  .out)
                      .size());
  // Times are the file's, to the nanosecond libpcap hands out.
  const auto first = split_lines(run_command(tshark() + " -r " + quote(pcap_path("cs_synscan.pcapng")) +
                                                 " -c 1 -T fields -e frame.time_epoch",
                                             dir)
                                     .out);
  ASSERT_EQ(first.size(), 1u);
  const auto dot = first[0].find('.');
  const std::int64_t want = std::stoll(first[0].substr(0, dot)) * 1000000000 + std::stoll(first[0].substr(dot + 1));
  EXPECT_EQ(r.items.front().tcp.ts.unix_ns, want);
}

TEST(CaptureReaderReal, ArubaGreTunnelOf80211) {
  const auto r = expect_matches_tshark(pcap_path("zeek_gre-aruba.pcap"));
  const auto wlan = static_cast<std::size_t>(TunnelKind::Wlan);
  EXPECT_EQ(r.stats.tcp, 2407u);
  EXPECT_EQ(r.stats.tunnelled[wlan], 2407u);
  EXPECT_EQ(r.stats.tunnelled_tcp[wlan], 2407u);
  EXPECT_EQ(r.stats.tunnelled_total(), 2407u);
  EXPECT_EQ(r.stats.vlan, 2407u);  // the outer frames carry VLAN 300
  for (const auto& it : r.items) {
    ASSERT_EQ(it.tcp.encapsulation, Encapsulation::Tunnel);
    ASSERT_EQ(it.tunnel, TunnelKind::Wlan);
  }
  EXPECT_EQ(tunnel_name(TunnelKind::Wlan), "802.11 in GRE");
}

TEST(CaptureReaderReal, ErspanOverGre) {
  const auto r = expect_matches_tshark(pcap_path("sv_bug-5437-02_erspan.pcap"));
  const auto erspan = static_cast<std::size_t>(TunnelKind::Erspan);
  EXPECT_EQ(r.stats.tcp, 60u);
  EXPECT_EQ(r.stats.tunnelled[erspan], 60u);
  EXPECT_EQ(r.stats.tunnelled_tcp[erspan], 60u);
  EXPECT_EQ(r.items.front().tunnel, TunnelKind::Erspan);
  // The inner flow, not the mirror's addresses.
  EXPECT_EQ(r.items.front().tcp.src.addr.str(), "41.108.52.138");
  EXPECT_TRUE(r.items.front().tcp.is_syn());
}

TEST(CaptureReaderReal, NmapScansEvidence04) {
  const auto r = expect_matches_tshark(pcap_path("mk_evidence04.pcap"));
  EXPECT_EQ(r.stats.frames, 13625u);
  EXPECT_EQ(r.stats.tcp, 13581u);
  EXPECT_EQ(r.stats.tunnelled_total(), 0u);
  EXPECT_EQ(r.stats.bad_tcp_options, 0u);
}

TEST(CaptureReaderReal, FtpCrackDuplicatedCapture) {
  const auto r = expect_matches_tshark(pcap_path("cs_ppa1e_ftp-crack.pcap"));
  EXPECT_EQ(r.stats.frames, 19730u);
  EXPECT_EQ(r.stats.tcp, 19730u);
  // The file holds the capture twice: time restarts at frame 9866.
  ASSERT_GT(r.items.size(), 9866u);
  EXPECT_LT(r.items[9865].tcp.ts.unix_ns, r.items[9864].tcp.ts.unix_ns);
}

TEST(CaptureReaderReal, IcmpUnreachablesQuotingTcp) {
  const auto r = expect_matches_tshark(pcap_path("ndpi_gnutella.pcap"));
  EXPECT_EQ(r.stats.icmp, 4u);
  for (const auto& it : r.items)
    if (it.kind == CaptureItem::Kind::Icmp) {
      EXPECT_EQ(it.icmp.kind, IcmpKind::HostUnreachable);
      EXPECT_EQ(it.icmp.reporter.str(), "10.0.2.2");  // the VirtualBox NAT gateway
      EXPECT_EQ(it.icmp.quoted_src.addr.str(), "10.0.2.15");
    }
}

TEST(CaptureReaderReal, EveryPublicCaptureCountsLikeTshark) {
  // Cheaper than the field-by-field check: TCP and ICMP-quoting-TCP frame counts for every file.
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SYNSCOPE_SOURCE_DIR) + "/../shared/pcaps")) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".pcap" && entry.path().extension() != ".pcapng") continue;
    const auto r = read_all(path);
    std::size_t tcp = 0, icmp = 0;  // one tshark pass: frames with TCP, split by the ICMP around it
    for (const auto& line : tshark_fields(path, "tcp", {"icmp.type", "icmpv6.type"})) {
      const auto c = split(line, '\t');
      if (c[0].empty() && c[1].empty()) ++tcp;
      if (c[0] == "3" || c[1] == "1") ++icmp;
    }
    EXPECT_EQ(r.stats.tcp, tcp) << path;
    EXPECT_EQ(r.stats.icmp, icmp) << path;
    EXPECT_FALSE(r.stats.stopped_early) << path << ": " << r.stats.stop_reason;
    EXPECT_EQ(r.stats.malformed, 0u) << path;
  }
}

// ------------------------------------------------------------------------------------------------
// Our own pcap writer
// ------------------------------------------------------------------------------------------------

TEST(CaptureReaderWriter, ReadsBackWhatPcapWriterWrote) {
  TempDir dir;
  const std::string path = dir.file("sim.pcap");
  std::vector<std::pair<Segment, WallTime>> sent;
  {
    PcapWriter w(path);
    WallTime t = at("2019-06-03 22:45:10.015335");
    Segment s1 = syn("10.85.3.51:34264", "10.85.3.111:19090", 56395606, 1759176699);
    s1.ttl = 63;
    s1.ip_id = 4242;
    Segment s2 = make_segment("10.85.3.111:19090", "10.85.3.51:34264", 9000, 56395607, SYN | ACK, 28960,
                              linux_syn_options(1460, 77, 1759176699, 7));
    Segment s3 = make_segment("10.85.3.51:34264", "10.85.3.111:19090", 56395607, 9001, ACK | PSH, 502, ts_options(5, 77), 1448);
    TcpOptions odd;  // unknown kind (30, MPTCP-like, 2 data bytes), then an unaligned list padded with EOL
    odd.push({static_cast<TcpOptionKind>(30), 0x1234, 2});
    odd.sack_ok();
    odd.nop();
    Segment s4 = make_segment("10.1.1.1:1", "10.1.1.2:2", 1, 2, FIN | ACK, 1, odd);
    for (const Segment& s : {s1, s2, s3, s4}) {
      w.write(s, t);
      sent.emplace_back(s, t);
      t = t + millis(1500);
    }
  }
  const auto r = expect_matches_tshark(path);
  ASSERT_EQ(r.items.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const auto& [s, t] = sent[i];
    const PacketRecord& p = r.items[i].tcp;
    EXPECT_EQ(p.frame, i + 1);
    EXPECT_EQ(p.ts.unix_ns, t.unix_ns);
    EXPECT_EQ(p.src.addr.v4(), s.src.addr);
    EXPECT_EQ(p.dst.addr.v4(), s.dst.addr);
    EXPECT_EQ(p.src.port, s.src.port);
    EXPECT_EQ(p.dst.port, s.dst.port);
    EXPECT_EQ(p.seq, s.seq);
    EXPECT_EQ(p.ack, s.ack);
    EXPECT_EQ(p.flags, s.flags);
    EXPECT_EQ(p.window, s.window);
    EXPECT_EQ(p.payload_len, s.payload_len);
    EXPECT_EQ(p.ttl, s.ttl);
    EXPECT_FALSE(p.truncated);
    EXPECT_EQ(p.encapsulation, Encapsulation::None);
    if (i < 3) {
      EXPECT_TRUE(p.options == s.options) << i;
    }
  }
  // The hand-made list comes back as written, plus the one EOL that pads it to 4 bytes.
  const TcpOptions& o = r.items[3].tcp.options;
  ASSERT_EQ(o.size(), 4u);
  EXPECT_EQ(static_cast<int>(o.begin()[0].kind), 30);
  EXPECT_EQ(o.begin()[0].a, 0x1234u);
  EXPECT_EQ(o.begin()[0].b, 2u);
  EXPECT_EQ(o.begin()[1].kind, TcpOptionKind::SackPermitted);
  EXPECT_EQ(o.begin()[2].kind, TcpOptionKind::Nop);
  EXPECT_EQ(o.begin()[3].kind, TcpOptionKind::Eol);
  TcpOptionBytes again{};
  TcpOptionBytes orig{};
  EXPECT_EQ(encode_tcp_options(o, again), encode_tcp_options(sent[3].first.options, orig));
  EXPECT_EQ(again, orig);
}

// ------------------------------------------------------------------------------------------------
// Link types written here
// ------------------------------------------------------------------------------------------------

Bytes sll2(std::uint16_t protocol, std::uint16_t hatype, const Bytes& payload) {
  Bytes b;
  append16(b, protocol);
  append16(b, 0);
  append32(b, 1);           // ifindex
  append16(b, hatype);
  append(b, {0, 6});        // packet type "to us", address length
  append(b, {0x02, 0, 0, 0, 0, 0x01, 0, 0});
  append(b, payload);
  return b;
}

TEST(CaptureReaderLinks, LinuxCookedV2) {
  TempDir dir;
  const std::string path = dir.file("sll2.pcap");
  const Bytes arp(28, 0);
  write_pcap(path, DLT_LINUX_SLL2,
             std::vector<Bytes>{sll2(0x0800, 1, ipv4_tcp(syn("192.0.2.1:40000", "192.0.2.2:80", 111))),
                                sll2(0x86dd, 1, ipv6(6, "2001:db8::1", "2001:db8::2",
                                                     tcp6(syn("0.0.0.0:40001", "0.0.0.0:443", 222), "2001:db8::1", "2001:db8::2"))),
                                sll2(0x0806, 1, arp),
                                sll2(0x0800, 772, ipv4_tcp(syn("127.0.0.1:40002", "127.0.0.1:8080", 333))),  // loopback
                                sll2(0x0010, 824, Bytes(20, 0))});  // netlink: not IP
  const auto r = expect_matches_tshark(path);
  EXPECT_EQ(r.link_type, DLT_LINUX_SLL2);
  EXPECT_EQ(r.stats.tcp, 3u);
  EXPECT_EQ(r.stats.ipv6, 1u);
  EXPECT_EQ(r.stats.other, 2u);
  EXPECT_EQ(r.items[1].tcp.src.addr.str(), "2001:db8::1");
  EXPECT_TRUE(r.items[1].tcp.src.addr.v6);
}

Bytes null_header(std::uint32_t family, bool big_endian) {
  Bytes b(4);
  if (big_endian)
    put_be32(b.data(), family);
  else
    b = {static_cast<std::uint8_t>(family), static_cast<std::uint8_t>(family >> 8), 0, 0};
  return b;
}

TEST(CaptureReaderLinks, BsdLoopbackBothByteOrders) {
  TempDir dir;
  const Bytes v4 = ipv4_tcp(syn("127.0.0.1:50000", "127.0.0.1:22", 1));
  const Bytes v6 = ipv6(6, "::1", "::1", tcp6(syn("0.0.0.0:50001", "0.0.0.0:22", 2), "::1", "::1"));
  const std::string null_path = dir.file("null.pcap");
  write_pcap(null_path, DLT_NULL,
             std::vector<Bytes>{cat({null_header(2, false), v4}),     // AF_INET, little-endian host
                                cat({null_header(2, true), v4}),      // AF_INET, big-endian host
                                cat({null_header(30, false), v6}),    // AF_INET6 on Darwin
                                cat({null_header(28, true), v6}),     // AF_INET6 on FreeBSD, big-endian
                                cat({null_header(24, false), v6}),    // AF_INET6 on NetBSD/OpenBSD
                                cat({null_header(7, false), Bytes(20, 0)})});  // some other family
  const auto r = expect_matches_tshark(null_path);
  EXPECT_EQ(r.link_type, DLT_NULL);
  EXPECT_EQ(r.stats.tcp, 5u);
  EXPECT_EQ(r.stats.ipv6, 3u);
  EXPECT_EQ(r.stats.other, 1u);

  const std::string loop_path = dir.file("loop.pcap");  // OpenBSD's DLT_LOOP: always network byte order
  write_pcap(loop_path, DLT_LOOP, std::vector<Bytes>{cat({null_header(2, true), v4}), cat({null_header(24, true), v6})});
  const auto l = expect_matches_tshark(loop_path);
  EXPECT_EQ(l.link_type, DLT_LOOP);
  EXPECT_EQ(l.stats.tcp, 2u);
}

TEST(CaptureReaderLinks, RawIpVariants) {
  TempDir dir;
  const Bytes v4 = ipv4_tcp(syn("198.51.100.1:1234", "198.51.100.2:80", 10));
  const Bytes v6 = ipv6(6, "2001:db8:1::1", "2001:db8:2::2", tcp6(syn("0.0.0.0:1235", "0.0.0.0:80", 11), "2001:db8:1::1", "2001:db8:2::2"));
  const std::string raw = dir.file("raw.pcap");
  write_pcap(raw, DLT_RAW, std::vector<Bytes>{v4, v6, Bytes{0x20, 0, 0, 0}});
  const auto r = expect_matches_tshark(raw);
  EXPECT_EQ(r.stats.tcp, 2u);
  EXPECT_EQ(r.stats.other, 1u);  // version 2: not IP
  const std::string ip4 = dir.file("ipv4.pcap");
  write_pcap(ip4, DLT_IPV4, std::vector<Bytes>{v4});
  EXPECT_EQ(expect_matches_tshark(ip4).stats.tcp, 1u);
  const std::string ip6 = dir.file("ipv6.pcap");
  write_pcap(ip6, DLT_IPV6, std::vector<Bytes>{v6});
  EXPECT_EQ(expect_matches_tshark(ip6).stats.ipv6, 1u);
}

Bytes snap(std::uint16_t type, const Bytes& payload) {
  Bytes b = {0xaa, 0xaa, 0x03, 0, 0, 0};
  append16(b, type);
  append(b, payload);
  return b;
}

// An 802.11 data frame (to the DS), optionally QoS, with an LLC/SNAP body.
Bytes wlan_data(const Bytes& body, bool qos, bool is_protected = false) {
  Bytes b = {static_cast<std::uint8_t>(qos ? 0x88 : 0x08), static_cast<std::uint8_t>(0x01 | (is_protected ? 0x40 : 0)), 0, 0};
  append(b, {0x02, 0, 0, 0, 0, 0x10, 0x02, 0, 0, 0, 0, 0x11, 0x02, 0, 0, 0, 0, 0x12, 0x10, 0x00});
  if (qos) append(b, {0, 0});
  append(b, body);
  return b;
}

TEST(CaptureReaderLinks, Ieee80211AndRadiotap) {
  TempDir dir;
  const Bytes body = snap(0x0800, ipv4_tcp(syn("192.168.1.10:5000", "192.168.1.1:80", 77)));
  const Bytes beacon = {0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1,
                        2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64, 0, 0, 0};
  const std::string path = dir.file("wlan.pcap");
  write_pcap(path, DLT_IEEE802_11,
             std::vector<Bytes>{wlan_data(body, false), wlan_data(body, true), beacon, wlan_data(Bytes(40, 0x5a), false, true)});
  const auto r = expect_matches_tshark(path);
  EXPECT_EQ(r.stats.tcp, 2u);
  EXPECT_EQ(r.stats.other, 2u);

  const Bytes radiotap = {0, 0, 8, 0, 0, 0, 0, 0};  // version 0, length 8, nothing present
  const std::string rpath = dir.file("radiotap.pcap");
  write_pcap(rpath, DLT_IEEE802_11_RADIO, std::vector<Bytes>{cat({radiotap, wlan_data(body, true)})});
  EXPECT_EQ(expect_matches_tshark(rpath).stats.tcp, 1u);
}

TEST(CaptureReaderLinks, UnsupportedLinkTypeIsRefused) {
  TempDir dir;
  const std::string path = dir.file("usb.pcap");
  write_pcap(path, DLT_USB_LINUX, std::vector<Bytes>{Bytes(48, 0)});
  try {
    CaptureReader::open(path);
    FAIL() << "expected CaptureError";
  } catch (const CaptureError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unsupported link type 189 (USB_LINUX"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_TRUE(one_line(msg)) << msg;
  }
  // CaptureError is a UsageError: the CLI's "one line, exit 2" path.
  EXPECT_THROW(CaptureReader::open(path), UsageError);
}

// ------------------------------------------------------------------------------------------------
// Tags, IP variants, tunnels: one Ethernet capture with a bit of everything
// ------------------------------------------------------------------------------------------------

Bytes gre(std::uint16_t flags, std::uint16_t proto, const std::vector<std::uint32_t>& words, const Bytes& payload) {
  Bytes b;
  append16(b, flags);
  append16(b, proto);
  for (auto w : words) append32(b, w);
  append(b, payload);
  return b;
}

struct Zoo {
  std::vector<Bytes> frames;
};

Zoo make_zoo() {
  Zoo z;
  auto& f = z.frames;
  const Bytes v4syn = ipv4_tcp(syn("10.0.0.1:40000", "10.0.0.2:80", 1000));
  const Bytes inner_eth = ethernet(0x0800, ipv4_tcp(syn("172.16.0.1:40100", "172.16.0.2:443", 2000)));
  const char* a6 = "2001:db8::a";
  const char* b6 = "2001:db8::b";
  const Bytes t6 = tcp6(syn("0.0.0.0:40200", "0.0.0.0:22", 3000), a6, b6);

  f.push_back(ethernet(0x0800, v4syn));                                            // 1 plain
  f.push_back(tagged({{0x8100, 100}}, 0x0800, v4syn));                             // 2 802.1Q
  f.push_back(tagged({{0x88a8, 200}, {0x8100, 300}}, 0x0800, v4syn));              // 3 QinQ (802.1ad + 802.1Q)
  f.push_back(ethernet(0x86dd, ipv6(6, a6, b6, t6)));                              // 4 IPv6
  {                                                                                // 5 IPv6 + hop-by-hop, dest opts, fragment (offset 0)
    Bytes ext;
    append(ext, {60, 0, 1, 4, 0, 0, 0, 0});  // hop-by-hop → dest opts: PadN
    append(ext, {44, 0, 1, 4, 0, 0, 0, 0});  // dest opts → fragment
    append(ext, {6, 0, 0, 0, 0, 0, 0, 42});  // fragment → TCP, offset 0, M=0
    f.push_back(ethernet(0x86dd, ipv6(0, a6, b6, cat({ext, t6}))));
  }
  {                                                                                // 6 IPv6 non-first fragment
    Bytes ext = {6, 0, 0, 16, 0, 0, 0, 43};  // offset 2 (x8 bytes)
    f.push_back(ethernet(0x86dd, ipv6(44, a6, b6, cat({ext, Bytes(24, 0x11)}))));
  }
  f.push_back(ethernet(0x0800, ipv4(6, "10.0.0.3", "10.0.0.4", tcp_of(syn("10.0.0.3:1", "10.0.0.4:2", 4000)),
                                    {0x94, 0x04, 0, 0})));                         // 7 IPv4 with router alert option
  f.push_back(ethernet(0x0800, ipv4(6, "10.0.0.5", "10.0.0.6", tcp_of(syn("10.0.0.5:1", "10.0.0.6:2", 5000)), {},
                                    0x2000)));                                     // 8 first fragment (MF)
  f.push_back(ethernet(0x0800, ipv4(6, "10.0.0.5", "10.0.0.6", Bytes(16, 0x22), {}, 0x0005)));  // 9 later fragment
  f.push_back(ethernet(0x0800, ipv4(47, "192.0.2.1", "192.0.2.2",
                                    gre(0x3000, 0x0800, {0xdeadbeef, 7}, v4syn))));  // 10 GRE with key+seq → IPv4
  f.push_back(ethernet(0x0800, ipv4(47, "192.0.2.1", "192.0.2.2", gre(0, 0x6558, {}, inner_eth))));  // 11 GRE TEB
  {                                                                                // 12 ERSPAN type III
    Bytes hdr = {0x20, 0x0a, 0x00, 0x05};  // version 2, VLAN 10, session 5
    append32(hdr, 0x01020304);             // timestamp
    append(hdr, {0, 0, 0, 0});             // SGT 0, frame type 0 (Ethernet), no sub-header
    f.push_back(ethernet(0x0800, ipv4(47, "192.0.2.3", "192.0.2.4", gre(0x1000, 0x22eb, {1}, cat({hdr, inner_eth})))));
  }
  f.push_back(ethernet(0x0800, ipv4(47, "192.0.2.3", "192.0.2.4", gre(0, 0x88be, {}, inner_eth))));  // 13 ERSPAN type I
  f.push_back(ethernet(0x0800, ipv4(4, "192.0.2.5", "192.0.2.6", v4syn)));                     // 14 IPv4 in IPv4
  f.push_back(ethernet(0x0800, ipv4(41, "192.0.2.5", "192.0.2.6", ipv6(6, a6, b6, t6))));       // 15 IPv6 in IPv4
  f.push_back(ethernet(0x86dd, ipv6(4, "2001:db8:ffff::1", "2001:db8:ffff::2", v4syn)));        // 16 IPv4 in IPv6
  f.push_back(ethernet(0x0800, ipv4(17, "192.0.2.7", "192.0.2.8",
                                    udp(51000, 4789, cat({Bytes{0x08, 0, 0, 0, 0, 0, 0x2a, 0}, inner_eth})))));  // 17 VXLAN
  f.push_back(ethernet(0x0800, ipv4(17, "192.0.2.7", "192.0.2.8",
                                    udp(51001, 6081, cat({Bytes{0, 0, 0x65, 0x58, 0, 0, 0x2a, 0}, inner_eth})))));  // 18 Geneve
  f.push_back(ethernet(0x8847, cat({Bytes{0x00, 0x01, 0x01, 0x40}, v4syn})));     // 19 MPLS, one label
  f.push_back(ethernet(0x8864, cat({Bytes{0x11, 0x00, 0x00, 0x01}, Bytes{static_cast<std::uint8_t>((v4syn.size() + 2) >> 8),
                                                                        static_cast<std::uint8_t>(v4syn.size() + 2), 0x00, 0x21},
                                    v4syn})));                                     // 20 PPPoE session
  {                                                                                // 21 802.3 + LLC/SNAP
    const Bytes body = snap(0x0800, v4syn);
    Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    append16(b, static_cast<std::uint32_t>(body.size()));
    append(b, body);
    f.push_back(b);
  }
  {                                                                                // 22 ICMP port unreachable quoting TCP
    const Bytes quoted(v4syn.begin(), v4syn.begin() + 28);
    Bytes icmp = {3, 3, 0, 0, 0, 0, 0, 0};
    append(icmp, quoted);
    put_be16(icmp.data() + 2, ones_complement_finish(ones_complement_add(icmp.data(), icmp.size())));
    f.push_back(ethernet(0x0800, ipv4(1, "10.0.0.2", "10.0.0.1", icmp)));
  }
  {                                                                                // 23 ICMPv6 admin prohibited quoting TCP
    const Bytes quoted = ipv6(6, a6, b6, t6);
    Bytes icmp = {1, 1, 0, 0, 0, 0, 0, 0};
    append(icmp, Bytes(quoted.begin(), quoted.begin() + 48));
    Bytes pseudo = cat({v6bytes("2001:db8::fe"), v6bytes(a6)});
    append32(pseudo, static_cast<std::uint32_t>(icmp.size()));
    append32(pseudo, 58);
    put_be16(icmp.data() + 2, ones_complement_finish(ones_complement_add(icmp.data(), icmp.size(),
                                                                         ones_complement_add(pseudo.data(), pseudo.size()))));
    f.push_back(ethernet(0x86dd, ipv6(58, "2001:db8::fe", a6, icmp)));
  }
  f.push_back(ethernet(0x0806, Bytes(28, 0)));                                     // 24 ARP
  f.push_back(ethernet(0x0800, ipv4(17, "10.0.0.1", "10.0.0.53", udp(5353, 53, Bytes(12, 0)))));  // 25 UDP
  {                                                                                // 26 TCP with SACK, TFO cookie, EOL
    TcpOptions o;
    o.nop();
    o.nop();
    o.push({static_cast<TcpOptionKind>(5), 0x01020304, 8});   // SACK block (8 data bytes; only 4 are written...)
    Segment s = make_segment("10.0.0.2:80", "10.0.0.1:40000", 9, 10, ACK, 100, {});
    Bytes t = tcp_of(s);
    // Build the options by hand: nop, nop, SACK 1 block, TFO cookie (kind 34, 4 bytes), eol, padding.
    Bytes opts = {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 34, 6, 0xa, 0xb, 0xc, 0xd, 0, 0};
    Bytes tcp(t.begin(), t.begin() + 20);
    tcp[12] = static_cast<std::uint8_t>(((20 + opts.size()) / 4) << 4);
    append(tcp, opts);
    f.push_back(ethernet(0x0800, ipv4(6, "10.0.0.2", "10.0.0.1", tcp)));
  }
  {                                                                                // 27 PPTP: enhanced GRE (key, sequence), PPP
    const Bytes ppp = cat({Bytes{0xff, 0x03, 0x00, 0x21}, v4syn});
    f.push_back(ethernet(0x0800, ipv4(47, "192.0.2.9", "192.0.2.10",
                                      gre(0x3001, 0x880b, {static_cast<std::uint32_t>(ppp.size() << 16) | 1, 9}, ppp))));
  }
  f.push_back(ethernet(0x0800, ipv4(47, "192.0.2.11", "192.0.2.12",
                                    gre(0, 0x8200, {}, wlan_data(Bytes(40, 0x33), true, true)))));  // 28 encrypted 802.11 in GRE
  return z;
}

TEST(CaptureReaderZoo, TagsIpVariantsAndTunnelsMatchTshark) {
  TempDir dir;
  const std::string path = dir.file("zoo.pcap");
  const Zoo z = make_zoo();
  write_pcap(path, DLT_EN10MB, z.frames);
  const auto r = expect_matches_tshark(path);
  const CaptureStats& s = r.stats;
  EXPECT_EQ(s.frames, 28u);
  EXPECT_EQ(s.tcp, 21u);
  EXPECT_EQ(s.icmp, 2u);
  EXPECT_EQ(s.other, 5u);  // later fragments (2), ARP, UDP, and the encrypted tunnel frame
  EXPECT_EQ(s.vlan, 2u);
  EXPECT_EQ(s.fragments_skipped, 2u);
  EXPECT_EQ(s.malformed, 0u);
  auto at_kind = [&](const std::array<std::uint64_t, kTunnelKindCount>& a, TunnelKind k) { return a[static_cast<std::size_t>(k)]; };
  EXPECT_EQ(at_kind(s.tunnelled, TunnelKind::Gre), 2u);          // GRE→IPv4, PPTP
  EXPECT_EQ(at_kind(s.tunnelled, TunnelKind::GreEthernet), 1u);
  EXPECT_EQ(at_kind(s.tunnelled, TunnelKind::Erspan), 2u);
  EXPECT_EQ(at_kind(s.tunnelled, TunnelKind::IpInIp), 3u);
  EXPECT_EQ(at_kind(s.tunnelled, TunnelKind::Vxlan), 1u);
  EXPECT_EQ(at_kind(s.tunnelled, TunnelKind::Geneve), 1u);
  EXPECT_EQ(at_kind(s.tunnelled, TunnelKind::Wlan), 1u);
  EXPECT_EQ(at_kind(s.tunnel_opaque, TunnelKind::Wlan), 1u);     // protected: cannot be opened
  EXPECT_EQ(at_kind(s.tunnelled_tcp, TunnelKind::Wlan), 0u);
  EXPECT_EQ(s.tunnelled_total(), 11u);

  std::map<std::uint64_t, const CaptureItem*> by_frame;
  for (const auto& it : r.items) by_frame[it.frame] = &it;
  EXPECT_EQ(by_frame.at(1)->encapsulation, Encapsulation::None);
  EXPECT_EQ(by_frame.at(2)->tcp.encapsulation, Encapsulation::Vlan);
  EXPECT_EQ(by_frame.at(3)->tcp.encapsulation, Encapsulation::Vlan);
  EXPECT_EQ(by_frame.at(11)->tunnel, TunnelKind::GreEthernet);
  EXPECT_EQ(by_frame.at(11)->tcp.src.addr.str(), "172.16.0.1");
  EXPECT_EQ(by_frame.at(12)->tunnel, TunnelKind::Erspan);
  EXPECT_EQ(by_frame.at(15)->tcp.src.addr.str(), "2001:db8::a");
  EXPECT_EQ(by_frame.at(15)->tcp.encapsulation, Encapsulation::Tunnel);
  EXPECT_EQ(by_frame.at(5)->tcp.payload_len, 0u);
  EXPECT_EQ(by_frame.at(7)->tcp.seq, 4000u);
  const auto& icmp4 = by_frame.at(22)->icmp;
  EXPECT_EQ(by_frame.at(22)->kind, CaptureItem::Kind::Icmp);
  EXPECT_EQ(icmp4.kind, IcmpKind::PortUnreachable);
  EXPECT_EQ(icmp4.quoted_seq, 1000u);
  EXPECT_EQ(icmp4.quoted_dst.port, 80);
  const auto& icmp6 = by_frame.at(23)->icmp;
  EXPECT_EQ(icmp6.kind, IcmpKind::AdminProhibited);
  EXPECT_EQ(icmp6.reporter.str(), "2001:db8::fe");
  EXPECT_EQ(icmp6.quoted_src.addr.str(), "2001:db8::a");
  const TcpOptions& o = by_frame.at(26)->tcp.options;
  ASSERT_EQ(o.size(), 5u);  // nop, nop, SACK, TFO, eol
  EXPECT_EQ(static_cast<int>(o.begin()[2].kind), 5);
  EXPECT_EQ(o.begin()[2].a, 1u);  // first 4 data bytes: the left edge
  EXPECT_EQ(o.begin()[2].b, 8u);  // data length
  EXPECT_EQ(static_cast<int>(o.begin()[3].kind), 34);
  EXPECT_EQ(o.begin()[3].a, 0x0a0b0c0du);
  EXPECT_EQ(o.begin()[4].kind, TcpOptionKind::Eol);
}

// ------------------------------------------------------------------------------------------------
// pcapng with several interfaces (written by hand: no tool here writes one with chosen ids)
// ------------------------------------------------------------------------------------------------

void le16to(Bytes& b, std::uint32_t v) { append(b, {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8)}); }
void le32to(Bytes& b, std::uint32_t v) {
  le16to(b, v & 0xffff);
  le16to(b, v >> 16);
}

struct PcapngBuilder {
  Bytes out;
  std::vector<std::uint64_t> packet_block_ends;
  PcapngBuilder() {
    le32to(out, 0x0A0D0D0A);
    le32to(out, 28);
    le32to(out, 0x1A2B3C4D);
    le16to(out, 1);
    le16to(out, 0);
    le32to(out, 0xffffffff);  // section length unknown
    le32to(out, 0xffffffff);
    le32to(out, 28);
  }
  void interface(std::uint16_t linktype) {
    le32to(out, 1);
    le32to(out, 20);
    le16to(out, linktype);
    le16to(out, 0);
    le32to(out, 262144);
    le32to(out, 20);
  }
  void epb(std::uint32_t iface, std::uint64_t usec, const Bytes& data) {
    const std::uint32_t padded = static_cast<std::uint32_t>((data.size() + 3) / 4 * 4);
    le32to(out, 6);
    le32to(out, 32 + padded);
    le32to(out, iface);
    le32to(out, static_cast<std::uint32_t>(usec >> 32));
    le32to(out, static_cast<std::uint32_t>(usec));
    le32to(out, static_cast<std::uint32_t>(data.size()));
    le32to(out, static_cast<std::uint32_t>(data.size()));
    append(out, data);
    out.resize(out.size() + (padded - data.size()), 0);
    le32to(out, 32 + padded);
    packet_block_ends.push_back(out.size());
  }
  void spb(const Bytes& data) {
    const std::uint32_t padded = static_cast<std::uint32_t>((data.size() + 3) / 4 * 4);
    le32to(out, 3);
    le32to(out, 16 + padded);
    le32to(out, static_cast<std::uint32_t>(data.size()));
    append(out, data);
    out.resize(out.size() + (padded - data.size()), 0);
    le32to(out, 16 + padded);
    packet_block_ends.push_back(out.size());
  }
  void save(const std::string& path) const { write_bytes(path, std::string(out.begin(), out.end())); }
};

TEST(CaptureReaderPcapng, InterfaceIdsOfSeveralInterfaces) {
  TempDir dir;
  PcapngBuilder b;
  b.interface(1);
  b.interface(1);
  b.interface(1);
  std::vector<std::uint32_t> ids;
  for (std::uint32_t i = 0; i < 40; ++i) {
    const std::uint32_t iface = (i * 7 + i / 3) % 3;
    b.epb(iface, 1700000000000000ull + i * 1000,
          ethernet(0x0800, ipv4_tcp(syn("10.9.0.1:30000", "10.9.0.2:80", 100 + i))));
    ids.push_back(iface);
  }
  b.spb(ethernet(0x0800, ipv4_tcp(syn("10.9.0.1:30001", "10.9.0.2:80", 999))));  // simple packet block: interface 0
  ids.push_back(0);
  const std::string path = dir.file("multi.pcapng");
  b.save(path);
  const auto r = expect_matches_tshark(path);  // the rows include frame.interface_id
  ASSERT_EQ(r.items.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(r.items[i].interface, ids[i]) << i;
    EXPECT_EQ(r.items[i].tcp.interface, ids[i]) << i;
  }
  EXPECT_EQ(r.format, "pcapng");
  std::set<std::uint32_t> seen(ids.begin(), ids.end());
  EXPECT_EQ(seen.size(), 3u);
}

TEST(CaptureReaderPcapng, MixedLinkTypesStopWithLibpcapsReason) {
  TempDir dir;
  PcapngBuilder b;
  b.interface(1);
  b.epb(0, 1, ethernet(0x0800, ipv4_tcp(syn("10.9.0.1:30000", "10.9.0.2:80", 1))));
  b.interface(101);  // raw IP
  b.epb(1, 2, ipv4_tcp(syn("10.9.0.1:30001", "10.9.0.2:80", 2)));
  const std::string path = dir.file("mixed.pcapng");
  b.save(path);
  const auto r = read_all(path);
  EXPECT_EQ(r.stats.tcp, 1u);
  EXPECT_TRUE(r.stats.stopped_early);
  EXPECT_NE(r.stats.stop_reason.find("frame 2"), std::string::npos) << r.stats.stop_reason;
  EXPECT_NE(r.stats.stop_reason.find("different link types"), std::string::npos) << r.stats.stop_reason;
  EXPECT_TRUE(one_line(r.stats.stop_reason));
}

// ------------------------------------------------------------------------------------------------
// Compressed files, pipes, streams
// ------------------------------------------------------------------------------------------------

TEST(CaptureReaderCompressed, GzipAndZstdByMagicNotName) {
  TempDir dir;
  for (const std::string name : {"cs_ppa1e_evilprogram.pcap", "cs_synscan.pcapng", "ndpi_rtsp.pcap"}) {
    const std::string src = pcap_path(name);
    const auto plain = read_all(src);
    const std::string gz = dir.file("gz-without-extension.cap");
    const std::string zst = dir.file("zst.bin");
    const std::string fake = dir.file("plain-but-named.pcap.gz");
    ASSERT_EQ(run_command("gzip -c " + quote(src) + " > " + quote(gz), dir).exit_status, 0);
    ASSERT_EQ(run_command("zstd -q -c " + quote(src) + " > " + quote(zst), dir).exit_status, 0);
    ASSERT_EQ(run_command("cp " + quote(src) + " " + quote(fake), dir).exit_status, 0);
    const auto g = read_all(gz);
    const auto z = read_all(zst);
    const auto f = read_all(fake);
    EXPECT_EQ(g.tcp_rows, plain.tcp_rows) << name;
    EXPECT_EQ(z.tcp_rows, plain.tcp_rows) << name;
    EXPECT_EQ(f.tcp_rows, plain.tcp_rows) << name;
    EXPECT_EQ(g.stats.frames, plain.stats.frames);
    EXPECT_FALSE(g.stats.stopped_early) << g.stats.stop_reason;
    EXPECT_FALSE(z.stats.stopped_early) << z.stats.stop_reason;
    EXPECT_EQ(g.format, plain.format + " (gzip)");
    EXPECT_EQ(z.format, plain.format + " (zstd)");
    EXPECT_EQ(f.format, plain.format);
  }
}

TEST(CaptureReaderCompressed, ConcatenatedGzipMembersAndZstdFrames) {
  TempDir dir;
  const std::string src = pcap_path("cs_ppa1e_gnutella.pcap");
  const auto plain = read_all(src);
  const std::string gz = dir.file("two.gz"), zst = dir.file("two.zst");
  ASSERT_EQ(run_command("head -c 50001 " + quote(src) + " | gzip -c > " + quote(gz) + " && tail -c +50002 " +
                            quote(src) + " | gzip -c >> " + quote(gz),
                        dir)
                .exit_status,
            0);
  ASSERT_EQ(run_command("head -c 777 " + quote(src) + " | zstd -q -c > " + quote(zst) + " && tail -c +778 " +
                            quote(src) + " | zstd -q -c >> " + quote(zst),
                        dir)
                .exit_status,
            0);
  EXPECT_EQ(read_all(gz).tcp_rows, plain.tcp_rows);
  EXPECT_EQ(read_all(zst).tcp_rows, plain.tcp_rows);
}

TEST(CaptureReaderCompressed, CutOrCorruptCompressedDataStopsWithAReason) {
  TempDir dir;
  // Large enough that half of the compressed file holds complete zstd blocks (up to 128 KiB each).
  const std::string src = pcap_path("mk_evidence04.pcap");
  const auto plain = read_all(src);
  for (const std::string tool : {"gzip", "zstd -q"}) {
    const std::string whole = dir.file("whole"), cut = dir.file("cut");
    ASSERT_EQ(run_command(tool + " -c " + quote(src) + " > " + quote(whole), dir).exit_status, 0);
    const auto size = std::filesystem::file_size(whole);
    ASSERT_EQ(run_command("head -c " + std::to_string(size / 2) + " " + quote(whole) + " > " + quote(cut), dir).exit_status, 0);
    const auto r = read_all(cut);
    EXPECT_TRUE(r.stats.stopped_early) << tool;
    EXPECT_GT(r.stats.frames, 0u) << tool;
    EXPECT_LT(r.stats.frames, plain.stats.frames) << tool;
    EXPECT_TRUE(one_line(r.stats.stop_reason)) << r.stats.stop_reason;
    EXPECT_NE(r.stats.stop_reason.find("cut short"), std::string::npos) << tool << ": " << r.stats.stop_reason;
    // Everything before the cut is exactly what the whole file gives.
    ASSERT_LE(r.tcp_rows.size(), plain.tcp_rows.size());
    EXPECT_TRUE(std::equal(r.tcp_rows.begin(), r.tcp_rows.end(), plain.tcp_rows.begin()));

    // Flip bytes in the middle of the compressed data.
    std::string data = read_file(whole);
    for (std::size_t i = data.size() / 2; i < data.size() / 2 + 64; ++i) data[i] = static_cast<char>(data[i] ^ 0x5a);
    const std::string bad = dir.file("bad");
    write_bytes(bad, data);
    const auto b = read_all(bad);
    EXPECT_TRUE(b.stats.stopped_early) << tool;
    EXPECT_TRUE(one_line(b.stats.stop_reason)) << b.stats.stop_reason;
    EXPECT_NE(b.stats.stop_reason.find("frame "), std::string::npos) << b.stats.stop_reason;
  }
}

TEST(CaptureReaderCompressed, CompressedGarbageIsACaptureError) {
  TempDir dir;
  const std::string path = dir.file("notes.txt.gz");
  ASSERT_EQ(run_command("echo 'not a capture at all, just words' | gzip -c > " + quote(path), dir).exit_status, 0);
  try {
    CaptureReader::open(path);
    FAIL() << "expected CaptureError";
  } catch (const CaptureError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("(gzip)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unknown file format"), std::string::npos) << msg;
    EXPECT_TRUE(one_line(msg));
  }
  const std::string xz = dir.file("x.xz");
  write_bytes(xz, std::string("\xfd" "7zXZ\0\0\0", 8));
  EXPECT_THROW(
      try { CaptureReader::open(xz); } catch (const CaptureError& e) {
        EXPECT_NE(std::string(e.what()).find("xz"), std::string::npos);
        throw;
      },
      CaptureError);
}

// Runs `fn` with standard input replaced by a pipe that a thread fills with `data`.
template <typename Fn>
void with_stdin_pipe(const std::string& data, Fn fn) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const int saved = dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  close(fds[0]);
  std::thread writer([&] {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = write(fds[1], data.data() + off, std::min<std::size_t>(data.size() - off, 4093));
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    close(fds[1]);
  });
  fn();
  writer.join();
  dup2(saved, STDIN_FILENO);
  close(saved);
}

TEST(CaptureReaderStdin, DashReadsAPipe) {
  TempDir dir;
  const std::string src = pcap_path("cs_ppa1e_evilprogram.pcap");
  const auto plain = read_all(src);
  with_stdin_pipe(read_file(src), [&] {
    auto r = CaptureReader::open("-");
    const auto got = drain(r);
    EXPECT_EQ(got.tcp_rows, plain.tcp_rows);
    EXPECT_EQ(r.name(), "-");
    EXPECT_FALSE(got.stats.stopped_early) << got.stats.stop_reason;
  });
  // tcpdump -w - | gzip | synscope analyze -: compressed and pcapng through a pipe too.
  const std::string gz = dir.file("synscan.pcapng.gz");
  ASSERT_EQ(run_command("gzip -c " + quote(pcap_path("cs_synscan.pcapng")) + " > " + quote(gz), dir).exit_status, 0);
  const auto synscan = read_all(pcap_path("cs_synscan.pcapng"));
  with_stdin_pipe(read_file(gz), [&] {
    auto r = CaptureReader::open("-");
    EXPECT_EQ(drain(r).tcp_rows, synscan.tcp_rows);
    EXPECT_EQ(r.format(), "pcapng (gzip)");
  });
  // An empty pipe is an error naming standard input.
  with_stdin_pipe("", [&] {
    try {
      CaptureReader::open("-");
      ADD_FAILURE() << "expected CaptureError";
    } catch (const CaptureError& e) {
      EXPECT_NE(std::string(e.what()).find("standard input"), std::string::npos) << e.what();
    }
  });
}

TEST(CaptureReaderStdin, OpenStreamTakesAFilePointer) {
  TempDir dir;
  PcapngBuilder b;
  b.interface(1);
  b.interface(1);
  for (std::uint32_t i = 0; i < 10; ++i)
    b.epb(i % 2, i, ethernet(0x0800, ipv4_tcp(syn("10.9.0.1:30000", "10.9.0.2:80", i))));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    (void)!write(fds[1], b.out.data(), b.out.size());
    close(fds[1]);
  });
  std::FILE* f = fdopen(fds[0], "rb");
  ASSERT_NE(f, nullptr);
  auto r = CaptureReader::open_stream(f, "pipe");  // takes ownership
  const auto got = drain(r);
  writer.join();
  ASSERT_EQ(got.items.size(), 10u);
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(got.items[i].interface, i % 2);
}

// A plain pcap file is read by our own 1 MiB reads (DirectPcap), a pipe by libpcap. A 6 MB file of
// frames from 54 bytes to 64 KiB — records straddling every chunk boundary, some longer than what
// is left of a chunk — and a last record cut short read the same both ways, frame for frame, and
// both stop at the cut with libpcap's reason.
TEST(CaptureReaderStdin, PlainFileReadDirectlyMatchesLibpcapThroughAPipe) {
  TempDir dir;
  std::mt19937 rng(5);
  std::vector<Frame> frames;
  std::size_t bytes = 0;
  for (std::uint32_t i = 0; bytes < (6u << 20); ++i) {
    const std::uint32_t payload = i % 97 == 0 ? 65000 : static_cast<std::uint32_t>(rng() % 9000);
    Frame f{ethernet(0x0800, ipv4_tcp(make_segment("10.1.0.1:40000", "10.1.0.2:80", i, 7, ACK | PSH, 512,
                                                    ts_options(i, 9), payload)))};
    bytes += f.bytes.size() + 16;
    frames.push_back(f);
  }
  const std::string path = dir.file("big.pcap");
  write_pcap(path, DLT_EN10MB, frames);
  // Cut the last record short, as a capture still being written would be.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 20);
  const ReadResult direct = read_all(path);
  std::FILE* pipe = popen(("cat " + path).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  int fd = dup(fileno(pipe));
  std::FILE* stream = fdopen(fd, "rb");
  auto reader = CaptureReader::open_stream(stream, "pipe");
  const ReadResult piped = drain(reader);
  pclose(pipe);
  ASSERT_EQ(direct.items.size(), frames.size() - 1);
  ASSERT_EQ(piped.items.size(), direct.items.size());
  for (std::size_t i = 0; i < direct.items.size(); ++i) {
    const PacketRecord& a = direct.items[i].tcp;
    const PacketRecord& b = piped.items[i].tcp;
    ASSERT_EQ(a.frame, b.frame);
    ASSERT_EQ(a.ts.unix_ns, b.ts.unix_ns) << "frame " << a.frame;
    ASSERT_EQ(a.seq, b.seq) << "frame " << a.frame;
    ASSERT_EQ(a.payload_len, b.payload_len) << "frame " << a.frame;
    ASSERT_TRUE(a.options == b.options) << "frame " << a.frame;
  }
  EXPECT_TRUE(direct.stats.stopped_early);
  EXPECT_TRUE(piped.stats.stopped_early);
  EXPECT_NE(direct.stats.stop_reason.find("truncated"), std::string::npos) << direct.stats.stop_reason;
  EXPECT_EQ(direct.stats.frames, piped.stats.frames);
}

// ------------------------------------------------------------------------------------------------
// Truncated, corrupt and unreadable files
// ------------------------------------------------------------------------------------------------

struct PcapRecordScan {
  std::uint64_t complete = 0;  // records entirely inside the first `size` bytes
  std::uint64_t cut_at = 0;    // offset of the first incomplete record
  std::uint32_t cut_caplen = 0;
  bool header_cut = false;
};
PcapRecordScan scan_pcap(const std::string& data, std::size_t size) {
  PcapRecordScan s;
  std::size_t off = 24;
  const auto le32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at])) |
           (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at + 1])) << 8) |
           (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at + 2])) << 16) |
           (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at + 3])) << 24);
  };
  while (off < size) {
    if (off + 16 > size) {
      s.header_cut = true;
      s.cut_at = off;
      return s;
    }
    const std::uint32_t caplen = le32(off + 8);
    if (off + 16 + caplen > size) {
      s.cut_at = off;
      s.cut_caplen = caplen;
      return s;
    }
    off += 16 + caplen;
    ++s.complete;
  }
  s.cut_at = off;
  return s;
}

TEST(CaptureReaderDamaged, TruncatedPcapReportsWhereItStopped) {
  TempDir dir;
  const std::string src = pcap_path("cs_ppa1e_evilprogram.pcap");
  const std::string data = read_file(src);
  const auto whole = read_all(src);
  for (std::size_t size : {std::size_t{100000}, std::size_t{24 + 16 + 5}, data.size() - 1}) {
    const std::string path = dir.file("cut.pcap");
    write_bytes(path, data.substr(0, size));
    const auto scan = scan_pcap(data, size);
    ASSERT_FALSE(scan.header_cut);
    const auto r = read_all(path);
    EXPECT_EQ(r.stats.frames, scan.complete);
    EXPECT_EQ(r.stats.frames, tshark_frame_count(path));  // tshark reads the same frames, then complains
    EXPECT_TRUE(r.stats.stopped_early);
    const std::string want = "truncated at frame " + std::to_string(scan.complete + 1) + ", byte offset " +
                             std::to_string(scan.cut_at) + ": packet record claims " + std::to_string(scan.cut_caplen) +
                             " captured bytes, " + std::to_string(size - scan.cut_at - 16) + " remain";
    EXPECT_EQ(r.stats.stop_reason, want);
    ASSERT_LE(r.tcp_rows.size(), whole.tcp_rows.size());
    EXPECT_TRUE(std::equal(r.tcp_rows.begin(), r.tcp_rows.end(), whole.tcp_rows.begin()));
  }
  // Cut inside a record header; and the same damage inside a gzip file reads the same way.
  std::size_t size = 100000;
  auto scan = scan_pcap(data, size);
  size = scan.cut_at + 10;
  scan = scan_pcap(data, size);
  ASSERT_TRUE(scan.header_cut);
  const std::string path = dir.file("cut-header.pcap");
  write_bytes(path, data.substr(0, size));
  const auto r = read_all(path);
  const std::string want = "truncated at frame " + std::to_string(scan.complete + 1) + ", byte offset " +
                           std::to_string(scan.cut_at) + ": packet record header cut after 10 of 16 bytes";
  EXPECT_EQ(r.stats.stop_reason, want);
  const std::string gz = dir.file("cut-header.pcap.gz");
  ASSERT_EQ(run_command("gzip -c " + quote(path) + " > " + quote(gz), dir).exit_status, 0);
  const auto g = read_all(gz);
  EXPECT_EQ(g.stats.stop_reason, want);
  EXPECT_EQ(g.stats.frames, r.stats.frames);
}

TEST(CaptureReaderDamaged, TruncatedPcapng) {
  TempDir dir;
  PcapngBuilder b;
  b.interface(1);
  for (std::uint32_t i = 0; i < 20; ++i) b.epb(0, i, ethernet(0x0800, ipv4_tcp(syn("10.9.0.1:30000", "10.9.0.2:80", i))));
  const std::string path = dir.file("cut.pcapng");
  const std::size_t size = b.packet_block_ends[11] + 30;  // inside the 13th packet block
  write_bytes(path, std::string(b.out.begin(), b.out.begin() + static_cast<std::ptrdiff_t>(size)));
  const auto r = read_all(path);
  EXPECT_EQ(r.stats.frames, 12u);
  EXPECT_EQ(r.stats.frames, tshark_frame_count(path));
  EXPECT_TRUE(r.stats.stopped_early);
  EXPECT_EQ(r.stats.stop_reason.rfind("truncated at frame 13, byte offset " + std::to_string(b.packet_block_ends[11]) + ": ", 0),
            0u)
      << r.stats.stop_reason;
  EXPECT_TRUE(one_line(r.stats.stop_reason));
}

TEST(CaptureReaderDamaged, CorruptRecordLength) {
  TempDir dir;
  std::string data = read_file(pcap_path("cs_ppa1e_dosattack.pcap"));
  const auto scan = scan_pcap(data, 24 + 3 * (16 + 54) + 1);  // the 4th record starts after three 54-byte frames
  ASSERT_EQ(scan.complete, 3u);
  // The 4th record claims a capture length of 0x7fffffff.
  data[scan.cut_at + 8] = '\xff';
  data[scan.cut_at + 9] = '\xff';
  data[scan.cut_at + 10] = '\xff';
  data[scan.cut_at + 11] = '\x7f';
  const std::string path = dir.file("corrupt.pcap");
  write_bytes(path, data);
  const auto r = read_all(path);
  EXPECT_EQ(r.stats.frames, 3u);
  EXPECT_TRUE(r.stats.stopped_early);
  EXPECT_EQ(r.stats.stop_reason.rfind("corrupt capture at frame 4, byte offset " + std::to_string(scan.cut_at) + ": ", 0), 0u)
      << r.stats.stop_reason;
}

TEST(CaptureReaderDamaged, UnreadableInputsAreCaptureErrors) {
  TempDir dir;
  const auto expect_error = [](const std::string& path, const std::string& part) {
    try {
      CaptureReader::open(path);
      ADD_FAILURE() << path << ": expected CaptureError";
    } catch (const CaptureError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(part), std::string::npos) << msg;
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_TRUE(one_line(msg)) << msg;
    }
  };
  const std::string garbage = dir.file("garbage.pcap");
  std::string junk = "hello, this is not a capture\n";
  std::mt19937 rng(1);
  for (int i = 0; i < 5000; ++i) junk += static_cast<char>(rng());
  write_bytes(garbage, junk);
  expect_error(garbage, "unknown file format");
  const std::string empty = dir.file("empty.pcap");
  write_bytes(empty, "");
  expect_error(empty, "empty");
  expect_error(dir.file("missing.pcap"), "No such file or directory");
  expect_error(dir.file(""), "Is a directory");
  const std::string header_cut = dir.file("header-cut.pcap");
  write_bytes(header_cut, read_file(pcap_path("cs_ppa1e_dosattack.pcap")).substr(0, 10));
  expect_error(header_cut, "the file header is cut short");
  // A header and no packets is a valid, empty capture.
  const std::string header_only = dir.file("header-only.pcap");
  write_bytes(header_only, read_file(pcap_path("cs_ppa1e_dosattack.pcap")).substr(0, 24));
  const auto r = read_all(header_only);
  EXPECT_EQ(r.stats.frames, 0u);
  EXPECT_FALSE(r.stats.stopped_early);
}

// ------------------------------------------------------------------------------------------------
// Hostile headers: never read past the capture, never crash, count what was wrong
// ------------------------------------------------------------------------------------------------

Bytes tcp_raw(std::uint8_t doff_words, const Bytes& options, std::uint8_t flags = SYN) {
  Bytes t(20, 0);
  put_be16(t.data(), 1111);
  put_be16(t.data() + 2, 80);
  put_be32(t.data() + 4, 42);
  t[12] = static_cast<std::uint8_t>(doff_words << 4);
  t[13] = flags;
  put_be16(t.data() + 14, 1000);
  append(t, options);
  return t;
}

TEST(CaptureReaderHostile, AbsurdLengthsAreCountedNotTrusted) {
  TempDir dir;
  const Bytes good = ipv4_tcp(syn("10.0.0.1:1", "10.0.0.2:2", 5));
  std::vector<Frame> frames;
  Bytes ihl3 = good;
  ihl3[0] = 0x43;
  frames.push_back({ethernet(0x0800, ihl3)});                                             // 1 IHL 3: malformed
  frames.push_back({ethernet(0x0800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp_raw(2, {})))});  // 2 data offset 2: malformed
  frames.push_back({ethernet(0x0800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp_raw(15, {})))}); // 3 offset 60 > segment: malformed
  frames.push_back({ethernet(0x0800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp_raw(7, {2, 4, 5, 0xb4, 3, 0, 1, 1})))});  // 4 wscale len 0
  frames.push_back({ethernet(0x0800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp_raw(7, {2, 4, 5, 0xb4, 8, 40, 0, 0})))}); // 5 TS len 40
  frames.push_back({ethernet(0x0800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp_raw(6, {2, 3, 5, 1})))});                 // 6 MSS len 3
  {
    Frame f{ethernet(0x0800, good)};
    f.caplen = 14 + 20 + 20 + 6;  // cut inside the options
    frames.push_back(f);                                                                  // 7 truncated record
  }
  {
    Frame f{ethernet(0x0800, good)};
    f.caplen = 14 + 20 + 10;  // cut inside the TCP header
    frames.push_back(f);                                                                  // 8 skipped
  }
  {
    Frame f{ethernet(0x0800, good)};
    f.caplen = 10;  // cut inside the Ethernet header
    frames.push_back(f);                                                                  // 9 skipped
  }
  {
    Frame f{ethernet(0x0800, good)};
    f.wire_len = 40;  // caplen > len: read as captured
    frames.push_back(f);                                                                  // 10 ok
  }
  {
    Bytes tso = good;  // IP total length 0 (a TSO super-segment): the frame says how long it is
    tso[2] = tso[3] = 0;
    Bytes payload(3000, 0x61);
    Frame f{ethernet(0x0800, cat({tso, payload}))};
    frames.push_back(f);                                                                  // 11 payload 3000
  }
  {
    Bytes chain;  // 20 destination-options headers in a row
    for (int i = 0; i < 20; ++i) append(chain, {60, 0, 1, 4, 0, 0, 0, 0});
    chain[chain.size() - 8] = 6;
    frames.push_back({ethernet(0x86dd, ipv6(60, "::1", "::2", cat({chain, tcp_raw(5, {})})))});  // 12 malformed
  }
  {
    Bytes nest = good;  // GRE in GRE in ... (6 deep)
    for (int i = 0; i < 6; ++i) nest = ipv4(47, "192.0.2.1", "192.0.2.2", gre(0, 0x0800, {}, nest));
    frames.push_back({ethernet(0x0800, nest)});                                           // 13 opaque
  }
  {
    Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    for (int i = 0; i < 12; ++i) append(b, {0x81, 0x00, 0x00, 0x01});
    append(b, {0x08, 0x00});
    append(b, good);
    frames.push_back({b});                                                                // 14 twelve VLAN tags: malformed
  }
  {
    Bytes ext = {6, 0, 0, 0, 0, 0, 0, 1};  // hop-by-hop claiming more than the payload
    ext[1] = 200;
    frames.push_back({ethernet(0x86dd, ipv6(0, "::1", "::2", cat({ext, tcp_raw(5, {})})))});  // 15 malformed
  }
  const std::string path = dir.file("hostile.pcap");
  write_pcap(path, DLT_EN10MB, frames);
  const auto r = read_all(path);
  const CaptureStats& s = r.stats;
  EXPECT_EQ(s.frames, 15u);
  EXPECT_FALSE(s.stopped_early);
  EXPECT_EQ(s.frames, s.tcp + s.icmp + s.other);
  EXPECT_EQ(s.malformed, 6u);  // 1, 2, 3, 12, 14, 15
  EXPECT_EQ(s.tcp, 6u);        // 4, 5, 6, 7, 10, 11
  EXPECT_EQ(s.truncated_frames, 3u);  // 7 (record flagged), 8, 9 (skipped)
  EXPECT_EQ(s.bad_tcp_options, 3u);
  EXPECT_EQ(s.tunnel_opaque[static_cast<std::size_t>(TunnelKind::Gre)], 1u);
  std::map<std::uint64_t, PacketRecord> by_frame;
  for (const auto& it : r.items) by_frame[it.frame] = it.tcp;
  ASSERT_EQ(by_frame.size(), 6u);
  EXPECT_EQ(by_frame.at(4).options.size(), 1u);  // MSS, then the zero-length option ends the list
  EXPECT_EQ(by_frame.at(4).options.mss_value(), 1460);
  EXPECT_EQ(by_frame.at(5).options.size(), 1u);
  ASSERT_EQ(by_frame.at(6).options.size(), 1u);  // an MSS of length 3 is not an MSS; the nop after it is read
  EXPECT_FALSE(by_frame.at(6).options.mss_value());
  EXPECT_EQ(by_frame.at(6).options.begin()->kind, TcpOptionKind::Nop);
  EXPECT_TRUE(by_frame.at(7).truncated);
  EXPECT_EQ(by_frame.at(7).options.mss_value(), 1460);  // what the snapshot kept is still read
  EXPECT_FALSE(by_frame.at(7).options.ts());
  EXPECT_FALSE(by_frame.at(10).truncated);
  EXPECT_EQ(by_frame.at(11).payload_len, 3000u + good.size() - 20 - 40);
}

// Every frame of the zoo, cut at every length and with random bytes changed, decoded from a buffer
// that ends right at a page that cannot be read: any read past the capture length would fault.
TEST(CaptureReaderHostile, FuzzedFramesNeverReadPastTheCapture) {
  const long page = sysconf(_SC_PAGESIZE);
  auto* mem = static_cast<std::uint8_t*>(mmap(nullptr, static_cast<std::size_t>(page) * 3, PROT_READ | PROT_WRITE,
                                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_EQ(mprotect(mem + 2 * page, static_cast<std::size_t>(page), PROT_NONE), 0);
  std::uint8_t* const limit = mem + 2 * page;
  const Zoo z = make_zoo();
  std::mt19937 rng(2024);
  CaptureStats stats;
  CaptureItem item;
  std::uint64_t records = 0;
  const int links[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_NULL, DLT_LOOP, DLT_IEEE802_11,
                       DLT_IEEE802_11_RADIO, DLT_IPV4, DLT_IPV6};
  for (int round = 0; round < 400; ++round)
    for (const Bytes& original : z.frames) {
      Bytes f = original;
      if (round > 0)
        for (int k = 0; k < 1 + static_cast<int>(rng() % 6); ++k) f[rng() % f.size()] = static_cast<std::uint8_t>(rng());
      const std::size_t step = round == 0 ? 1 : 7;
      for (std::size_t cut = 0; cut <= f.size(); cut += step) {
        std::uint8_t* p = limit - cut;
        std::memcpy(p, f.data(), cut);
        const int link = round == 0 ? DLT_EN10MB : links[rng() % std::size(links)];
        records += decode_frame(link, p, static_cast<std::uint32_t>(cut), static_cast<std::uint32_t>(f.size()), item, stats);
        ASSERT_LE(item.tcp.options.size(), TcpOptions::kCapacity);
      }
    }
  munmap(mem, static_cast<std::size_t>(page) * 3);
  EXPECT_EQ(stats.frames, stats.tcp + stats.icmp + stats.other);
  EXPECT_EQ(records, stats.tcp + stats.icmp);
  EXPECT_GT(stats.tcp, 0u);
  EXPECT_GT(stats.truncated_frames, 0u);
}

// The reader takes untagged Ethernet/IPv4/TCP frames by a shortcut (decode_plain_tcp); decode_frame
// is the general decoder alone. Plain frames with random bytes changed in their headers (version,
// IHL, lengths, fragment bits, protocol, data offset, options) and cut at random lengths, read
// through a file, give exactly the records and counts the general decoder gives frame by frame.
TEST(CaptureReaderHostile, PlainFramesTakeTheShortcutWithTheGeneralDecodersResult) {
  TempDir dir;
  std::mt19937 rng(77);
  const Bytes base = ethernet(0x0800, ipv4_tcp(syn("10.0.0.1:40000", "10.0.0.2:80", 1000)));
  const Bytes data = ethernet(0x0800, ipv4_tcp(make_segment("10.0.0.2:80", "10.0.0.1:40000", 5, 1001, ACK | PSH, 512,
                                                            ts_options(5, 77), 100)));
  std::vector<Frame> frames;
  for (int i = 0; i < 20000; ++i) {
    Frame f{i % 2 ? base : data};
    if (i >= 4) {
      // Mostly the fields the shortcut checks: ethertype, IP header, TCP header and options.
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
        const std::size_t at = rng() % 4 == 0 ? rng() % f.bytes.size() : 12 + rng() % std::min<std::size_t>(60, f.bytes.size() - 12);
        f.bytes[at] = rng() % 3 == 0 ? static_cast<std::uint8_t>(rng()) : static_cast<std::uint8_t>(f.bytes[at] ^ (1u << (rng() % 8)));
      }
      if (rng() % 4 == 0) f.caplen = static_cast<std::uint32_t>(rng() % (f.bytes.size() + 1));
      if (f.caplen == 0 && rng() % 8 == 0) f.wire_len = static_cast<std::uint32_t>(f.bytes.size() + rng() % 100);
    }
    frames.push_back(f);
  }
  const std::string path = dir.file("plain.pcap");
  write_pcap(path, DLT_EN10MB, frames);
  const ReadResult ours = read_all(path);

  CaptureStats general;
  std::vector<CaptureItem> expected;
  for (const Frame& f : frames) {
    CaptureItem item;
    const std::uint32_t caplen = f.caplen ? f.caplen : static_cast<std::uint32_t>(f.bytes.size());
    const std::uint32_t wire = f.wire_len ? f.wire_len : static_cast<std::uint32_t>(f.bytes.size());
    if (decode_frame(DLT_EN10MB, f.bytes.data(), caplen, wire, item, general)) expected.push_back(item);
  }
  ASSERT_EQ(ours.items.size(), expected.size());
  std::size_t plain = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const CaptureItem& x = ours.items[i];
    const CaptureItem& y = expected[i];
    ASSERT_EQ(x.kind, y.kind) << "frame " << y.frame;
    ASSERT_EQ(x.frame, y.frame);
    EXPECT_EQ(x.encapsulation, y.encapsulation) << "frame " << y.frame;
    EXPECT_EQ(x.tunnel, y.tunnel) << "frame " << y.frame;
    if (y.kind != CaptureItem::Kind::Tcp) continue;
    const PacketRecord& a = x.tcp;
    const PacketRecord& b = y.tcp;
    EXPECT_EQ(a.src, b.src) << "frame " << y.frame;
    EXPECT_EQ(a.dst, b.dst) << "frame " << y.frame;
    EXPECT_EQ(a.seq, b.seq) << "frame " << y.frame;
    EXPECT_EQ(a.ack, b.ack) << "frame " << y.frame;
    EXPECT_EQ(a.flags, b.flags) << "frame " << y.frame;
    EXPECT_EQ(a.window, b.window) << "frame " << y.frame;
    EXPECT_TRUE(a.options == b.options) << "frame " << y.frame;
    EXPECT_EQ(a.payload_len, b.payload_len) << "frame " << y.frame;
    EXPECT_EQ(a.ttl, b.ttl) << "frame " << y.frame;
    EXPECT_EQ(a.encapsulation, b.encapsulation) << "frame " << y.frame;
    EXPECT_EQ(a.truncated, b.truncated) << "frame " << y.frame;
    plain += !a.truncated && a.encapsulation == Encapsulation::None && !a.src.addr.v6;
  }
  EXPECT_GT(plain, 5000u);  // the shortcut was taken, and so was the general path
  EXPECT_GT(ours.stats.other, 1000u);
  EXPECT_EQ(ours.stats.frames, general.frames);
  EXPECT_EQ(ours.stats.tcp, general.tcp);
  EXPECT_EQ(ours.stats.icmp, general.icmp);
  EXPECT_EQ(ours.stats.other, general.other);
  EXPECT_EQ(ours.stats.ipv6, general.ipv6);
  EXPECT_EQ(ours.stats.truncated_frames, general.truncated_frames);
  EXPECT_EQ(ours.stats.malformed, general.malformed);
  EXPECT_EQ(ours.stats.bad_tcp_options, general.bad_tcp_options);
  EXPECT_EQ(ours.stats.fragments_skipped, general.fragments_skipped);
  EXPECT_EQ(ours.stats.vlan, general.vlan);
  EXPECT_EQ(ours.stats.tunnelled, general.tunnelled);
}

// Found by fuzz/capture_file_fuzzer.cpp: a pcapng time stamp is a 64-bit count of the interface's
// units, so libpcap can hand out seconds whose nanoseconds overflow 64 bits (UB before the fix). Such
// a frame is skipped and counted (bad_time), the frames around it are read, and 1970 is a valid time.
TEST(CaptureReaderHostile, TimeStampsPast2262AreSkippedAndCounted) {
  TempDir dir;
  PcapngBuilder b;
  b.interface(1);
  b.epb(0, 0, ethernet(0x0800, ipv4_tcp(syn("10.9.0.1:30000", "10.9.0.2:80", 1))));                      // 1970-01-01
  b.epb(0, 0xF000000000000000ull, ethernet(0x0800, ipv4_tcp(syn("10.9.0.1:30001", "10.9.0.2:80", 2))));  // year ~500000
  b.epb(0, 1700000000000000ull, ethernet(0x0800, ipv4_tcp(syn("10.9.0.1:30002", "10.9.0.2:80", 3))));
  const std::string path = dir.file("far-future.pcapng");
  b.save(path);
  const auto r = read_all(path);
  EXPECT_EQ(r.stats.frames, 3u);
  EXPECT_EQ(r.stats.bad_time, 1u);
  EXPECT_EQ(r.stats.frames, r.stats.tcp + r.stats.icmp + r.stats.other);
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].tcp.ts.unix_ns, 0);
  EXPECT_EQ(r.items[0].frame, 1u);
  EXPECT_EQ(r.items[1].frame, 3u);
  EXPECT_EQ(r.items[1].tcp.ts.unix_ns, 1700000000000000000);
  EXPECT_FALSE(r.stats.stopped_early);
}

// ------------------------------------------------------------------------------------------------
// Live capture on lo
// ------------------------------------------------------------------------------------------------

bool can_capture() { return geteuid() == 0; }

TEST(CaptureReaderLive, LoopbackHandshakeThroughABpfFilter) {
  if (!can_capture()) GTEST_SKIP() << "live capture needs root (CI runs as root)";
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  const std::uint16_t port = ntohs(addr.sin_port);

  LiveLimits limits;
  limits.max_packets = 3;
  limits.max_duration = seconds(10);
  auto reader = CaptureReader::open_live("lo", "tcp port " + std::to_string(port), limits);
  EXPECT_EQ(reader.format(), "live");
  EXPECT_EQ(reader.name(), "live:lo");

  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  sockaddr_in local{};
  len = sizeof local;
  ASSERT_EQ(getsockname(client, reinterpret_cast<sockaddr*>(&local), &len), 0);
  const std::uint16_t client_port = ntohs(local.sin_port);

  const auto started = std::chrono::steady_clock::now();
  std::vector<PacketRecord> got;
  CaptureItem it;
  while (reader.next(it))
    if (it.kind == CaptureItem::Kind::Tcp) got.push_back(it.tcp);
  close(client);
  close(listener);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  ASSERT_EQ(got.size(), 3u) << reader.stats().stop_reason;
  EXPECT_TRUE(got[0].is_syn());
  EXPECT_EQ(got[0].src.addr.str(), "127.0.0.1");
  EXPECT_EQ(got[0].src.port, client_port);
  EXPECT_EQ(got[0].dst.port, port);
  EXPECT_TRUE(got[0].options.mss_value());
  EXPECT_TRUE(got[1].is_synack());
  EXPECT_EQ(got[1].src.port, port);
  EXPECT_EQ(got[1].ack, got[0].seq + 1);
  EXPECT_EQ(got[2].flags, ACK);
  EXPECT_EQ(got[0].frame, 1u);
  EXPECT_EQ(got[2].frame, 3u);
  EXPECT_GT(got[0].ts.unix_ns, 1600000000LL * 1000000000);
  EXPECT_FALSE(reader.stats().stopped_early);
  EXPECT_EQ(reader.stats().frames, 3u);
}

TEST(CaptureReaderLive, TimeLimitEndsAQuietCapture) {
  if (!can_capture()) GTEST_SKIP() << "live capture needs root (CI runs as root)";
  LiveLimits limits;
  limits.max_duration = millis(300);
  // Port 9 on 127.0.0.254 (discard): nothing here talks to it.
  auto reader = CaptureReader::open_live("lo", "tcp and host 127.0.0.254 and port 9", limits);
  const auto started = std::chrono::steady_clock::now();
  CaptureItem it;
  EXPECT_FALSE(reader.next(it));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, std::chrono::milliseconds(290));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(reader.stats().frames, 0u);
}

TEST(CaptureReaderLive, RequestStopFromAnotherThread) {
  if (!can_capture()) GTEST_SKIP() << "live capture needs root (CI runs as root)";
  auto reader = CaptureReader::open_live("lo", "tcp and host 127.0.0.254 and port 9", LiveLimits{});
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    reader.request_stop();
  });
  CaptureItem it;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(reader.next(it));
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST(CaptureReaderLive, BadInterfaceOrFilterIsACaptureError) {
  if (!can_capture()) GTEST_SKIP() << "live capture needs root (CI runs as root)";
  try {
    CaptureReader::open_live("no-such-if0", "", LiveLimits{});
    ADD_FAILURE() << "expected CaptureError";
  } catch (const CaptureError& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-if0"), std::string::npos) << e.what();
    EXPECT_TRUE(one_line(e.what())) << e.what();
  }
  try {
    CaptureReader::open_live("lo", "tcp port banana", LiveLimits{});
    ADD_FAILURE() << "expected CaptureError";
  } catch (const CaptureError& e) {
    EXPECT_NE(std::string(e.what()).find("bad capture filter 'tcp port banana'"), std::string::npos) << e.what();
    EXPECT_TRUE(one_line(e.what())) << e.what();
  }
}

}  // namespace
}  // namespace synscope::capture::testing
