// Golden check: the seed's own tcpdump printouts (shared/spec/seed-printouts) rebuilt from
// Segments must come out of TcpdumpFormatter byte for byte. The seed captured on 2019-06-03 (UTC
// clock times; the date only matters for -tttt).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "capture/tcpdump_text.h"
#include "tcpdump_harness.h"

namespace synscope::capture::testing {
namespace {

using namespace tcp_flag;

const std::string kPrintouts = SYNSCOPE_SOURCE_DIR "/../shared/spec/seed-printouts/";

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + '\n';
  return out;
}

Packet pkt(const char* time, Segment s) { return {s, at(std::string("2019-06-03 ") + time)}; }

// The server 10.85.3.111:19090 behind nothing; the NAT box 10.85.3.51 connects on behalf of two
// clients: handshake, handshake.
std::vector<Packet> two_handshakes(const char* t[6], std::uint16_t port1, std::uint32_t c1, std::uint32_t s1,
                                   std::uint32_t cts1, std::uint32_t sts1, std::uint16_t port2, std::uint32_t c2,
                                   std::uint32_t s2, std::uint32_t cts2, std::uint32_t sts2) {
  const std::string a = "10.85.3.51:" + std::to_string(port1), b = "10.85.3.51:" + std::to_string(port2);
  const char* S = "10.85.3.111:19090";
  return {
      pkt(t[0], make_segment(a.c_str(), S, c1, 0, SYN, 25200, linux_syn_options(1260, cts1, 0, 7))),
      pkt(t[1], make_segment(S, a.c_str(), s1, c1 + 1, SYN | ACK, 24960, linux_syn_options(1260, sts1, cts1, 7))),
      pkt(t[2], make_segment(a.c_str(), S, c1 + 1, s1 + 1, ACK, 197, ts_options(cts1 + 1, sts1))),
      pkt(t[3], make_segment(b.c_str(), S, c2, 0, SYN, 25200, linux_syn_options(1260, cts2, 0, 7))),
      pkt(t[4], make_segment(S, b.c_str(), s2, c2 + 1, SYN | ACK, 24960, linux_syn_options(1260, sts2, cts2, 7))),
      pkt(t[5], make_segment(b.c_str(), S, c2 + 1, s2 + 1, ACK, 197, ts_options(cts2 + 1, sts2))),
  };
}

std::vector<Packet> exp1_packets() {
  const char* t[6] = {"17:39:27.970358", "17:39:27.970417", "17:39:27.970783",
                      "17:39:29.059890", "17:39:29.059949", "17:39:29.060623"};
  return two_handshakes(t, 57104, 2466985868u, 2846609535u, 3075335984u, 2612548200u,  //
                        34230, 2892210420u, 3434079625u, 1740811766u, 2612549289u);
}

std::vector<Packet> exp2_packets() {
  const char* t[6] = {"17:49:12.111152", "17:49:12.111221", "17:49:12.111766",
                      "17:49:12.871092", "17:49:12.871149", "17:49:12.871697"};
  return two_handshakes(t, 58164, 2599215624u, 795235982u, 3075920126u, 2613132341u,  //
                        34234, 3696139072u, 3928136503u, 1741395578u, 2613133101u);
}

// Experiment 3: the server telnets to the NAT box's sshd, gets the banner, closes first; then a
// NAT'd client's SYN is ignored and retransmitted twice with the same ISN.
std::vector<Packet> exp3_packets() {
  const char* H = "10.85.3.111:49416";
  const char* D = "10.85.3.51:22";
  const std::uint32_t c = 1039611753u, s = 489573340u;
  Segment banner = make_segment(D, H, s + 1, c + 1, PSH | ACK, 195, ts_options(3035577013u, 2630890246u));
  banner.payload = "SSH-2.0-OpenSSH_7.4\r\n";  // 21 bytes: what sshd on CentOS 7.4 sends first
  const char* N = "10.85.3.51:34264";
  const char* S = "10.85.3.111:19090";
  const std::uint32_t n = 668096838u;
  return {
      pkt("22:45:10.015335", make_segment(H, D, c, 0, SYN, 25200, linux_syn_options(1260, 2630890245u, 0, 7))),
      pkt("22:45:10.016055",
          make_segment(D, H, s, c + 1, SYN | ACK, 24960, linux_syn_options(1260, 3035577005u, 2630890245u, 7))),
      pkt("22:45:10.016074", make_segment(H, D, c + 1, s + 1, ACK, 197, ts_options(2630890246u, 3035577005u))),
      pkt("22:45:10.023482", banner),
      pkt("22:45:10.023507", make_segment(H, D, c + 1, s + 22, ACK, 197, ts_options(2630890253u, 3035577013u))),
      pkt("22:45:15.648562", make_segment(H, D, c + 1, s + 22, FIN | ACK, 197, ts_options(2630895878u, 3035577013u))),
      pkt("22:45:15.649128", make_segment(D, H, s + 22, c + 2, ACK, 195, ts_options(3035582639u, 2630895878u))),
      pkt("22:45:15.651394", make_segment(D, H, s + 22, c + 2, FIN | ACK, 195, ts_options(3035582641u, 2630895878u))),
      pkt("22:45:15.651411", make_segment(H, D, c + 2, s + 23, ACK, 197, ts_options(2630895881u, 3035582641u))),
      pkt("22:45:33.942378", make_segment(N, S, n, 0, SYN, 25200, linux_syn_options(1260, 1759176699u, 0, 7))),
      pkt("22:45:34.942300", make_segment(N, S, n, 0, SYN, 25200, linux_syn_options(1260, 1759177700u, 0, 7))),
      pkt("22:45:36.946320", make_segment(N, S, n, 0, SYN, 25200, linux_syn_options(1260, 1759179704u, 0, 7))),
  };
}

TEST(TcpdumpFormatter, ReproducesSeedPrintoutOfExperiment1ByteForByte) {
  const std::string golden = read_file(kPrintouts + "exp1_tw_recycle_off.txt");
  ASSERT_FALSE(golden.empty()) << "missing " << kPrintouts << "exp1_tw_recycle_off.txt";
  EXPECT_EQ(join_lines(format_all(exp1_packets(), {})), golden);
}

TEST(TcpdumpFormatter, ReproducesSeedPrintoutOfExperiment2ByteForByte) {
  const std::string golden = read_file(kPrintouts + "exp2_tw_recycle_on.txt");
  ASSERT_FALSE(golden.empty()) << "missing " << kPrintouts << "exp2_tw_recycle_on.txt";
  EXPECT_EQ(join_lines(format_all(exp2_packets(), {})), golden);
}

TEST(TcpdumpFormatter, ReproducesSeedPrintoutOfExperiment3ByteForByte) {
  // This printout names ports (taken without -nn) and comes from a tcpdump older than 4.99, which
  // had no SSH printer: the banner line ends at "length 21".
  const std::string golden = read_file(kPrintouts + "exp3_server_close_then_nat_syn.txt");
  ASSERT_FALSE(golden.empty()) << "missing " << kPrintouts << "exp3_server_close_then_nat_syn.txt";
  TcpdumpStyle style;
  style.service_names = true;
  style.app_summaries = false;
  EXPECT_EQ(join_lines(format_all(exp3_packets(), style)), golden);
}

TEST(TcpdumpFormatter, SeedExperimentsWrittenToPcapMatchInstalledTcpdump) {
  expect_same_as_tcpdump(exp1_packets(), {}, "-nn");
  expect_same_as_tcpdump(exp2_packets(), {}, "-nn");
  TcpdumpStyle named;
  named.service_names = true;
  // tcpdump 4.99 adds ": SSH: SSH-2.0-OpenSSH_7.4" to the banner line; app_summaries (default on)
  // reproduces that.
  expect_same_as_tcpdump(exp3_packets(), named, "");
  const auto lines = format_all(exp3_packets(), named);
  EXPECT_TRUE(lines[3].ends_with("length 21: SSH: SSH-2.0-OpenSSH_7.4")) << lines[3];
}

TEST(TcpdumpFormatter, DateTimeStyleShowsTheCaptureDate) {
  TcpdumpStyle style;
  style.date_time = true;
  const auto lines = format_all(exp3_packets(), style);
  EXPECT_EQ(lines[0].substr(0, 31), "2019-06-03 22:45:10.015335 IP 1");
}

}  // namespace
}  // namespace synscope::capture::testing
