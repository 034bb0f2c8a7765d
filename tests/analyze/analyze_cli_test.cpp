// `synscope analyze` as a user runs it: file kinds, pipes, JSON/CSV, and bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <fstream>

#include "support/process.h"

namespace synscope {
namespace {

using testing::run_command;
using testing::source_path;
using testing::split_lines;
using testing::TempDir;

const std::string kExp3 = source_path("../shared/spec/seed-printouts/exp3_server_close_then_nat_syn.txt");

testing::CommandResult synscope(const std::string& args, const TempDir& dir) {
  return run_command(testing::synscope_binary() + " " + args, dir);
}

TEST(AnalyzeCli, SummaryComesFirstThenTheFailedAttempt) {
  TempDir dir;
  const auto r = synscope("analyze '" + kExp3 + "'", dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const auto summary = r.out.find("Attempts: 2");
  const auto cause = r.out.find("per-host PAWS");
  const auto details = r.out.find("Failed or late attempts:\n#2");
  ASSERT_NE(summary, std::string::npos);
  ASSERT_NE(cause, std::string::npos);
  ASSERT_NE(details, std::string::npos);
  EXPECT_LT(summary, cause);
  EXPECT_LT(cause, details);
}

TEST(AnalyzeCli, ReadsPcapFromAPipeAndTextFromAPipe) {
  TempDir dir;
  const std::string pcap = source_path("../shared/pcaps/cs_nowebaccess2.pcapng");
  const auto from_file = synscope("analyze --json '" + pcap + "'", dir);
  const auto from_pipe = run_command("cat '" + pcap + "' | " + testing::synscope_binary() + " analyze --json -", dir);
  ASSERT_EQ(from_pipe.exit_status, 0) << from_pipe.err;
  auto a = nlohmann::json::parse(from_file.out), b = nlohmann::json::parse(from_pipe.out);
  EXPECT_EQ(a["summary"], b["summary"]);
  EXPECT_EQ(b["input"]["name"], "-");
  const auto text_pipe = run_command("cat '" + kExp3 + "' | " + testing::synscope_binary() + " analyze --json -", dir);
  ASSERT_EQ(text_pipe.exit_status, 0) << text_pipe.err;
  EXPECT_EQ(nlohmann::json::parse(text_pipe.out)["summary"]["causes"]["per-host-paws"]["attempts"], 1);
}

TEST(AnalyzeCli, CompressedCapturesAreRead) {
  TempDir dir;
  const std::string pcap = source_path("../shared/pcaps/cs_ppa1e_evilprogram.pcap");
  ASSERT_EQ(run_command("gzip -c '" + pcap + "' > '" + dir.file("t.pcap.gz") + "' && zstd -q -c '" + pcap + "' > '" +
                            dir.file("t.pcap.zst") + "'", dir).exit_status, 0);
  const auto plain = nlohmann::json::parse(synscope("analyze --json '" + pcap + "'", dir).out);
  for (const char* f : {"t.pcap.gz", "t.pcap.zst"}) {
    const auto r = synscope(std::string("analyze --json '") + dir.file(f) + "'", dir);
    ASSERT_EQ(r.exit_status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["summary"], plain["summary"]) << f;
  }
}

TEST(AnalyzeCli, JsonFollowsTheDocumentedSchema) {
  TempDir dir;
  const auto r = synscope("analyze --json '" + kExp3 + "'", dir);
  ASSERT_EQ(r.exit_status, 0);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "synscope.analyze/1");
  for (const char* k : {"input", "summary", "artefacts", "ts_clocks", "attempts", "attempts_not_listed", "notes"})
    EXPECT_TRUE(j.contains(k)) << k;
  const auto& a = j["attempts"][0];
  EXPECT_EQ(a["outcome"], "unanswered");
  EXPECT_EQ(a["syn_count"], 3);
  EXPECT_EQ(a["schedule"], "exponential-1s");
  EXPECT_EQ(a["causes"][0]["id"], "per-host-paws");
  EXPECT_EQ(a["syns"][0]["tsval"], 1759176699u);
  // --all lists the attempts that worked too.
  const auto all = nlohmann::json::parse(synscope("analyze --json --all '" + kExp3 + "'", dir).out);
  EXPECT_EQ(all["attempts"].size(), 2u);
}

TEST(AnalyzeCli, CsvHasOneRowPerAttempt) {
  TempDir dir;
  const auto r = synscope("analyze --csv '" + source_path("../shared/pcaps/mk_nmap_version_scan.pcap") + "'", dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  auto lines = split_lines(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].rfind("id,first_syn,client,server,isn,outcome", 0), 0u);
  EXPECT_EQ(lines.size(), 1u + 1008u);
}

TEST(AnalyzeCli, UnreadableInputIsExitTwoWithOneLine) {
  TempDir dir;
  for (const std::string& args : {std::string("analyze /nonexistent.pcap"), std::string("analyze /"),
                                  std::string("analyze '") + dir.file("empty") + "'"}) {
    std::ofstream(dir.file("empty")).flush();
    const auto r = synscope(args, dir);
    EXPECT_EQ(r.exit_status, 2) << args;
    EXPECT_EQ(split_lines(r.err).size(), 1u) << args << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
  // An xz-compressed capture is recognised by its magic bytes and explained, not parsed as text.
  std::ofstream(dir.file("t.pcap.xz"), std::ios::binary) << std::string("\xfd" "7zXZ\0\0", 8);
  const auto xz = synscope("analyze '" + dir.file("t.pcap.xz") + "'", dir);
  testing::expect_one_line_error(xz, "xz-compressed");
  std::ofstream(dir.file("junk.txt")) << "this is not a capture\nnor tcpdump output\n";
  const auto junk = synscope("analyze '" + dir.file("junk.txt") + "'", dir);
  EXPECT_EQ(junk.exit_status, 2);
  EXPECT_EQ(split_lines(junk.err).size(), 1u) << junk.err;
}

TEST(AnalyzeCli, TruncatedCaptureReportsWhatWasReadAndWhereItStopped) {
  TempDir dir;
  const std::string pcap = source_path("../shared/pcaps/cs_ppa1e_gnutella.pcap");
  ASSERT_EQ(run_command("head -c 50000 '" + pcap + "' > '" + dir.file("cut.pcap") + "'", dir).exit_status, 0);
  const auto r = synscope("analyze '" + dir.file("cut.pcap") + "'", dir);
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_NE(r.out.find("Attempts: "), std::string::npos);     // what was read is reported …
  EXPECT_NE(r.out.find("the input stopped early"), std::string::npos);
  EXPECT_NE(r.err.find("truncated at frame"), std::string::npos) << r.err;  // … and where it stopped
}

// A live capture on loopback: a connection to a port nobody listens on is refused, and analyze says so.
TEST(AnalyzeCli, LiveCaptureOnLoopbackSeesARefusal) {
  if (geteuid() != 0) GTEST_SKIP() << "live capture needs root";
  TempDir dir;
  // Port 9 (discard) is assumed closed on the test machine's loopback; the client is bash's /dev/tcp.
  const std::string cmd = "(sleep 1; bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null; true) & " +
                          testing::synscope_binary() + " analyze --json -i lo --filter 'tcp port 9' --duration 3";
  const auto r = run_command(cmd, dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["input"]["format"], "live");
  EXPECT_EQ(j["summary"]["outcomes"]["refused"], 1);
  EXPECT_EQ(j["attempts"][0]["causes"][0]["id"], "no-listener");
}

}  // namespace
}  // namespace synscope
