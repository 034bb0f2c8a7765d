// Every public capture in ../shared/pcaps is read without error, its attempt count agrees with
// tshark's view of the same file, and one-sided captures are never reported as silent servers.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "analyze/analysis.h"
#include "support/process.h"

namespace synscope::analyze {
namespace {

using synscope::testing::run_command;
using synscope::testing::source_path;
using synscope::testing::split_lines;
using synscope::testing::TempDir;

std::vector<std::string> shared_pcaps() {
  std::vector<std::string> out;
  const auto dir = std::filesystem::path(source_path("../shared/pcaps"));
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".pcap") != std::string::npos) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// tshark's view: distinct (source, source port, destination, destination port, ISN) of SYNs without
// ACK. For tunnelled TCP the innermost IP addresses are the ones that count (occurrence=l).
std::size_t tshark_attempts(const std::string& file, const TempDir& dir) {
  const auto r = run_command(
      "tshark -n -r '" + file + "' -Y 'tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.flags.reset==0' -T fields -E occurrence=l "
      "-e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport -e tcp.seq_raw",
      dir);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  std::set<std::string> distinct;
  for (const auto& line : split_lines(r.out))
    if (!line.empty()) distinct.insert(line);
  return distinct.size();
}

TEST(AnalyzeSharedPcaps, EveryCaptureReadsAndItsAttemptCountMatchesTshark) {
  TempDir dir;
  const auto files = shared_pcaps();
  ASSERT_GE(files.size(), 30u);
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    AnalysisResult r;
    ASSERT_NO_THROW(r = analyze_file(f));
    EXPECT_TRUE(r.stop_reason.empty()) << r.stop_reason;
    EXPECT_EQ(r.tracker.attempts, tshark_attempts(f, dir));
    std::uint64_t outcomes = 0;
    for (auto n : r.outcomes) outcomes += n;
    EXPECT_EQ(outcomes, r.tracker.attempts) << "every attempt has exactly one outcome";
  }
}

AnalysisResult analyze_shared(const std::string& name) { return analyze_file(source_path("../shared/pcaps/" + name)); }

TEST(AnalyzeSharedPcaps, OneSidedCapturesAreNotSilentServers) {
  // Client→server only: every handshake completed although no SYN-ACK is visible.
  for (const char* name : {"zeek_ssh-client-side-half-duplex.pcap", "zeek_gre-aruba.pcap"}) {
    SCOPED_TRACE(name);
    const auto r = analyze_shared(name);
    EXPECT_GT(r.tracker.attempts, 0u);
    EXPECT_EQ(r.failed, 0u);
    EXPECT_EQ(r.outcomes[static_cast<std::size_t>(Outcome::CompletedUnseen)], r.tracker.attempts);
  }
  // Outbound-only raw-IP capture: 10 of 12 SYNs belong to sessions that carry data.
  const auto ocs = analyze_shared("ndpi_ocs.pcap");
  EXPECT_EQ(ocs.outcomes[static_cast<std::size_t>(Outcome::CompletedUnseen)], 10u);
  // The Aruba capture's TCP is inside GRE-carried 802.11: said so.
  const auto gre = analyze_shared("zeek_gre-aruba.pcap");
  ASSERT_TRUE(gre.capture_stats);
  EXPECT_GT(gre.capture_stats->tunnelled_total(), 0u);
  EXPECT_EQ(gre.tracker.tunnelled, gre.tracker.tcp);
}

TEST(AnalyzeSharedPcaps, RefusalsSilenceAndIcmpAreToldApart) {
  const auto refused = analyze_shared("cs_nowebaccess2.pcapng");
  EXPECT_EQ(refused.outcomes[static_cast<std::size_t>(Outcome::Refused)], 1u);
  EXPECT_EQ(refused.causes[static_cast<std::size_t>(CauseKind::NoListener)].attempts, 1u);

  const auto silent = analyze_shared("cs_nowebaccess3.pcapng");
  EXPECT_EQ(silent.outcomes[static_cast<std::size_t>(Outcome::Unanswered)], 1u);

  const auto vbox = analyze_shared("ndpi_gnutella.pcap");
  EXPECT_EQ(vbox.outcomes[static_cast<std::size_t>(Outcome::Unreachable)], 2u);
  EXPECT_EQ(vbox.causes[static_cast<std::size_t>(CauseKind::Filtered)].attempts, 2u);

  // nmap SYN scan: closed ports RST, filtered ports silent while the host answers elsewhere.
  const auto scan = analyze_shared("cs_synscan.pcapng");
  EXPECT_EQ(scan.outcomes[static_cast<std::size_t>(Outcome::Refused)], 5u);
  EXPECT_EQ(scan.outcomes[static_cast<std::size_t>(Outcome::Unanswered)], 1986u);
  EXPECT_EQ(scan.causes[static_cast<std::size_t>(CauseKind::SilentPort)].attempts, 1986u);
}

TEST(AnalyzeSharedPcaps, CopiesInTheCaptureAreNotRetransmissions) {
  // Every frame captured twice, ~1-2 ms apart.
  const auto haunted = analyze_shared("cs_ppa1e_hauntedbrowser.pcap");
  EXPECT_GT(haunted.tracker.duplicate_syns, 0u);
  for (const Attempt& a : haunted.kept) EXPECT_FALSE(a.retried) << a.id;
  // The whole capture twice: time goes backwards, and no attempt is counted twice.
  const auto twice = analyze_shared("cs_ppa1e_ftp-crack.pcap");
  EXPECT_EQ(twice.tracker.time_backwards > 0, true);
  EXPECT_EQ(twice.tracker.attempts, 704u);
  EXPECT_GT(twice.tracker.synack_without_syn, 0u);  // and it starts mid-handshake
}

TEST(AnalyzeSharedPcaps, RetransmissionSchedulesAreRecognised) {
  // Linux: 1 s then 2 s (zeek echo server backlog overflow on loopback).
  const auto echo = analyze_shared("zeek_echo-connections.pcap");
  EXPECT_GT(echo.schedules[static_cast<std::size_t>(Schedule::LinuxExponential)], 0u);
  EXPECT_EQ(echo.failed, 0u);
  EXPECT_EQ(echo.delayed, 158u);
  // macOS: 1,1,1,1,1,2,4,8,16 s.
  const auto espn = analyze_shared("cs_http_espn_fail.pcapng");
  EXPECT_GT(espn.schedules[static_cast<std::size_t>(Schedule::LinearThenExponential)], 0u);
  // Windows: 3 s then 6 s.
  const auto win = analyze_shared("sv_base64-decode-5885.pcap");
  EXPECT_GT(win.schedules[static_cast<std::size_t>(Schedule::Exponential3s)], 0u);
}

}  // namespace
}  // namespace synscope::analyze
