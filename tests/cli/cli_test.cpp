// The synscope binary as a user runs it: golden text output for every built-in scenario, `explain`
// and `profiles`, and one clear error line with exit status 2 for bad input.
// Set SYNSCOPE_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sim/builtin_scenarios.h"
#include "support/golden.h"
#include "support/process.h"

namespace synscope {
namespace {

using testing::CommandResult;
using testing::read_file;
using testing::run_command;
using testing::split_lines;
using testing::TempDir;

CommandResult synscope(const std::string& args, const TempDir& dir) {
  return run_command(testing::synscope_binary() + " " + args, dir);
}

using testing::expect_golden;

// Text output, verdict table and counters of each built-in scenario (golden).
TEST(CliGolden, EveryBuiltinScenarioPrintsItsGoldenText) {
  for (const auto& b : sim::builtin_scenarios()) {
    SCOPED_TRACE(std::string(b.name));
    TempDir dir;
    auto r = synscope("sim " + std::string(b.name), dir);
    ASSERT_EQ(r.exit_status, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    expect_golden("sim/" + std::string(b.name) + ".txt", r.out);
  }
}

TEST(CliGolden, DefaultSimIsTheSeedServerCloseScenario) {
  TempDir dir;
  auto def = synscope("sim", dir);
  auto named = synscope("sim seed-nat-recycle-server-close", dir);
  ASSERT_EQ(def.exit_status, 0);
  EXPECT_EQ(def.out, named.out);
  EXPECT_NE(def.out.find("TSval 3035582641"), std::string::npos);
  EXPECT_NE(def.out.find("per-host PAWS"), std::string::npos);
}

TEST(CliGolden, ExplainChainPerProfile) {
  for (const char* k : {"3.10", "el7", "4.4", "4.10", "4.12", "5.4", "6.5", "6.13", "6.18", "7.0"}) {
    SCOPED_TRACE(k);
    TempDir dir;
    auto r = synscope(std::string("explain --kernel ") + k, dir);
    ASSERT_EQ(r.exit_status, 0) << r.err;
    expect_golden(std::string("explain/") + k + ".txt", r.out);
  }
  TempDir dir;
  auto r = synscope("explain --kernel el7 --sysctl tcp_tw_recycle=1 --sysctl tcp_syncookies=0 --backlog 511", dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  expect_golden("explain/el7-recycle-nocookies.txt", r.out);
  EXPECT_NE(r.out.find("Per-host PAWS (tcp_tw_recycle=1"), std::string::npos);
  EXPECT_NE(r.out.find("B = 128 (capped by somaxconn=128"), std::string::npos);
}

TEST(CliGolden, ProfilesTable) {
  TempDir dir;
  auto r = synscope("profiles", dir);
  ASSERT_EQ(r.exit_status, 0);
  expect_golden("profiles.txt", r.out);
}

TEST(Cli, ListShowsEveryBuiltinAndTheDefault) {
  TempDir dir;
  auto r = synscope("sim --list", dir);
  ASSERT_EQ(r.exit_status, 0);
  for (const auto& b : sim::builtin_scenarios()) EXPECT_NE(r.out.find(std::string(b.name)), std::string::npos);
  EXPECT_NE(r.out.find("(default)"), std::string::npos);
}

TEST(Cli, OutputDirectoryGetsPcapTextAndJson) {
  TempDir dir;
  auto r = synscope("sim seed-nat-baseline -o " + dir.file("out"), dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  for (const char* f : {"server.pcap", "server.txt", "result.json"})
    EXPECT_TRUE(std::filesystem::exists(dir.file(std::string("out/") + f))) << f;
}

TEST(Cli, JsonIsParseableAndCarriesVariants) {
  TempDir dir;
  auto r = synscope("sim accept-queue-overflow --json", dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_NE(r.out.find("\"variants\""), std::string::npos);
  EXPECT_NE(r.out.find("\"variant\": \"el7 + tcp_abort_on_overflow=1\""), std::string::npos);
}

struct BadInput {
  const char* name;
  std::string args;
  const char* message;
};

// Bad scenario files, unknown profiles or sysctls: one clear line on stderr, exit status 2.
TEST(CliErrors, OneLineAndExitStatus2) {
  TempDir dir;
  std::ofstream(dir.file("bad-syntax.toml")) << "[scenario]\nname = \"x\"\nstart = \n";
  std::ofstream(dir.file("bad-key.toml")) << "[scenario]\nname = \"x\"\n\n[[host]]\nname = \"a\"\naddr = \"10.0.0.1\"\nadrr = \"x\"\n";
  std::ofstream(dir.file("bad-addr.toml")) << "[scenario]\nname = \"x\"\n\n[[host]]\nname = \"a\"\naddr = \"10.0.0.300\"\n";
  std::ofstream(dir.file("recycle-on-modern.toml"))
      << "[scenario]\nname = \"x\"\nkernel = \"6.13\"\n\n[[host]]\nname = \"a\"\naddr = \"10.0.0.1\"\nsysctl = { tcp_tw_recycle = 1 }\n";
  const BadInput cases[] = {
      {"unknown scenario", "sim no-such-scenario", "no built-in scenario or file named 'no-such-scenario'"},
      {"syntax error", "sim " + dir.file("bad-syntax.toml"), "bad-syntax.toml:3:"},
      {"unknown key", "sim " + dir.file("bad-key.toml"), "bad-key.toml:7: host[0].adrr"},
      {"bad address", "sim " + dir.file("bad-addr.toml"), "bad-addr.toml:6: host[0].addr"},
      {"tw_recycle on 6.13", "sim " + dir.file("recycle-on-modern.toml"), "removed in 4.12"},
      {"unknown profile", "explain --kernel 2.6", "unknown kernel profile '2.6'"},
      {"unknown profile in sim", "sim --kernel 9.9", "unknown kernel profile '9.9'"},
      {"unknown sysctl", "explain --kernel el7 --sysctl tcp_fast_magic=1", "unknown sysctl 'tcp_fast_magic'"},
      {"sysctl gone", "explain --kernel 6.13 --sysctl tcp_tw_recycle=1", "removed in 4.12"},
      {"sysctl value", "explain --kernel el7 --sysctl tcp_syncookies=x", "not an integer"},
      {"syncookies=2 on 3.10", "explain --kernel 3.10 --sysctl tcp_syncookies=2", "out of range"},
      {"sysctl in sim", "sim --sysctl tcp_nope=1", "unknown sysctl"},
      {"bad option", "sim --frobnicate", "frobnicate"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    testing::expect_one_line_error(synscope(c.args, dir), c.message);
  }
}

}  // namespace
}  // namespace synscope
