// The seed's own printouts (../shared/spec/seed-printouts, tcpdump text taken on the server):
// experiment 3 is per-host PAWS with the remembered TSval 3035582641, the server's active close named
// as the trigger; experiment 1 shows two TS clocks behind the NAT address 10.85.3.51.
#include <gtest/gtest.h>

#include "analyze/analysis.h"
#include "analyze/analysis_report.h"
#include "support/golden.h"

namespace synscope::analyze {
namespace {

using synscope::testing::source_path;

AnalysisResult seed(const std::string& name) { return analyze_file(source_path("../shared/spec/seed-printouts/" + name)); }

TEST(AnalyzeSeedTraces, ServerCloseThenNatSynIsPerHostPawsWithTheRememberedTsval) {
  const AnalysisResult r = seed("exp3_server_close_then_nat_syn.txt");
  EXPECT_EQ(r.format, "tcpdump text");
  ASSERT_EQ(r.tracker.attempts, 2u);  // the server's own telnet to :22, then the NAT'd client
  EXPECT_EQ(r.failed, 1u);
  ASSERT_EQ(r.kept.size(), 1u);
  const Attempt& a = r.kept.front();
  EXPECT_EQ(a.client.addr.str(), "10.85.3.51");
  EXPECT_EQ(a.client.port, 34264);
  EXPECT_EQ(a.server.port, 19090);
  EXPECT_EQ(a.isn, 668096838u);
  EXPECT_EQ(a.outcome, Outcome::Unanswered);
  EXPECT_EQ(a.syn_count, 3u);
  EXPECT_EQ(a.schedule, Schedule::LinuxExponential);  // gaps 1 s then 2 s
  ASSERT_FALSE(a.causes.empty());
  const Cause& c = a.causes.front();
  EXPECT_EQ(c.kind, CauseKind::PerHostPaws);
  EXPECT_GE(c.confidence, 0.9);
  ASSERT_TRUE(a.server_memory);
  EXPECT_EQ(a.server_memory->peer_tsval, 3035582641u);
  EXPECT_EQ(a.server_memory->server_side.addr.str(), "10.85.3.111");  // the server closed first …
    EXPECT_EQ(a.server_memory->peer_side.addr.str(), "10.85.3.51");  // … its connection to the NAT box's sshd
  EXPECT_EQ(a.server_memory->peer_side.port, 22);
  const std::string all = c.evidence[0] + "\n" + c.evidence[1];
  EXPECT_NE(all.find("3035582641"), std::string::npos);
  EXPECT_NE(all.find("1759176699"), std::string::npos);
  EXPECT_NE(all.find("active closer"), std::string::npos);
}

TEST(AnalyzeSeedTraces, BaselineShowsTwoTsClocksBehindTheNatAddress) {
  const AnalysisResult r = seed("exp1_tw_recycle_off.txt");
  EXPECT_EQ(r.tracker.attempts, 2u);
  EXPECT_EQ(r.failed, 0u);
  ASSERT_EQ(r.clocks.size(), 1u);
  EXPECT_EQ(r.clocks[0].addr.str(), "10.85.3.51");
  EXPECT_EQ(r.clocks[0].clock_count, 2u);
  EXPECT_EQ(r.clocks[0].clocks[0].first_tsval, 3075335984u);
  EXPECT_EQ(r.clocks[0].clocks[1].first_tsval, 1740811766u);
  EXPECT_NE(render_analysis_text(r).find("10.85.3.51: 2 TS clocks"), std::string::npos);
}

TEST(AnalyzeSeedTraces, RecycleOnWithoutServerCloseIsHealthy) {
  const AnalysisResult r = seed("exp2_tw_recycle_on.txt");
  EXPECT_EQ(r.tracker.attempts, 2u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.delayed, 0u);
}

TEST(AnalyzeSeedTraces, TextReportMatchesGolden) {
  AnalysisTextOptions verbose;
  verbose.verbose = true;
  for (const char* name : {"exp3_server_close_then_nat_syn", "exp1_tw_recycle_off"}) {
    AnalysisResult r = seed(std::string(name) + ".txt");
    r.input = std::string(name) + ".txt";  // the golden file must not depend on where the tree is
    synscope::testing::expect_golden(std::string("analyze/") + name + ".txt", render_analysis_text(r, verbose));
  }
}

}  // namespace
}  // namespace synscope::analyze
