// `synscope analyze -` streams in one pass with memory bounded by what is still open (issue: "a
// 10 GB capture runs in under 256 MB of RSS"). The CI-sized version of bench/analyze_memory.sh:
// handshake-heavy captures from bench/make_handshake_pcap (built with the tests, its path passed
// as SYNSCOPE_MAKE_HANDSHAKE_PCAP like SYNSCOPE_BINARY) are piped straight into the synscope
// binary, and the analyze process's own peak RSS is read from wait4()'s ru_maxrss.
//
// The captures are generated at 50 connections per second of capture time (~550 packets/s), so
// that 150 MB already spans ~23 minutes of capture (~70k attempts) and 600 MB ~90 minutes: both are
// far past every eviction horizon of the attempt tracker (the longest is minutes) and past the
// report's fixed caps (10k failed/late attempts kept), so a tracker that forgets old state peaks at
// about the same RSS for both, while one that keeps state per attempt (or per spoofed flood source)
// grows with the 4x more attempts of the larger run. (A realistic rate, 3000 connections/s, needs
// GBs to get past the horizons: that is bench/analyze_memory.sh.)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.h"

extern char** environ;

namespace synscope {
namespace {

using testing::read_file;
using testing::TempDir;

constexpr double kLimitMb = 256;
constexpr const char* kSmall = "150M";  // generator --bytes
constexpr const char* kLarge = "600M";

struct StreamResult {
  int generator_status = -1;  // exit status, or 128 + signal
  int analyze_status = -1;
  double peak_rss_mb = 0;     // of the analyze process alone
  double seconds = 0;
  std::string generator_err, analyze_err, analyze_out;
};

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

pid_t spawn(const std::vector<std::string>& args, int stdin_fd, int stdout_fd, const std::string& stdout_path,
            const std::string& stderr_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (stdin_fd >= 0) posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
  if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
  else posix_spawn_file_actions_addopen(&fa, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot run " + args[0] + ": " + std::strerror(rc));
  return pid;
}

// make_handshake_pcap GEN_ARGS --out - | synscope analyze -  (stdout kept, for a look on failure)
StreamResult stream_through_analyze(const std::vector<std::string>& gen_args, const TempDir& dir) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<std::string> gen = {SYNSCOPE_MAKE_HANDSHAKE_PCAP, "--out", "-"};
  gen.insert(gen.end(), gen_args.begin(), gen_args.end());
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t g = spawn(gen, -1, fds[1], "", dir.file("gen.err"));
  const pid_t a = spawn({testing::synscope_binary(), "analyze", "-"}, fds[0], -1, dir.file("analyze.out"),
                        dir.file("analyze.err"));
  close(fds[0]);
  close(fds[1]);
  StreamResult r;
  int status = 0;
  rusage ru{};
  if (wait4(a, &status, 0, &ru) == a) {
    r.analyze_status = exit_code(status);
    r.peak_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
  }
  if (waitpid(g, &status, 0) == g) r.generator_status = exit_code(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.generator_err = read_file(dir.file("gen.err"));
  r.analyze_err = read_file(dir.file("analyze.err"));
  r.analyze_out = read_file(dir.file("analyze.out"));
  return r;
}

// The capture arguments shared by every run: 50 connections per second of capture time from a
// population small enough (2000 direct hosts, 400 behind NATs) that every client address has shown
// up within the smaller run, so that only state kept per attempt (or per spoofed source) can grow.
std::vector<std::string> capture_args(const std::string& bytes, bool floods) {
  std::vector<std::string> args = {"--bytes", bytes, "--seed", "7", "--conn-rate", "50", "--clients", "2000",
                                   "--nat-hosts", "400"};
  if (floods) {
    // Every flood the same (1 s of 3000 spoofed SYN/s, on average every 2 minutes), so that a
    // bounded analyzer's peak does not depend on which run drew the biggest flood.
    for (const char* a : {"--flood-interval", "120", "--flood-rate", "3000", "--flood-length", "1"}) args.push_back(a);
  } else {
    args.insert(args.end(), {"--flood-interval", "0"});
  }
  return args;
}

StreamResult run_size(const std::string& bytes, bool floods) {
  TempDir dir;
  StreamResult r = stream_through_analyze(capture_args(bytes, floods), dir);
  // Generator status 0 means it wrote everything into the pipe, i.e. analyze read (nearly) all of it
  // rather than stopping early; a generator killed by SIGPIPE (141) would mean analyze quit.
  EXPECT_EQ(r.generator_status, 0) << r.generator_err;
  EXPECT_EQ(r.analyze_status, 0) << r.analyze_err;
  EXPECT_FALSE(r.analyze_out.empty());
  EXPECT_GT(r.peak_rss_mb, 0);
  std::printf("  %s%s: analyze peak RSS %.1f MB in %.1f s; %s", bytes.c_str(), floods ? " with floods" : "",
              r.peak_rss_mb, r.seconds, r.generator_err.substr(0, r.generator_err.find('\n') + 1).c_str());
  return r;
}

// Both sizes are past every eviction horizon and every fixed cap, so a tracker that forgets by time
// peaks at about the same RSS for both. The allowance (6 MB, or 10 %) covers allocator and
// hash-table sizing noise and the report's percentile sample filling up (up to 2 MB); state kept
// per attempt shows up as growth beyond it (200k+ more attempts in the larger run: 30 bytes each
// make 6 MB).
void expect_bounded(const StreamResult& small, const StreamResult& large) {
  EXPECT_LT(small.peak_rss_mb, kLimitMb);
  EXPECT_LT(large.peak_rss_mb, kLimitMb);
  EXPECT_LE(large.peak_rss_mb, small.peak_rss_mb + std::max(6.0, 0.1 * small.peak_rss_mb))
      << "analyze's peak RSS grew from " << small.peak_rss_mb << " MB (" << kSmall << " of capture) to " << large.peak_rss_mb << " MB (" << kLarge
      << "): state is not evicted by time\n--- analyze output (" << kLarge << "), start ---\n"
      << large.analyze_out.substr(0, 1500);
}

// Handshakes, failures (SYN retransmissions, refusals, ignored final ACKs), no floods.
TEST(AnalyzeMemory, PeakRssDoesNotGrowWithTheInput) {
  if (testing::kSanitizerBuild) GTEST_SKIP() << "RSS under ASan is the sanitizer allocator's; the normal build runs this";
  const StreamResult small = run_size(kSmall, false);
  const StreamResult large = run_size(kLarge, false);
  expect_bounded(small, large);
}

// The same traffic with SYN floods from spoofed sources: ~57k spoofed SYNs (random sources) in
// the smaller run, ~186k in the larger.
TEST(AnalyzeMemory, PeakRssDoesNotGrowWithSpoofedSynFloods) {
  if (testing::kSanitizerBuild) GTEST_SKIP() << "RSS under ASan is the sanitizer allocator's; the normal build runs this";
  const StreamResult small = run_size(kSmall, true);
  const StreamResult large = run_size(kLarge, true);
  expect_bounded(small, large);
}

}  // namespace
}  // namespace synscope
