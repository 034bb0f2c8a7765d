// Bad inputs from the outside world that no parser test covers (issue 8, docs/robustness.md): a
// 4 GB file that is no capture, pipes that close early on either side, and capturing without the
// privilege to. Each ends in one clear line (or, for a reader that hangs up, the quiet SIGPIPE
// exit every Unix filter has), never a crash, a hang or a 4 GB allocation.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace synscope {
namespace {

using testing::run_command;
using testing::source_path;
using testing::synscope_binary;
using testing::TempDir;

// A 4 GiB sparse file of zeros (no disk space used): not a capture, and the text reader must not
// take it whole into memory before noticing. /usr/bin/time reports the child's peak RSS.
TEST(AnalyzeRobustness, FourGigabyteFileOfZerosIsRefusedAtOnce) {
  TempDir dir;
  const std::string big = dir.file("zeros.bin");
  std::ofstream(big).close();
  std::filesystem::resize_file(big, 4ull << 30);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_command(synscope_binary() + " analyze '" + big + "'", dir);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  testing::expect_one_line_error(r, "zeros.bin");
  EXPECT_LT(s, 20.0);
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  EXPECT_LT(ru.ru_maxrss, 1024 * 1024) << "peak RSS of a child, KiB: the file was not read whole";
}

// The writer of a pipe stops half-way through a frame: everything before is analysed and printed,
// and the one line on stderr says where the input stopped (exit 2, as for a truncated file).
TEST(AnalyzeRobustness, InputPipeClosingMidFrameReportsWhereItStopped) {
  TempDir dir;
  const std::string pcap = source_path("../shared/pcaps/cs_ppa1e_gnutella.pcap");
  auto r = run_command("head -c 50001 '" + pcap + "' | " + synscope_binary() + " analyze --json -", dir);
  EXPECT_EQ(r.exit_status, 2);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["input"]["stopped_early"].get<bool>());
  EXPECT_NE(j["input"]["stop_reason"].get<std::string>().find("truncated at frame"), std::string::npos) << j["input"];
  EXPECT_GT(j["summary"]["attempts"].get<int>(), 0);
  const auto err = testing::split_lines(r.err);
  ASSERT_EQ(err.size(), 1u) << r.err;
  EXPECT_EQ(err[0].rfind("synscope: standard input: stopped early: truncated at frame", 0), 0u) << err[0];
  // A pipe that closes before the first byte: one line, exit 2.
  testing::expect_one_line_error(run_command("true | " + synscope_binary() + " analyze -", dir), "standard input");
}

// The reader of synscope's output hangs up early (`| head -1`): synscope ends by SIGPIPE like any
// filter, with nothing on stderr, and the reader got its line.
TEST(AnalyzeRobustness, OutputPipeClosingEarlyEndsQuietly) {
  TempDir dir;
  const std::string pcap = source_path("../shared/pcaps/cs_synscan.pcapng");
  // bash for PIPESTATUS (run_command's shell is sh).
  std::ofstream(dir.file("pipe.sh")) << synscope_binary() << " analyze --csv '" << pcap << "' 2>'" << dir.file("err.txt")
                                     << "' | head -1\necho \"status ${PIPESTATUS[0]}\"\n";
  auto r = run_command("bash '" + dir.file("pipe.sh") + "'", dir);
  const auto lines = testing::split_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind("id,first_syn,", 0), 0u) << lines[0];
  EXPECT_TRUE(lines[1] == "status 0" || lines[1] == "status 141") << lines[1];  // done, or SIGPIPE
  EXPECT_EQ(testing::read_file(dir.file("err.txt")), "");
}

// Capturing needs CAP_NET_RAW: without it, one line saying so, not a crash or an empty analysis.
TEST(AnalyzeRobustness, LiveCaptureWithoutPrivilegeIsAOneLineError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  TempDir dir;
  auto r = run_command("setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " + synscope_binary() +
                           " analyze -i lo --duration 1",
                       dir);
  testing::expect_one_line_error(r, "lo");
}

}  // namespace
}  // namespace synscope
