// PcapWriter and encode_ethernet_frame: header fields byte by byte, checksums recomputed here and
// by tshark, the file read back with libpcap, and the error paths.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "capture/pcap_writer.h"
#include "capture_test_util.h"
#include "tcpdump_harness.h"
#include "traces.h"

namespace synscope::capture::testing {
namespace {

using namespace tcp_flag;

const std::string kTsharkRootNotice = "Running as user \"root\" and group \"root\". This could be dangerous.\n";

std::uint16_t be16(const std::vector<std::uint8_t>& f, std::size_t at) {
  return static_cast<std::uint16_t>((f[at] << 8) | f[at + 1]);
}
std::uint32_t be32(const std::vector<std::uint8_t>& f, std::size_t at) {
  return (std::uint32_t{f[at]} << 24) | (std::uint32_t{f[at + 1]} << 16) | (std::uint32_t{f[at + 2]} << 8) | f[at + 3];
}
// Internet checksum of a byte range including its checksum field: 0 when the field is right.
std::uint16_t verify_sum(const std::uint8_t* p, std::size_t len, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (len % 2) sum += p[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}
bool tcp_checksum_ok(const std::vector<std::uint8_t>& f) {
  const std::size_t ip = kEthernetHeaderLen, tcp = ip + kIpv4HeaderLen;
  const std::size_t tcp_len = be16(f, ip + 2) - kIpv4HeaderLen;
  std::uint32_t sum = be16(f, ip + 12) + be16(f, ip + 14) + be16(f, ip + 16) + be16(f, ip + 18) + 6 +
                      static_cast<std::uint32_t>(tcp_len);
  return verify_sum(f.data() + tcp, tcp_len, sum) == 0;
}

// Everything the handshake trace has, plus payload shapes that stress the checksum code.
std::vector<Packet> checksum_trace() {
  auto packets = handshake_data_teardown_trace();
  Trace t(packets.back().when);
  for (std::uint32_t len : {1u, 3u, 7u, 255u, 1447u, 8999u, 65483u})
    t.add(make_segment("10.4.0.1:1111", "10.4.0.2:2222", 77, 88, PSH | ACK, 512, ts_options(1, 2), len));
  Segment text = make_segment("10.4.0.2:2222", "10.4.0.1:1111", 88, 77 + 1, PSH | ACK, 512, {});
  text.payload = "odd-length payload\xff\x80";
  t.add(text);
  TcpOptions unaligned;
  unaligned.mss(1400);
  unaligned.sack_ok();
  t.add(make_segment("255.255.255.254:65535", "0.0.0.1:1", 0xffffffffu, 0xffffffffu, 0xff, 0xffff, unaligned, 9));
  packets.insert(packets.end(), t.packets().begin(), t.packets().end());
  return packets;
}

TEST(PcapWriter, EncodesEthernetIpv4AndTcpHeadersFieldByField) {
  Segment s = make_segment("10.85.3.51:57104", "10.85.3.111:19090", 2466985868u, 0x01020304u, SYN, 25200,
                           linux_syn_options(1260, 3075335984u, 0, 7));
  s.ttl = 63;
  s.ip_id = 0xbeef;
  const auto f = encode_ethernet_frame(s);
  ASSERT_EQ(f.size(), 14u + 20u + 20u + 20u);
  // Ethernet: dst MAC, src MAC (02:00 + IPv4 address), EtherType IPv4.
  EXPECT_EQ(std::vector<std::uint8_t>(f.begin(), f.begin() + 12),
            (std::vector<std::uint8_t>{0x02, 0x00, 10, 85, 3, 111, 0x02, 0x00, 10, 85, 3, 51}));
  EXPECT_EQ(be16(f, 12), 0x0800);
  // IPv4.
  EXPECT_EQ(f[14], 0x45);
  EXPECT_EQ(be16(f, 16), 60);      // total length
  EXPECT_EQ(be16(f, 18), 0xbeef);  // id
  EXPECT_EQ(be16(f, 20), 0x4000);  // DF, offset 0
  EXPECT_EQ(f[22], 63);
  EXPECT_EQ(f[23], 6);
  EXPECT_EQ(be32(f, 26), 0x0a550333u);
  EXPECT_EQ(be32(f, 30), 0x0a55036fu);
  EXPECT_EQ(verify_sum(f.data() + 14, 20), 0);
  // TCP.
  EXPECT_EQ(be16(f, 34), 57104);
  EXPECT_EQ(be16(f, 36), 19090);
  EXPECT_EQ(be32(f, 38), 2466985868u);
  EXPECT_EQ(be32(f, 42), 0x01020304u);
  EXPECT_EQ(f[46], 10 << 4);  // 40-byte header
  EXPECT_EQ(f[47], SYN);
  EXPECT_EQ(be16(f, 48), 25200);
  EXPECT_EQ(be16(f, 52), 0);  // urgent pointer
  // mss 1260, sackOK, TS 3075335984/0, nop, wscale 7: Linux's 20 bytes exactly.
  const std::vector<std::uint8_t> opts{2, 4, 0x04, 0xec, 4, 2, 8, 10, 0xb7, 0x4d, 0xe7, 0x30, 0, 0, 0, 0, 1, 3, 3, 7};
  EXPECT_EQ(std::vector<std::uint8_t>(f.begin() + 54, f.end()), opts);
  EXPECT_TRUE(tcp_checksum_ok(f));
}

TEST(PcapWriter, PadsUnalignedOptionsWithEolAndZeros) {
  TcpOptions o;
  o.mss(1400);
  o.sack_ok();
  o.wscale(2);  // 4 + 2 + 3 = 9 bytes -> 12
  const auto f = encode_ethernet_frame(make_segment("10.0.0.1:1", "10.0.0.2:2", 1, 0, SYN, 1, o));
  EXPECT_EQ(f[46] >> 4, (20 + 12) / 4);
  EXPECT_EQ(std::vector<std::uint8_t>(f.begin() + 54, f.end()),
            (std::vector<std::uint8_t>{2, 4, 0x05, 0x78, 4, 2, 3, 3, 2, 0, 0, 0}));
  // [nop,nop,TS] is already 12 bytes: no padding.
  const auto g = encode_ethernet_frame(make_segment("10.0.0.1:1", "10.0.0.2:2", 1, 0, ACK, 1, ts_options(5, 6)));
  EXPECT_EQ(g.size(), 14u + 20u + 20u + 12u);
}

TEST(PcapWriter, PayloadIsSegmentBytesOrZeros) {
  Segment s = make_segment("10.0.0.1:1", "10.0.0.2:2", 1, 1, PSH | ACK, 1, {}, 999);
  s.payload = "hello";  // non-empty payload wins over payload_len
  auto f = encode_ethernet_frame(s);
  ASSERT_EQ(f.size(), 14u + 40u + 5u);
  EXPECT_EQ(std::string(f.end() - 5, f.end()), "hello");
  s.payload = {};
  s.payload_len = 6;
  f = encode_ethernet_frame(s);
  ASSERT_EQ(f.size(), 14u + 40u + 6u);
  EXPECT_EQ(std::vector<std::uint8_t>(f.end() - 6, f.end()), std::vector<std::uint8_t>(6, 0));
}

TEST(PcapWriter, ChecksumsVerifyForRandomSegments) {
  std::mt19937 rng(7);
  std::vector<std::uint8_t> buffer;
  for (int i = 0; i < 2000; ++i) {
    Segment s = make_segment("1.2.3.4:5", "6.7.8.9:10", rng(), rng(), static_cast<std::uint8_t>(rng()),
                             static_cast<std::uint16_t>(rng()), (i % 2) ? ts_options(rng(), rng()) : TcpOptions{},
                             rng() % 3000);
    s.src.addr.value = rng();
    s.dst.addr.value = rng();
    s.src.port = static_cast<std::uint16_t>(rng());
    const std::size_t n = encode_ethernet_frame(s, buffer);
    std::vector<std::uint8_t> f(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    ASSERT_EQ(verify_sum(f.data() + 14, 20), 0) << i;
    ASSERT_TRUE(tcp_checksum_ok(f)) << i;
  }
}

TEST(PcapWriter, RejectsSegmentLargerThanAnIpv4Datagram) {
  Segment s = make_segment("10.0.0.1:1", "10.0.0.2:2", 1, 1, ACK, 1, ts_options(1, 2), 65535 - 20 - 32);
  EXPECT_NO_THROW(encode_ethernet_frame(s));
  s.payload_len += 1;
  EXPECT_THROW(encode_ethernet_frame(s), std::length_error);
}

TEST(PcapWriter, FileReadsBackWithLibpcapAsMicrosecondEthernet) {
  TempDir dir;
  const std::string path = dir.file("readback.pcap");
  const auto packets = checksum_trace();
  {
    PcapWriter w(path);
    for (const auto& p : packets) w.write(p.segment, p.when);
    EXPECT_EQ(w.packets_written(), packets.size());
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err);
  ASSERT_NE(p, nullptr) << err;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  EXPECT_EQ(pcap_snapshot(p), 262144);
  EXPECT_EQ(pcap_get_tstamp_precision(p), PCAP_TSTAMP_PRECISION_MICRO);
  EXPECT_EQ(pcap_is_swapped(p), 0);
  pcap_pkthdr* hdr;
  const u_char* data;
  std::size_t i = 0;
  while (pcap_next_ex(p, &hdr, &data) == 1) {
    ASSERT_LT(i, packets.size());
    const auto frame = encode_ethernet_frame(packets[i].segment);
    EXPECT_EQ(hdr->len, frame.size());
    EXPECT_EQ(hdr->caplen, frame.size());
    EXPECT_EQ(std::int64_t{hdr->ts.tv_sec} * 1000000 + hdr->ts.tv_usec, packets[i].when.unix_ns / 1000);
    EXPECT_EQ(std::vector<std::uint8_t>(data, data + hdr->caplen), frame);
    ++i;
  }
  EXPECT_EQ(i, packets.size());
  pcap_close(p);
}

TEST(PcapWriter, FlushMakesPacketsReadableWhileOpen) {
  TempDir dir;
  const std::string path = dir.file("flush.pcap");
  PcapWriter w(path);
  w.write(make_segment("10.0.0.1:1", "10.0.0.2:2", 1, 0, SYN, 1, {}), at("2019-06-03 00:00:01"));
  w.flush();
  const std::string bytes = read_file(path);
  EXPECT_EQ(bytes.size(), 24u + 16u + 54u);  // file header, record header, frame
  w.close();
  EXPECT_THROW(w.write(make_segment("10.0.0.1:1", "10.0.0.2:2", 1, 0, SYN, 1, {}), at("2019-06-03 00:00:02")),
               std::logic_error);
}

TEST(PcapWriter, MovedWriterKeepsWritingToTheSameFile) {
  TempDir dir;
  const std::string path = dir.file("moved.pcap");
  PcapWriter a(path);
  a.write(make_segment("10.0.0.1:1", "10.0.0.2:2", 1, 0, SYN, 1, {}), at("2019-06-03 00:00:01"));
  PcapWriter b(std::move(a));
  b.write(make_segment("10.0.0.1:1", "10.0.0.2:2", 1, 0, SYN, 1, {}), at("2019-06-03 00:00:02"));
  EXPECT_EQ(b.packets_written(), 2u);
  EXPECT_EQ(b.path(), path);
  b.close();
  EXPECT_EQ(read_file(path).size(), 24u + 2 * (16u + 54u));
}

TEST(PcapWriter, UnwritablePathThrowsWithPathAndReason) {
  TempDir dir;
  const std::string missing = dir.file("no-such-dir/out.pcap");
  try {
    PcapWriter w(missing);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(missing), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
  const std::string is_dir = dir.file("");
  try {
    PcapWriter w(is_dir);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(is_dir), std::string::npos) << msg;
    EXPECT_NE(msg.find("Is a directory"), std::string::npos) << msg;
  }
}

TEST(PcapWriter, TsharkReadsCaptureWithoutErrors) {
  ASSERT_TRUE(have_tool("tshark")) << "tshark not installed: run scripts/setup.sh";
  TempDir dir;
  const std::string path = dir.file("tshark.pcap");
  write_pcap(path, checksum_trace());
  const auto r = run_command("tshark -r '" + path + "'", dir);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  // tshark's only stderr output when run as root is a notice about that; nothing else allowed.
  EXPECT_TRUE(r.err.empty() || r.err == kTsharkRootNotice) << r.err;
  EXPECT_EQ(split_lines(r.out).size(), checksum_trace().size());
}

TEST(PcapWriter, TsharkReportsEveryChecksumGood) {
  ASSERT_TRUE(have_tool("tshark")) << "tshark not installed: run scripts/setup.sh";
  TempDir dir;
  const std::string path = dir.file("checksums.pcap");
  const auto packets = checksum_trace();
  write_pcap(path, packets);
  const auto r = run_command("tshark -r '" + path +
                                 "' -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE"
                                 " -T fields -e ip.checksum.status -e tcp.checksum.status",
                             dir);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_TRUE(r.err.empty() || r.err == kTsharkRootNotice) << r.err;
  const auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), packets.size());
  for (std::size_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(lines[i], "1\t1") << "packet " << i << ": 1 = good in Wireshark's checksum status";
}

}  // namespace
}  // namespace synscope::capture::testing
