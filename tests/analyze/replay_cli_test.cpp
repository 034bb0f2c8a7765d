// `synscope replay` as a user runs it: the real binary on the seed's printout and on a pcap the
// simulator wrote; bad input gives one line on stderr and exit status 2.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace synscope {
namespace {

using testing::CommandResult;
using testing::run_command;
using testing::split_lines;
using testing::TempDir;

const std::string kExp3 = SYNSCOPE_SOURCE_DIR "/../shared/spec/seed-printouts/exp3_server_close_then_nat_syn.txt";

CommandResult synscope(const std::string& args, const TempDir& dir) {
  return run_command(testing::synscope_binary() + " " + args, dir);
}

TEST(ReplayCli, SeedExp3OnEl7WithAndWithoutTwRecycle) {
  TempDir dir;
  auto on = synscope("replay '" + kExp3 + "' --kernel el7 --sysctl net.ipv4.tcp_tw_recycle=1 --server 10.85.3.111:19090", dir);
  ASSERT_EQ(on.exit_status, 0) << on.err;
  EXPECT_TRUE(on.err.empty()) << on.err;
  EXPECT_NE(on.out.find("capture: 3 SYNs, 3 unanswered\n"), std::string::npos) << on.out;
  EXPECT_NE(on.out.find("model (kernel el7, tcp_tw_recycle=1): 3 would be dropped (per_host_paws: 3); 0 of the 3 "
                        "unanswered would have been answered\n"),
            std::string::npos)
      << on.out;
  // Each NAT'd SYN: dropped by per-host PAWS, with the remembered TSval as evidence.
  for (const char* tsval : {"1759176699", "1759177700", "1759179704"}) {
    auto row = on.out.find(std::string("10.85.3.51:34264  668096838   ") + tsval);
    ASSERT_NE(row, std::string::npos) << tsval << "\n" << on.out;
    auto line_end = on.out.find('\n', row);
    EXPECT_NE(on.out.substr(row, line_end - row).find("silent drop  per_host_paws (§3.1 step 7a, §7.3)"), std::string::npos);
    EXPECT_EQ(on.out.substr(line_end + 1, 80).find("      per-host PAWS (tcp_tw_recycle): SYN dropped: remembered TSval 3035582641"), 0u)
        << on.out.substr(line_end + 1, 120);
  }

  auto off = synscope("replay '" + kExp3 + "' --kernel el7 --sysctl net.ipv4.tcp_tw_recycle=0 --server 10.85.3.111:19090", dir);
  ASSERT_EQ(off.exit_status, 0) << off.err;
  EXPECT_NE(off.out.find("model (kernel el7, tcp_tw_recycle=0): none would be dropped; 3 of the 3 unanswered would have "
                         "been answered\n"),
            std::string::npos)
      << off.out;
  EXPECT_NE(off.out.find("  * 22:45:33.942378  10.85.3.51:34264"), std::string::npos) << off.out;
  EXPECT_EQ(off.out.find("per_host_paws"), std::string::npos);
}

TEST(ReplayCli, TwRecycleOn412IsTheRemovedIn412Error) {
  TempDir dir;
  auto r = synscope("replay '" + kExp3 + "' --kernel 4.12 --sysctl net.ipv4.tcp_tw_recycle=1 --server 10.85.3.111:19090", dir);
  EXPECT_EQ(r.exit_status, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto lines = split_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0],
            "synscope: sysctl tcp_tw_recycle: removed in 4.12 (commit 4396e46187ca), so kernel profile 4.12 does not have it");
}

TEST(ReplayCli, StandardInputAndChosenServer) {
  TempDir dir;
  auto r = synscope("replay - --kernel el7 --sysctl tcp_tw_recycle=1 < '" + kExp3 + "'", dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("synscope replay: standard input (tcpdump text, 12 TCP segments), server 10.85.3.111:19090\n", 0), 0u)
      << r.out;
  EXPECT_EQ(r.err,
            "synscope replay: no --server given: replaying 10.85.3.111:19090, which received the most SYNs (3 of 4)\n");
  EXPECT_NE(r.out.find("3 would be dropped (per_host_paws: 3)"), std::string::npos);
}

// A pcap written by `synscope sim -o`, replayed through the CLI as JSON: the six SYNs the simulated EL7
// server dropped by per-host PAWS are the six the model drops; the seventh is answered in both.
TEST(ReplayCli, SimulatorPcapAsJson) {
  TempDir dir;
  auto sim = synscope("sim seed-nat-recycle-server-close --no-variants -o '" + dir.file("out") + "'", dir);
  ASSERT_EQ(sim.exit_status, 0) << sim.err;
  auto r = synscope("replay '" + dir.file("out/server.pcap") +
                        "' --kernel el7 --sysctl tcp_tw_recycle=1 --server 10.85.3.111:19090 --json",
                    dir);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "synscope.replay/1");
  EXPECT_EQ(j["input"]["format"], "pcap");
  EXPECT_EQ(j["summary"]["syns"], 7);
  EXPECT_EQ(j["summary"]["unanswered"], 6);
  EXPECT_EQ(j["summary"]["model_dropped"], 6);
  EXPECT_EQ(j["summary"]["differ"], 0);
  ASSERT_EQ(j["syns"].size(), 7u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(j["syns"][i]["model"]["rule"], "per_host_paws");
    EXPECT_EQ(j["syns"][i]["transmission"], i + 1);
  }
  EXPECT_EQ(j["syns"][6]["capture"]["answer"], "syn-ack");
  EXPECT_EQ(j["syns"][6]["model"]["answer"], "syn-ack");
  EXPECT_EQ(j["counters"]["TcpExtPAWSPassive"], 6);
}

struct BadInput {
  const char* name;
  std::string args;
  const char* message;
};

TEST(ReplayCli, BadInputIsOneLineAndExitStatus2) {
  TempDir dir;
  std::ofstream(dir.file("v6.txt"))
      << "10:00:00.000000 IP6 2001:db8::2.34264 > 2001:db8::1.80: Flags [S], seq 1000, win 64800, options [mss "
         "1440,sackOK,TS val 5000 ecr 0,nop,wscale 7], length 0\n";
  std::ofstream(dir.file("junk.txt")) << "this is not a capture\n";
  const std::string exp3 = "'" + kExp3 + "'";
  const BadInput cases[] = {
      {"missing file", "replay '" + dir.file("missing.pcap") + "'", "missing.pcap"},
      {"server not in capture", "replay " + exp3 + " --server 10.9.9.9:80", "server 10.9.9.9:80 is not in"},
      {"port not in capture", "replay " + exp3 + " --server 10.85.3.111:80", "server 10.85.3.111:80 is not in"},
      {"IPv6 server", "replay " + exp3 + " --server 2001:db8::1", "replay models IPv4 only"},
      {"IPv6 capture", "replay '" + dir.file("v6.txt") + "'", "[2001:db8::1]:80 is IPv6"},
      {"not a capture", "replay '" + dir.file("junk.txt") + "'", "junk.txt"},
      {"bad --server", "replay " + exp3 + " --server nowhere", "--server 'nowhere'"},
      {"bad --accept", "replay " + exp3 + " --accept later", "--accept later"},
      {"unknown kernel", "replay " + exp3 + " --kernel 9.9", "unknown kernel profile '9.9'"},
      {"unknown sysctl", "replay " + exp3 + " --sysctl tcp_fast_magic=1", "unknown sysctl 'tcp_fast_magic'"},
      {"no file", "replay", "file is required"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    testing::expect_one_line_error(synscope(c.args, dir), c.message);
  }
}

}  // namespace
}  // namespace synscope
