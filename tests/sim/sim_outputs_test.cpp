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
