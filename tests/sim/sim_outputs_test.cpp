// The simulator's files are real: the pcap is read by tcpdump and tshark, and the .txt it writes
// next to it is exactly what tcpdump prints for that pcap.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sim/sim_report.h"
#include "sim_test_support.h"
#include "support/process.h"

namespace synscope::sim {
namespace {

using synscope::testing::run_command;
using synscope::testing::split_lines;
using synscope::testing::TempDir;

TEST(SimOutputs, PcapReadsBackWithTcpdumpIdenticalToTheTextFile) {
  for (const char* name : {"seed-nat-recycle-server-close", "accept-queue-overflow", "syn-flood"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    write_outputs(testing::run_builtin(name), dir.file("out"));
    auto td = run_command("TZ=UTC tcpdump -nn -r " + dir.file("out/server.pcap"), dir);
    ASSERT_EQ(td.exit_status, 0) << td.err;
    EXPECT_NE(td.err.find("link-type EN10MB"), std::string::npos);
    EXPECT_EQ(td.out, synscope::testing::read_file(dir.file("out/server.txt")));
    EXPECT_GT(split_lines(td.out).size(), 10u);
  }
}

TEST(SimOutputs, TsharkReadsThePcapWithGoodChecksumsAndNoWarnings) {
  TempDir dir;
  write_outputs(testing::run_builtin("seed-nat-recycle-server-close"), dir.file("out"));
  auto ts = run_command("tshark -r " + dir.file("out/server.pcap") +
                            " -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -T fields -e ip.checksum.status"
                            " -e tcp.checksum.status -e tcp.analysis.flags",
                        dir);
  ASSERT_EQ(ts.exit_status, 0) << ts.err;
  for (const auto& line : split_lines(ts.err))
    EXPECT_TRUE(line.empty() || line.find("Running as user \"root\"") != std::string::npos) << line;
  auto lines = split_lines(ts.out);
  ASSERT_EQ(lines.size(), 22u);
  for (const auto& l : lines) EXPECT_EQ(l.substr(0, 4), "1\t1\t") << "checksums: " << l;
  // tshark's own analysis flags the unanswered SYNs as retransmissions, as it would a real capture.
  int flagged = 0;
  for (const auto& l : lines) flagged += l.size() > 4;
  EXPECT_GE(flagged, 6);
}

TEST(SimOutputs, JsonFileParsesAndNamesTheCaptures) {
  TempDir dir;
  auto files = write_outputs(testing::run_builtin("seed-nat-baseline"), dir.file("out"));
  ASSERT_EQ(files.size(), 3u);
  auto j = nlohmann::json::parse(synscope::testing::read_file(dir.file("out/result.json")));
  EXPECT_EQ(j["captures"][0]["name"], "server");
  EXPECT_EQ(j["captures"][0]["packets"], 14);  // 2 handshakes + 2 four-segment closes
}

}  // namespace
}  // namespace synscope::sim

namespace synscope::sim {
namespace {

// §10 + §5.2: three SYNs in one round trip against listen(fd, 1) on 6.18: the third is answered with a
// cookie (SYN queue "full" at Q > B), and when the cookie ACK meets the full accept queue no request
// exists to retransmit from. The explanation must not promise SYN-ACK retransmissions for it.
TEST(SimOutputs, CookieAckOnFullAcceptQueueIsExplainedAsDiscarded) {
  const Scenario sc = load_scenario_text(R"(
[scenario]
name = "cookie-ack-overflow"
start = "2024-05-01 09:00:00"
duration = "5s"
kernel = "6.18"
[[host]]
name = "server"
addr = "10.6.0.10"
[[host]]
name = "client"
addr = "10.6.0.20"
[[server]]
host = "server"
port = 8081
backlog = 1
accept = "stalled"
[[client]]
name = "client"
host = "client"
connect = "10.6.0.10:8081"
at = ["1s", "1.00005s", "1.0001s"]
[[capture]]
host = "server"
)",
                                         "inline");
  const SimResult r = simulate(sc);
  const std::string why = render_explanation(r);
  EXPECT_NE(why.find("answered a SYN cookie, so no request exists: the ACK is discarded and nothing is retransmitted"),
            std::string::npos)
      << why;
  // And indeed no SYN-ACK is re-sent by the server after the clients' ACKs.
  int synacks = 0;
  for (const auto& s : r.captures.at(0).segments) synacks += s.seg.is_synack() ? 1 : 0;
  EXPECT_EQ(synacks, 3);
}

}  // namespace
}  // namespace synscope::sim
