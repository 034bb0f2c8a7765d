// synscope lab on the real kernel, in network namespaces (needs root; skipped otherwise): each lab
// scenario passes its differential check, `synscope analyze` finds the injected cause in the capture
// the lab wrote, and interrupted or failed runs leave no namespace behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "analyze/analysis.h"
#include "capture/capture_reader.h"
#include "lab/netns.h"
#include "support/process.h"

namespace synscope {
namespace {

#define SKIP_UNLESS_LAB()                                              \
  do {                                                                 \
    if (auto why = lab::lab_unavailable_reason(); !why.empty()) GTEST_SKIP() << why; \
  } while (0)

std::vector<std::string> lab_netns_of(pid_t pid) {
  std::vector<std::string> out;
  const std::string prefix = "syn-" + std::to_string(pid) + "-";
  for (const auto& n : lab::list_netns())
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  return out;
}

struct LabRun {
  testing::CommandResult result;
  std::string pcap;
};

LabRun run_lab(const std::string& scenario, const testing::TempDir& dir) {
  auto r = testing::run_command(testing::synscope_binary() + " lab " + scenario + " -o " + dir.file("out"), dir);
  return {r, dir.file("out/server.pcap")};
}

std::uint64_t cause_attempts(const analyze::AnalysisResult& a, analyze::CauseKind k) {
  return a.causes[static_cast<std::size_t>(k)].attempts;
}

TEST(Lab, AcceptQueueOverflowAgreesAndAnalyzeFindsIt_S17_S3_7) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("accept-queue-overflow", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_NE(run.result.out.find("TcpExtListenOverflows          12       12  ok"), std::string::npos) << run.result.out;
  EXPECT_NE(run.result.out.find("the model agrees with the kernel"), std::string::npos);
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(cause_attempts(a, analyze::CauseKind::AcceptQueueFull), 2u);
}

TEST(Lab, NoListenerAgreesAndAnalyzeFindsIt_S2) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("no-listener", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_NE(run.result.out.find("refused (RST)            refused (RST)"), std::string::npos) << run.result.out;
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(cause_attempts(a, analyze::CauseKind::NoListener), 2u);
}

// The counter row "host counter lab model check" of a lab report, e.g. {"6", "6", "ok"}; empty if absent.
std::vector<std::string> counter_row(const std::string& out, const std::string& host, const std::string& counter) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string h, c, lab, model, check;
    if (f >> h >> c >> lab >> model >> check && h == host && c == counter) return {lab, model, check};
  }
  return {};
}

TEST(Lab, SynFloodWithoutCookiesAgreesAndAnalyzeFindsIt_S3_7_S17) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("syn-flood-no-cookies", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  // 40 spoofed SYNs against listen(fd, 8): 9 requests (Q > B), 31 dropped, then the client's 3 SYNs.
  EXPECT_EQ(counter_row(run.result.out, "server", "TcpExtTCPReqQFullDrop"), (std::vector<std::string>{"34", "34", "ok"}))
      << run.result.out;
  EXPECT_NE(run.result.out.find("timed out (ETIMEDOUT)    timed out (ETIMEDOUT)"), std::string::npos) << run.result.out;
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(cause_attempts(a, analyze::CauseKind::SynQueueFull), 32u);  // 31 flood SYNs and the client
  EXPECT_EQ(a.cookies, 0u);
}

TEST(Lab, SynFloodWithCookiesAgreesAndTheClientConnects_S10_S17) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("syn-flood-cookies", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_EQ(counter_row(run.result.out, "server", "TcpExtTCPReqQFullDoCookies"), (std::vector<std::string>{"32", "32", "ok"}))
      << run.result.out;
  EXPECT_EQ(counter_row(run.result.out, "server", "TcpExtSyncookiesRecv"), (std::vector<std::string>{"1", "1", "ok"}));
  auto a = analyze::analyze_file(run.pcap);
  // The flood failed nobody: the client's handshake completed on a cookie, and analyze blames no
  // SYN queue. On 4.12+ a cookie SYN-ACK's TSval carries the TS offset (docs/kernel-notes.md #6), so
  // analyze recognises the cookies by their SYN-ACKs never being re-sent: all but the first few of a
  // run and those too close to the capture's end.
  EXPECT_GE(a.cookies, 20u);
  EXPECT_LE(a.cookies, 32u);
  EXPECT_EQ(a.failed, 0u);
  EXPECT_EQ(a.outcomes[static_cast<std::size_t>(analyze::Outcome::Established)], 1u);
  EXPECT_EQ(cause_attempts(a, analyze::CauseKind::SynQueueFull), 0u);
}

TEST(Lab, SynFloodWithCookiesAlwaysAgrees_S10) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("syn-flood-cookies-always", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  // tcp_syncookies=2: every SYN (40 + the client's two) answered with a cookie, no request queued.
  EXPECT_EQ(counter_row(run.result.out, "server", "TcpExtSyncookiesSent"), (std::vector<std::string>{"42", "42", "ok"}))
      << run.result.out;
  EXPECT_NE(run.result.out.find("server      8080       0/0       0/0  ok"), std::string::npos) << run.result.out;
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(a.failed, 0u);
  EXPECT_EQ(a.outcomes[static_cast<std::size_t>(analyze::Outcome::Established)], 2u);
  // The client's second connection (at 3 s) keeps the capture going long enough to see that no
  // flood SYN-ACK is ever re-sent: analyze recognises them as cookies (docs/kernel-notes.md #6).
  EXPECT_GE(a.cookies, 30u);
  EXPECT_LE(a.cookies, 42u);
}

TEST(Lab, FinalAckOverflowAgreesAndAnalyzeFindsIt_S5_2_S17) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("final-ack-overflow", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  // 2 final ACKs dropped, and again at each SYN-ACK retransmission (+1 s, +3 s).
  EXPECT_EQ(counter_row(run.result.out, "server", "TcpExtListenOverflows"), (std::vector<std::string>{"6", "6", "ok"}))
      << run.result.out;
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(cause_attempts(a, analyze::CauseKind::AcceptQueueFull), 2u);
  EXPECT_EQ(a.outcomes[static_cast<std::size_t>(analyze::Outcome::AckIgnored)], 2u);
}

TEST(Lab, AbortOnOverflowAgreesAndAnalyzeFindsIt_S5_2_S17) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("abort-on-overflow", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_EQ(counter_row(run.result.out, "server", "TcpExtEmbryonicRsts"), (std::vector<std::string>{"2", "2", "ok"}))
      << run.result.out;
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(cause_attempts(a, analyze::CauseKind::AbortOnOverflow), 2u);
}

TEST(Lab, ListenZeroAdmitsOneAgreesAndAnalyzeFindsIt_S6_1) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("listen-zero", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_NE(run.result.out.find("server      8080       1/1"), std::string::npos) << run.result.out;
  EXPECT_EQ(counter_row(run.result.out, "server", "TcpExtListenOverflows"), (std::vector<std::string>{"3", "3", "ok"}))
      << run.result.out;
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(cause_attempts(a, analyze::CauseKind::AcceptQueueFull), 1u);
  EXPECT_EQ(a.outcomes[static_cast<std::size_t>(analyze::Outcome::Established)], 1u);
}

// An attempt row "client start established established SYNs dropped ok" of a lab report.
bool attempt_established_on_both_sides(const std::string& out, const std::string& client) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string c, start, lab, model, syns, dropped, check;
    if (f >> c >> start >> lab >> model >> syns >> dropped >> check && c == client && lab == "established" &&
        model == "established" && check == "ok")
      return true;
  }
  return false;
}

// Source addresses of the SYNs to `dport` in a capture, one entry per SYN transmission.
std::vector<std::string> syn_sources(const std::string& pcap, std::uint16_t dport) {
  std::vector<std::string> out;
  auto reader = capture::CaptureReader::open(pcap);
  capture::CaptureItem item;
  while (reader.next(item))
    if (item.kind == capture::CaptureItem::Kind::Tcp && item.tcp.is_syn() && item.tcp.dst.port == dport)
      out.push_back(item.tcp.src.addr.str());
  return out;
}

// The seed's experiment 3 on 6.18, through the nft NAT path: the server closes first, then the two
// clients behind the NAT connect. No tcp_tw_recycle since 4.12 (§7.7), so no per-host PAWS drop.
TEST(Lab, SeedNatServerCloseConnectsOnThisKernel_S7_7_S17) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("seed-nat-server-close", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_NE(run.result.out.find("the model agrees with the kernel"), std::string::npos) << run.result.out;
  // The lab says why there is no drop: the sysctl is gone, and with it the per-host PAWS check.
  EXPECT_NE(run.result.out.find("tcp_tw_recycle does not exist on this kernel (removed in 4.12"), std::string::npos)
      << run.result.out;
  EXPECT_NE(run.result.out.find("no per-host PAWS check on SYNs (§7.7)"), std::string::npos) << run.result.out;
  EXPECT_TRUE(attempt_established_on_both_sides(run.result.out, "client1")) << run.result.out;
  EXPECT_TRUE(attempt_established_on_both_sides(run.result.out, "client2")) << run.result.out;
  EXPECT_TRUE(counter_row(run.result.out, "server", "TcpExtPAWSPassive").empty()) << run.result.out;
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(a.failed, 0u);
  EXPECT_EQ(a.outcomes[static_cast<std::size_t>(analyze::Outcome::Established)], 3u);  // the server's own + 2 clients
  // Both clients' SYNs reach the server from the NAT box's address (DNAT + SNAT in the NAT namespace).
  EXPECT_EQ(syn_sources(run.pcap, 19090), (std::vector<std::string>{"10.85.3.51", "10.85.3.51"}));
}

// §7.7, §8, §17: three clients behind one NAT address, three connections each. This kernel's TS offset
// is per 4-tuple (165573e41f2f backported), so every connection is its own TS clock at the server.
TEST(Lab, NatTsClocksOneClockPerConnection_S7_7_S8_S17) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  auto run = run_lab("nat-ts-clocks", dir);
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_EQ(counter_row(run.result.out, "server", "TcpPassiveOpens"), (std::vector<std::string>{"9", "9", "ok"}))
      << run.result.out;
  EXPECT_EQ(syn_sources(run.pcap, 8080), std::vector<std::string>(9, "192.0.2.1"));
  auto a = analyze::analyze_file(run.pcap);
  EXPECT_EQ(a.failed, 0u);
  ASSERT_EQ(a.clocks.size(), 1u);
  EXPECT_EQ(a.clocks[0].addr.str(), "192.0.2.1");
  EXPECT_EQ(a.clocks[0].attempts, 9u);
  EXPECT_GE(a.clocks[0].clock_count, 2u);
  EXPECT_EQ(a.clocks[0].clock_count, 9u);  // not 3 (one per client, as with per-host-pair offsets)
}

TEST(Lab, InterruptedRunLeavesNothingBehind) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string bin = testing::synscope_binary();
    const std::string out = dir.file("out");
    ::execl(bin.c_str(), bin.c_str(), "lab", "accept-queue-overflow", "-o", out.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until the run has built its namespaces, then Ctrl-C it mid-run.
  for (int i = 0; i < 100 && lab_netns_of(pid).size() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(lab_netns_of(pid).size(), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_TRUE(lab_netns_of(pid).empty());
  // Nothing was ever created outside the namespaces: no veth in our own namespace, no nft table.
  EXPECT_EQ(lab::run_tool({"ip", "-o", "link", "show", "type", "veth"}).output.find("syn-"), std::string::npos);
  EXPECT_EQ(lab::run_tool({"nft", "list", "tables"}).output.find("synscope_lab"), std::string::npos);
}

TEST(Lab, ScenarioTheModelRefusesIsRejectedBeforeAnythingIsBuilt) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  const std::string toml = R"([scenario]
name = "bad-value"
duration = "2s"
[[host]]
name = "server"
addr = "192.0.2.10"
sysctl = { tcp_syncookies = 9 }
[[host]]
name = "client"
addr = "192.0.2.20"
[[server]]
host = "server"
port = 80
)";
  {
    std::ofstream f(dir.file("bad.toml"));
    f << toml;
  }
  // `exec` keeps the shell's pid for synscope, so its namespaces would be named syn-<that pid>-…
  // (other lab tests may be running in parallel: look only at this run's).
  auto r = testing::run_command("echo $$; exec " + testing::synscope_binary() + " lab " + dir.file("bad.toml"), dir);
  const pid_t pid = static_cast<pid_t>(std::stol(r.out));
  EXPECT_EQ(r.exit_status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("tcp_syncookies=9 out of range"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checked before building anything"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("building"), r.err.find("building anything")) << r.err;  // no "building N namespaces" step
  EXPECT_TRUE(lab_netns_of(pid).empty());
}

TEST(Lab, RunFailingHalfWayLeavesNothingBehind) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  // The capture file cannot be written (a directory is in its place): the namespaces are built, the
  // capture child fails, the run fails and must still remove them.
  std::filesystem::create_directories(dir.file("out/server.pcap"));
  // As above: this run's namespaces are syn-<pid>-…, whatever other lab tests run meanwhile.
  auto r = testing::run_command("echo $$; exec " + testing::synscope_binary() + " lab no-listener -o " + dir.file("out"), dir);
  const pid_t pid = static_cast<pid_t>(std::stol(r.out));
  EXPECT_EQ(r.exit_status, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("building"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("server.pcap"), std::string::npos) << r.err;
  EXPECT_TRUE(lab_netns_of(pid).empty());
}

TEST(Lab, MissingSysctlTheScenarioNeedsIsRefused_S7_7) {
  SKIP_UNLESS_LAB();
  testing::TempDir dir;
  {
    std::ofstream f(dir.file("recycle.toml"));
    f << "[scenario]\nname = \"recycle\"\nduration = \"1s\"\n[[host]]\nname = \"server\"\naddr = \"192.0.2.10\"\n"
         "sysctl = { tcp_tw_recycle = 1 }\n";
  }
  auto r = testing::run_command(testing::synscope_binary() + " lab " + dir.file("recycle.toml"), dir);
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_NE(r.err.find("tcp_tw_recycle does not exist on this kernel (removed in 4.12"), std::string::npos) << r.err;
}

// The lab's traffic never leaves its namespaces: while the most outgoing scenario runs (a flood from
// spoofed sources, and SYN-ACKs back to them), a capture on every interface of the caller's own
// namespace sees none of the lab's addresses.
TEST(Lab, TrafficNeverLeavesItsNamespaces) {
  SKIP_UNLESS_LAB();
  if (!testing::have_tool("tcpdump")) GTEST_SKIP() << "needs tcpdump";
  testing::TempDir dir;
  const std::string seen = dir.file("root.txt");
  // tcpdump in the root namespace, for longer than the run; -l so each packet line is written at once.
  const std::string watch = "timeout 12 tcpdump -i any -nn -l 'net 192.0.2.0/24 or net 198.51.100.0/24' > '" + seen +
                            "' 2>'" + dir.file("tcpdump.err") + "' & sleep 1; " + testing::synscope_binary() + " lab syn-flood-no-cookies -o '" +
                            dir.file("out") + "' > /dev/null; wait";
  auto r = testing::run_command(watch, dir);
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/server.pcap")));
  // The watcher really ran (it says so on stderr) ...
  EXPECT_NE(testing::read_file(dir.file("tcpdump.err")).find("listening on any"), std::string::npos);
  // ... and saw nothing of the lab's.
  const std::string text = testing::read_file(seen);
  EXPECT_EQ(text.find(" IP "), std::string::npos) << "lab packets seen outside the lab's namespaces:\n" << text;
}

}  // namespace
}  // namespace synscope
