// Scenario-level behaviour of the simulator, each test naming the fact-sheet section it relies on.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/seq.h"
#include "sim/sim_report.h"
#include "sim/sweep.h"
#include "sim_test_support.h"
#include "support/process.h"

namespace synscope::sim {
namespace {

using model::Counter;
using model::Rule;
using testing::builtin;
using testing::count_rule;
using testing::host;
using testing::run_builtin;

// §7.1–§7.3 and seed experiment 3: the server's active close records 10.85.3.51's last TSval; the
// NAT'd client's SYN and each retransmission are dropped until 60 s after that TSval was received.
TEST(SeedServerClose, PerHostPawsDropsEverySynUntilTheWindowEnds_S7_3) {
  auto r = run_builtin("seed-nat-recycle-server-close");
  const auto& server = host(r, "server");
  EXPECT_EQ(server.counters[Counter::PAWSPassive], 6u);
  EXPECT_EQ(server.counters[Counter::ListenDrops], 6u);

  ASSERT_EQ(r.ts_memory.size(), 2u);  // FIN_WAIT2 substate, then TIME_WAIT (§7.1)
  EXPECT_EQ(r.ts_memory.back().entry.ts, 3035582641u);  // the seed's remembered TSval
  EXPECT_EQ(format_clock_time(WallTime{r.ts_memory.back().entry.stamp_sec * 1000000000}), "22:45:15.000000");

  std::vector<const HostDecision*> syns;
  for (const auto& d : r.decisions)
    if (d.host == r.host_index("server") && d.decision.tuple.local.port == 19090 &&
        (d.decision.verdict.rule == Rule::PerHostPaws || d.decision.verdict.rule == Rule::SynAckSent))
      syns.push_back(&d);
  ASSERT_EQ(syns.size(), 7u);
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& e = syns[i]->decision.verdict.evidence;
    EXPECT_EQ(syns[i]->decision.verdict.rule, Rule::PerHostPaws) << i;
    EXPECT_LT(e.now_sec - e.remembered_stamp_sec, 60) << i;
    EXPECT_GT(s32_diff(e.remembered_tsval, syns[i]->decision.tsval), 1) << i;
    EXPECT_EQ(syns[i]->decision.seq, syns[0]->decision.seq) << "retransmissions keep the ISN (§9)";
  }
  // §9: exponential schedule, gaps 1, 2, 4, 8, 16, 32 s.
  const double gaps[] = {1, 2, 4, 8, 16, 32};
  for (std::size_t i = 1; i < 7; ++i)
    EXPECT_DOUBLE_EQ(to_seconds(syns[i]->decision.at - syns[i - 1]->decision.at), gaps[i - 1]);
  EXPECT_EQ(syns[6]->decision.verdict.rule, Rule::SynAckSent);  // after the window
  EXPECT_GE(format_clock_time(r.wall(syns[6]->decision.at)), std::string("22:46:15"));

  ASSERT_EQ(r.attempts.size(), 2u);
  const auto& client = r.attempts[1];
  EXPECT_EQ(client.client, "client1");
  EXPECT_EQ(client.outcome, AttemptOutcome::Established);
  EXPECT_EQ(client.syns_sent, 7);
  EXPECT_EQ(client.syns_dropped, 6);
  ASSERT_TRUE(client.seen_as);
  EXPECT_EQ(client.seen_as->str(), "10.85.3.51:34264");  // SNAT kept the port
}

// Seed experiments 1 and 2 (§3.3 step 7a, §7.1): no drop without tw_recycle or without a server close.
TEST(SeedBaseline, TwoClocksBehindOneAddressBothConnect_S3_3) {
  for (const char* name : {"seed-nat-baseline", "seed-nat-recycle"}) {
    SCOPED_TRACE(name);
    auto r = run_builtin(name);
    EXPECT_EQ(host(r, "server").counters[Counter::ListenDrops], 0u);
    EXPECT_TRUE(r.ts_memory.empty());
    ASSERT_EQ(r.attempts.size(), 2u);
    for (const auto& a : r.attempts) EXPECT_EQ(a.outcome, AttemptOutcome::Established);
    // Both reach the server from 10.85.3.51 with TSvals far apart: two TS clocks behind one IP.
    std::vector<std::uint32_t> tsvals;
    for (const auto& d : r.decisions)
      if (d.decision.verdict.rule == Rule::SynAckSent && d.decision.tuple.local.port == 19090) {
        EXPECT_EQ(d.decision.tuple.remote.addr.str(), "10.85.3.51");
        tsvals.push_back(d.decision.tsval);
      }
    ASSERT_EQ(tsvals.size(), 2u);
    EXPECT_LT(s32_diff(tsvals[1], tsvals[0]), -1000000);
  }
}

// §7.7: on 6.13 tcp_tw_recycle does not exist: the same events drop nothing, and asking for it is an error.
TEST(ModernKernel, NoDropAndTwRecycleIsRefused_S7_7) {
  auto r = run_builtin("modern-kernel");
  EXPECT_EQ(host(r, "server").counters[Counter::ListenDrops], 0u);
  EXPECT_EQ(r.attempts.back().syns_sent, 1);
  EXPECT_NE(render_explanation(r).find("tcp_tw_recycle does not exist"), std::string::npos);
  SimOptions opt;
  opt.sysctls = {"server:tcp_tw_recycle=1"};
  try {
    simulate(builtin("modern-kernel"), opt);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("removed in 4.12"), std::string::npos) << e.what();
  }
}

// "Would a newer kernel have saved these?": --kernel drops the sysctls that kernel lacks, says so,
// and the same events then drop nothing (§7.7).
TEST(WhatIf, KernelOverrideDropsMissingSysctlsAndSaysSo_S7_7) {
  SimOptions opt;
  opt.kernel = "6.13";
  auto r = run_builtin("seed-nat-recycle-server-close", opt);
  ASSERT_EQ(r.adjustments.size(), 1u);
  EXPECT_NE(r.adjustments[0].find("tcp_tw_recycle=1 is ignored: removed in 4.12"), std::string::npos) << r.adjustments[0];
  EXPECT_EQ(host(r, "server").counters[Counter::ListenDrops], 0u);
  EXPECT_EQ(r.attempts.back().syns_sent, 1);
  EXPECT_NE(render_explanation(r).find("is ignored: removed in 4.12"), std::string::npos);
  // An explicit --sysctl the kernel lacks is still an error.
  opt.sysctls = {"server:tcp_tw_recycle=1"};
  EXPECT_THROW(run_builtin("seed-nat-recycle-server-close", opt), UsageError);
}

// The seed's nginx note: behind an L7 proxy every upstream SYN carries the proxy's own clock.
TEST(NginxProxy, ServerClosesFirstButNothingIsDropped_S7_3) {
  auto r = run_builtin("seed-nginx-proxy");
  EXPECT_FALSE(r.ts_memory.empty()) << "the server did close first";
  EXPECT_EQ(host(r, "server").counters[Counter::PAWSPassive], 0u);
  EXPECT_EQ(host(r, "server").counters[Counter::ListenDrops], 0u);
  int established = 0;
  for (const auto& a : r.attempts) established += a.outcome == AttemptOutcome::Established;
  EXPECT_EQ(established, static_cast<int>(r.attempts.size()));
  EXPECT_GE(r.attempts.size(), 20u);
}

// §3.3 step 3 vs §3.5 vs §5.2: the same stalled server on EL7, 4.10 and with tcp_abort_on_overflow=1.
TEST(AcceptQueueOverflow, YoungRuleVsAboveBacklogVsAbort_S3_3_S3_5_S5_2) {
  auto el7 = run_builtin("accept-queue-overflow");
  EXPECT_GT(count_rule(el7, Rule::FinalAckQueueFull), 0) << "EL7 answers some SYNs and drops their final ACK";
  EXPECT_GT(count_rule(el7, Rule::AcceptQueueFull), 0);
  EXPECT_EQ(host(el7, "server").listeners.at(0).a, 3) << "accept queue holds B+1 (§6.1)";

  SimOptions v410;
  v410.kernel = "4.10";
  auto k410 = run_builtin("accept-queue-overflow", v410);
  EXPECT_EQ(count_rule(k410, Rule::FinalAckQueueFull), 0) << "4.10 drops the SYN itself";
  EXPECT_GT(count_rule(k410, Rule::AcceptQueueFull), 0);
  const auto& s = host(k410, "server").counters;
  EXPECT_EQ(s[Counter::ListenOverflows], s[Counter::ListenDrops]);

  SimOptions abort;
  abort.sysctls = {"server:tcp_abort_on_overflow=1"};
  auto ab = run_builtin("accept-queue-overflow", abort);
  int resets = 0;
  for (const auto& a : ab.attempts) resets += a.outcome == AttemptOutcome::Reset;
  EXPECT_GT(resets, 0);
  EXPECT_EQ(host(ab, "server").counters[Counter::EmbryonicRsts], static_cast<std::uint64_t>(resets));
}

// §17 on 6.18: with syncookies=0 TCPReqQFullDrop = ListenDrops; with 1, TCPReqQFullDoCookies =
// SyncookiesSent and the legitimate client connects through a cookie; flood requests expire ≈7 s.
TEST(SynFlood, CookiesOffDropCookiesOnConnect_S17) {
  auto off = run_builtin("syn-flood");
  const auto& c0 = host(off, "server").counters;
  EXPECT_GT(c0[Counter::TCPReqQFullDrop], 1000u);
  EXPECT_EQ(c0[Counter::TCPReqQFullDrop], c0[Counter::ListenDrops]);
  EXPECT_GT(off.attempts.at(0).syns_dropped, 0);

  SimOptions on;
  on.sysctls = {"server:tcp_syncookies=1"};
  auto r1 = run_builtin("syn-flood", on);
  const auto& c1 = host(r1, "server").counters;
  EXPECT_GT(c1[Counter::SyncookiesSent], 1000u);
  EXPECT_EQ(c1[Counter::TCPReqQFullDoCookies], c1[Counter::SyncookiesSent]);
  EXPECT_EQ(c1[Counter::SyncookiesRecv], 1u);
  EXPECT_EQ(r1.attempts.at(0).outcome, AttemptOutcome::Established);
  EXPECT_EQ(r1.attempts.at(0).syns_sent, 1);

  // Flood requests that entered the queue expire after 2–3 SYN-ACK retransmissions under queue
  // pressure instead of tcp_synack_retries=5 (§5.3, §17).
  int expired = 0;
  for (const auto& d : off.decisions)
    if (d.decision.verdict.rule == Rule::SynAckTimeoutExpired) {
      ++expired;
      EXPECT_GE(d.decision.verdict.evidence.retries, 2);
      EXPECT_LE(d.decision.verdict.evidence.retries, 3);
    }
  EXPECT_GT(expired, 0);
}

// Seed 003: about half of the NAT'd clients fail after a server-side close.
TEST(NatSweep, AboutHalfOfNattedClientsAreDropped_S7_3) {
  auto sc = builtin("nat-sweep");
  auto r = run_sweep(sc, {});
  EXPECT_EQ(r.trials, 400);
  EXPECT_EQ(r.attempts, 400);
  EXPECT_LE(r.ci_low, 0.5);
  EXPECT_GE(r.ci_high, 0.5);
  EXPECT_GT(r.fraction, 0.35);
  EXPECT_LT(r.fraction, 0.65);
  EXPECT_EQ(r.never_connected, 0) << "everyone gets in once the 60 s window has passed";
  auto [lo, hi] = wilson95(50, 100);
  EXPECT_NEAR(lo, 0.4038, 1e-3);
  EXPECT_NEAR(hi, 0.5962, 1e-3);
}

// Same scenario + seed ⇒ byte-identical outputs (pcap, text, JSON), for every built-in scenario.
TEST(Determinism, TwoRunsWriteIdenticalBytes) {
  for (const auto& b : builtin_scenarios()) {
    SCOPED_TRACE(std::string(b.name));
    auto sc = load_scenario_text(b.toml, "builtin");
    if (sc.sweep) continue;
    synscope::testing::TempDir d1, d2;
    auto files1 = write_outputs(simulate(sc), d1.file("out"));
    auto files2 = write_outputs(simulate(sc), d2.file("out"));
    ASSERT_EQ(files1.size(), files2.size());
    for (std::size_t i = 0; i < files1.size(); ++i) {
      auto a = synscope::testing::read_file(files1[i]);
      EXPECT_FALSE(a.empty()) << files1[i];
      EXPECT_EQ(a, synscope::testing::read_file(files2[i])) << files1[i];
    }
    EXPECT_EQ(render_text(simulate(sc)), render_text(simulate(sc)));
  }
}

// A different seed changes the random parts (ISNs, unpinned clocks) but not the verdicts.
TEST(Determinism, SeedChangesIsnsNotVerdicts) {
  SimOptions other;
  other.seed = 99;
  auto a = run_builtin("seed-nat-recycle-server-close");
  auto b = run_builtin("seed-nat-recycle-server-close", other);
  ASSERT_EQ(a.decisions.size(), b.decisions.size());
  EXPECT_NE(a.decisions[0].decision.seq, b.decisions[0].decision.seq);
  for (std::size_t i = 0; i < a.decisions.size(); ++i)
    EXPECT_EQ(a.decisions[i].decision.verdict.rule, b.decisions[i].decision.verdict.rule);
}

// Every segment a host sends is routed; SYN-ACKs to spoofed flood sources go nowhere.
TEST(Simulator, SegmentsToUnknownAddressesAreBlackholed) {
  auto r = run_builtin("syn-flood");
  EXPECT_GT(r.segments_blackholed, 0u);
  EXPECT_EQ(r.segments_sent, r.segments_delivered + r.segments_blackholed);
}

TEST(Simulator, UnknownKernelOverrideIsAUsageError) {
  SimOptions opt;
  opt.kernel = "2.6";
  EXPECT_THROW(run_builtin("seed-nat-baseline", opt), UsageError);
  SimOptions bad;
  bad.sysctls = {"tcp_no_such_thing=1"};
  EXPECT_THROW(run_builtin("seed-nat-baseline", bad), UsageError);
}

TEST(SimJson, CarriesVerdictsCountersAttemptsAndExplanation) {
  auto j = render_json(run_builtin("seed-nat-recycle-server-close"));
  EXPECT_EQ(j["schema"], "synscope.sim/1");
  EXPECT_EQ(j["hosts"][0]["name"], "server");
  EXPECT_EQ(j["hosts"][0]["counters"]["TcpExtPAWSPassive"], 6);
  EXPECT_EQ(j["hosts"][0]["tcp_metrics"][0]["tsval"], 3035582641u);
  int paws = 0;
  for (const auto& d : j["decisions"]) paws += d["rule"] == "per_host_paws";
  EXPECT_EQ(paws, 6);
  EXPECT_EQ(j["attempts"][1]["drop_rule"], "per_host_paws");
  EXPECT_NE(j["explanation"].get<std::string>().find("3035582641"), std::string::npos);
}

}  // namespace
}  // namespace synscope::sim
