// `synscope replay` as a library (analyze/replay.h), on real files: the seed's experiment-3 tcpdump
// printout, and pcaps the simulator writes for built-in scenarios — whose own server decisions the
// replay must reproduce SYN for SYN.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "analyze/replay.h"
#include "core/error.h"
#include "sim/sim_report.h"
#include "sim/sim_test_support.h"
#include "support/process.h"

namespace synscope::analyze {
namespace {

using model::Counter;
using model::Rule;

const std::string kExp3 = SYNSCOPE_SOURCE_DIR "/../shared/spec/seed-printouts/exp3_server_close_then_nat_syn.txt";

ReplayOptions seed_options(std::vector<std::string> sysctls, std::string kernel = "el7") {
  ReplayOptions o;
  o.kernel = std::move(kernel);
  o.sysctls = std::move(sysctls);
  o.server = "10.85.3.111:19090";
  return o;
}

// Experiment 3 on CentOS 7 with tcp_tw_recycle=1: the server closed its telnet to 10.85.3.51:22 first,
// so tcp_metrics remembers the NAT box's TSval 3035582641; the NAT'd client's SYNs carry TSvals far
// behind it, 18–21 s later: per-host PAWS drops all three (§7.3).
TEST(ReplaySeed, Exp3WithTwRecycleDropsTheNatClientByPerHostPaws) {
  auto r = replay(kExp3, seed_options({"net.ipv4.tcp_tw_recycle=1"}));
  EXPECT_EQ(r.format, "tcpdump text");
  EXPECT_EQ(r.tcp_segments, 12u);
  EXPECT_EQ(r.sysctls.tcp_tw_recycle, 1);
  EXPECT_EQ(r.sysctls.tcp_timestamps, 1);  // the EL7 default; the check needs the SYNs' TS option
  EXPECT_EQ(r.listening, std::vector<std::uint16_t>{19090});
  EXPECT_EQ(r.backlog, 128);  // listen(fd, somaxconn) with EL7's somaxconn 128

  ASSERT_EQ(r.syns.size(), 3u);
  const std::uint32_t tsvals[] = {1759176699u, 1759177700u, 1759179704u};
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const auto& s = r.syns[i];
    EXPECT_EQ(s.client.str(), "10.85.3.51:34264");
    EXPECT_EQ(s.server.str(), "10.85.3.111:19090");
    EXPECT_EQ(s.isn, 668096838u);
    ASSERT_TRUE(s.tsval);
    EXPECT_EQ(*s.tsval, tsvals[i]);
    EXPECT_EQ(s.transmission, static_cast<int>(i + 1));
    EXPECT_EQ(s.capture, SynAnswer::None);
    EXPECT_EQ(s.model, SynAnswer::None);
    EXPECT_TRUE(s.model_dropped());
    EXPECT_FALSE(s.differs());
    ASSERT_TRUE(s.verdict);
    EXPECT_EQ(s.verdict->rule, Rule::PerHostPaws);
    EXPECT_EQ(s.verdict->action, model::Action::Drop);
    EXPECT_EQ(s.verdict->evidence.remembered_tsval, 3035582641u);
    EXPECT_EQ(s.verdict->evidence.syn_tsval, tsvals[i]);
    EXPECT_LT(s.verdict->evidence.now_sec - s.verdict->evidence.remembered_stamp_sec, 60);
  }
  // The memory came from the server's own active close of 10.85.3.111:49416 → 10.85.3.51:22.
  ASSERT_FALSE(r.ts_memory.empty());
  EXPECT_EQ(r.ts_memory.back().closed.local.str(), "10.85.3.111:49416");
  EXPECT_EQ(r.ts_memory.back().closed.remote.str(), "10.85.3.51:22");
  EXPECT_EQ(r.ts_memory.back().entry.ts, 3035582641u);

  EXPECT_EQ(r.counters[Counter::PAWSPassive], 3u);
  EXPECT_EQ(r.counters[Counter::ListenDrops], 3u);
  EXPECT_EQ(r.counters[Counter::ActiveOpens], 1u);
  auto sum = r.summary();
  EXPECT_EQ(sum.syns, 3u);
  EXPECT_EQ(sum.unanswered, 3u);
  EXPECT_EQ(sum.model_dropped, 3u);
  EXPECT_EQ(sum.saved, 0u);
  ASSERT_EQ(sum.dropped_by_rule.size(), 1u);
  EXPECT_EQ(sum.dropped_by_rule[0].first, "per_host_paws");

  std::string text = render_replay_text(r);
  EXPECT_NE(text.find("capture: 3 SYNs, 3 unanswered"), std::string::npos) << text;
  EXPECT_NE(text.find("model (kernel el7, tcp_tw_recycle=1): 3 would be dropped (per_host_paws: 3); 0 of the 3 "
                      "unanswered would have been answered"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("per-host PAWS (tcp_tw_recycle): SYN dropped: remembered TSval 3035582641"), std::string::npos);
  EXPECT_NE(text.find("§3.1 step 7a, §7.3"), std::string::npos);
}

// "Would turning tw_recycle off have saved these?" — yes: every SYN is answered.
TEST(ReplaySeed, Exp3WithoutTwRecycleAnswersEverySyn) {
  auto r = replay(kExp3, seed_options({"net.ipv4.tcp_tw_recycle=0"}));
  ASSERT_EQ(r.syns.size(), 3u);
  EXPECT_EQ(r.syns[0].model, SynAnswer::SynAck);
  EXPECT_EQ(r.syns[0].verdict->rule, Rule::SynAckSent);
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(r.syns[i].model, SynAnswer::SynAck);  // the retransmission finds its request: SYN-ACK again
    EXPECT_EQ(r.syns[i].verdict->rule, Rule::RetransmittedSyn);
  }
  for (const auto& s : r.syns) {
    EXPECT_FALSE(s.model_dropped());
    EXPECT_TRUE(s.differs());
  }
  auto sum = r.summary();
  EXPECT_EQ(sum.model_dropped, 0u);
  EXPECT_EQ(sum.saved, 3u);
  EXPECT_TRUE(r.ts_memory.empty());
  EXPECT_EQ(r.counters[Counter::PAWSPassive], 0u);
  std::string text = render_replay_text(r);
  EXPECT_NE(text.find("none would be dropped; 3 of the 3 unanswered would have been answered"), std::string::npos)
      << text;
}

// tcp_tw_recycle does not exist from 4.12 on: the refusal is the answer.
TEST(ReplaySeed, Kernel412RefusesTwRecycle) {
  try {
    replay(kExp3, seed_options({"net.ipv4.tcp_tw_recycle=1"}, "4.12"));
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("removed in 4.12"), std::string::npos) << e.what();
  }
  // Without it, 4.12 has no per-host PAWS at all.
  auto r = replay(kExp3, seed_options({}, "4.12"));
  EXPECT_EQ(r.summary().model_dropped, 0u);
}

// Without --server the endpoint that received the most SYNs is chosen (19090: 3 SYNs; :22 got 1).
TEST(ReplaySeed, BusiestSynDestinationIsChosen) {
  ReplayOptions o;
  o.kernel = "el7";
  o.sysctls = {"tcp_tw_recycle=1"};
  auto r = replay(kExp3, o);
  EXPECT_EQ(r.server.str(), "10.85.3.111");
  ASSERT_TRUE(r.port);
  EXPECT_EQ(*r.port, 19090);
  EXPECT_NE(r.server_choice.find("10.85.3.111:19090, which received the most SYNs (3 of 4)"), std::string::npos)
      << r.server_choice;
  EXPECT_EQ(r.summary().model_dropped, 3u);
}

// A capture that starts after the server's connection to the NAT box was set up: the connection is
// taken over as ESTABLISHED, and the server's first FIN still makes it the active closer (§7.1).
TEST(ReplaySeed, ConnectionOpenBeforeTheCaptureStillRecordsTheTimestamp) {
  testing::TempDir dir;
  auto lines = testing::split_lines(testing::read_file(kExp3));
  ASSERT_EQ(lines.size(), 12u);
  {
    std::ofstream out(dir.file("mid.txt"));
    for (std::size_t i = 3; i < lines.size(); ++i) out << lines[i] << '\n';  // no handshake of :49416
  }
  auto r = replay(dir.file("mid.txt"), seed_options({"tcp_tw_recycle=1"}));
  EXPECT_EQ(r.adopted, 1u);
  ASSERT_EQ(r.syns.size(), 3u);
  for (const auto& s : r.syns) {
    ASSERT_TRUE(s.verdict);
    EXPECT_EQ(s.verdict->rule, Rule::PerHostPaws);
    EXPECT_EQ(s.verdict->evidence.remembered_tsval, 3035582641u);
  }
}

TEST(ReplaySeed, JsonCarriesSchemaVerdictsAndEvidence) {
  auto j = render_replay_json(replay(kExp3, seed_options({"tcp_tw_recycle=1"})));
  EXPECT_EQ(j["schema"], "synscope.replay/1");
  EXPECT_EQ(j["server"]["addr"], "10.85.3.111");
  EXPECT_EQ(j["server"]["port"], 19090);
  EXPECT_EQ(j["model"]["kernel"], "el7");
  EXPECT_EQ(j["model"]["sysctls"]["tcp_tw_recycle"], 1);
  EXPECT_EQ(j["summary"]["model_dropped"], 3);
  EXPECT_EQ(j["summary"]["dropped_by_rule"]["per_host_paws"], 3);
  ASSERT_EQ(j["syns"].size(), 3u);
  const auto& s = j["syns"][0];
  EXPECT_EQ(s["client"], "10.85.3.51:34264");
  EXPECT_EQ(s["isn"], 668096838u);
  EXPECT_EQ(s["tsval"], 1759176699u);
  EXPECT_EQ(s["capture"]["answer"], "none");
  EXPECT_EQ(s["model"]["answer"], "none");
  EXPECT_EQ(s["model"]["rule"], "per_host_paws");
  EXPECT_EQ(s["model"]["section"], "§3.1 step 7a, §7.3");
  EXPECT_EQ(s["model"]["evidence"]["remembered_tsval"], 3035582641u);
  EXPECT_EQ(j["ts_memory"].back()["tsval"], 3035582641u);
}

// ---------------------------------------------------------------------------------------------
// Captures written by the simulator: the replayed model must decide every SYN as the simulated
// server did.

struct SynKey {
  std::string client;
  std::uint32_t isn, tsval;
  auto operator<=>(const SynKey&) const = default;
};

bool is_syn_rule(Rule r) {
  switch (r) {
    case Rule::NoListener: case Rule::SynQueueFullDrop: case Rule::SynQueueFullCookie: case Rule::SyncookiesAlways:
    case Rule::AcceptQueueFull: case Rule::PerHostPaws: case Rule::UnprovenPeer: case Rule::SynAckSent:
    case Rule::RetransmittedSyn: case Rule::TimeWaitSynRejected:
      return true;
    default:
      return false;
  }
}

// The simulated server's decision for every SYN it received, by (client, ISN, TSval).
std::map<SynKey, Rule> simulated_syn_rules(const sim::SimResult& sim, const std::string& host) {
  std::map<SynKey, Rule> out;
  int h = sim.host_index(host);
  for (const auto& d : sim.decisions)
    if (d.host == h && is_syn_rule(d.decision.verdict.rule))
      out[SynKey{d.decision.tuple.remote.str(), d.decision.seq, d.decision.tsval}] = d.decision.verdict.rule;
  return out;
}

std::map<SynKey, Rule> replayed_syn_rules(const ReplayResult& r) {
  std::map<SynKey, Rule> out;
  for (const auto& s : r.syns) {
    EXPECT_TRUE(s.verdict) << s.client.str() << " ISN " << s.isn;
    if (s.verdict) out[SynKey{s.client.str(), s.isn, s.tsval.value_or(0)}] = s.verdict->rule;
  }
  return out;
}

std::string write_server_pcap(const sim::SimResult& sim, const testing::TempDir& dir, const std::string& name) {
  sim::write_outputs(sim, dir.file(name));
  return dir.file(name + "/server.pcap");
}

TEST(ReplaySim, SeedServerCloseScenarioDropsTheSameSynsAsTheSimulatedServer) {
  auto sim = sim::testing::run_builtin("seed-nat-recycle-server-close");
  testing::TempDir dir;
  ReplayOptions o;
  o.kernel = "el7";
  o.sysctls = {"tcp_tw_recycle=1"};  // as the scenario's server
  o.server = "10.85.3.111:19090";
  auto r = replay(write_server_pcap(sim, dir, "seed"), o);

  auto expected = simulated_syn_rules(sim, "server");
  auto actual = replayed_syn_rules(r);
  EXPECT_EQ(actual, expected);
  std::size_t paws = 0;
  for (const auto& [k, rule] : actual) paws += rule == Rule::PerHostPaws;
  EXPECT_EQ(paws, 6u);  // the first SYN and five retransmissions, inside the 60 s window
  EXPECT_EQ(r.summary().model_dropped, 6u);
  EXPECT_EQ(r.summary().differ, 0u);  // the model answers exactly what the capture shows answered

  const auto& server = sim::testing::host(sim, "server");
  for (Counter c : {Counter::PAWSPassive, Counter::ListenDrops, Counter::PassiveOpens, Counter::ActiveOpens,
                    Counter::TWKilled, Counter::InSegs, Counter::OutSegs})
    EXPECT_EQ(r.counters[c], server.counters[c]) << model::counter_info(c).field;

  // The same capture without tcp_tw_recycle: nothing dropped, all six saved.
  o.sysctls = {"tcp_tw_recycle=0"};
  auto off = replay(dir.file("seed/server.pcap"), o);
  EXPECT_EQ(off.summary().model_dropped, 0u);
  EXPECT_EQ(off.summary().saved, 6u);
}

// The accept queue depends on when the application calls accept(), which a capture does not show.
// The scenario's application never calls it; replayed with --accept never (or first-action: this
// server never writes) and its listen(fd, 2), every variant's model agrees with the simulated server.
TEST(ReplaySim, AcceptQueueOverflowAgreesOnEveryVariantWhenTheAcceptTimingIsGiven) {
  struct Variant {
    std::string kernel;
    std::vector<std::string> sysctls;
    std::size_t syn_drops;
  };
  const Variant variants[] = {
      {"el7", {}, 7}, {"4.10", {}, 30}, {"6.18", {}, 50}, {"el7", {"tcp_abort_on_overflow=1"}, 0}};
  for (const auto& v : variants) {
    SCOPED_TRACE(v.kernel + (v.sysctls.empty() ? "" : " " + v.sysctls[0]));
    sim::SimOptions so;
    so.kernel = v.kernel;
    for (const auto& s : v.sysctls) so.sysctls.push_back("server:" + s);
    auto sim = sim::testing::run_builtin("accept-queue-overflow", so);
    testing::TempDir dir;
    std::string pcap = write_server_pcap(sim, dir, "aq");
    for (AcceptMode mode : {AcceptMode::Never, AcceptMode::FirstAction}) {
      SCOPED_TRACE(std::string(to_string(mode)));
      ReplayOptions o;
      o.kernel = v.kernel;
      o.sysctls = v.sysctls;
      o.backlog = 2;
      o.accept = mode;
      auto r = replay(pcap, o);
      EXPECT_EQ(replayed_syn_rules(r), simulated_syn_rules(sim, "server"));
      EXPECT_EQ(r.summary().model_dropped, v.syn_drops);
      EXPECT_EQ(r.summary().differ, 0u);
      const auto& server = sim::testing::host(sim, "server");
      for (Counter c : {Counter::ListenOverflows, Counter::ListenDrops, Counter::PassiveOpens, Counter::EmbryonicRsts,
                        Counter::TCPSynRetrans})
        EXPECT_EQ(r.counters[c], server.counters[c]) << model::counter_info(c).field;
    }
  }
}

// What replay cannot know: with the default accept() at once, the same capture shows no overflow.
TEST(ReplaySim, AcceptAtOnceEmptiesTheQueueSoNothingOverflows) {
  auto sim = sim::testing::run_builtin("accept-queue-overflow");
  testing::TempDir dir;
  ReplayOptions o;
  o.kernel = "el7";
  o.backlog = 2;
  auto r = replay(write_server_pcap(sim, dir, "aq"), o);
  EXPECT_EQ(r.summary().model_dropped, 0u);
  EXPECT_EQ(r.counters[Counter::ListenOverflows], 0u);
  EXPECT_GT(r.summary().saved, 0u);
}

// ---------------------------------------------------------------------------------------------
// Public captures (../shared/pcaps).

std::string shared_pcap(const std::string& name) { return SYNSCOPE_SOURCE_DIR "/../shared/pcaps/" + name; }

// Port 4445 answers SYNs with RST until the service starts, then with a SYN-ACK: the model's listener
// opens at that moment too, so every one of the 120 SYNs gets the capture's answer.
TEST(ReplayCaptures, ListenerThatOpensDuringTheCapture) {
  ReplayOptions o;
  o.kernel = "6.18";
  o.server = "10.10.10.10:4445";
  auto r = replay(shared_pcap("mk_evidence06.pcap"), o);
  ASSERT_EQ(r.listen_late.count(4445), 1u);
  EXPECT_EQ(format_clock_time(r.listen_late.at(4445)), "23:42:02.985483");
  ASSERT_EQ(r.syns.size(), 120u);
  std::size_t rst = 0, synack = 0;
  for (const auto& s : r.syns) {
    EXPECT_FALSE(s.differs()) << format_clock_time(s.at);
    ASSERT_TRUE(s.verdict);
    if (s.verdict->rule == Rule::NoListener) ++rst;
    if (s.verdict->rule == Rule::SynAckSent) ++synack;
  }
  EXPECT_EQ(rst, 119u);
  EXPECT_EQ(synack, 1u);
}

// A server on loopback talks to its clients from the same address: its port tells the directions.
TEST(ReplayCaptures, LoopbackServerIsFollowedByItsPort) {
  ReplayOptions o;
  o.kernel = "6.18";
  o.server = "127.0.0.1:7000";
  auto r = replay(shared_pcap("zeek_echo-connections.pcap"), o);
  EXPECT_EQ(r.syns.size(), 741u);
  EXPECT_EQ(r.inbound + r.outbound, r.tcp_segments);
  for (const auto& s : r.syns) EXPECT_EQ(s.server.str(), "127.0.0.1:7000");

  o.server = "127.0.0.1";  // without the port the directions are unknown: nothing is replayed, and a note says why
  auto any = replay(shared_pcap("zeek_echo-connections.pcap"), o);
  EXPECT_TRUE(any.syns.empty());
  ASSERT_FALSE(any.notes.empty());
  EXPECT_NE(any.notes.front().find("give --server ADDR:PORT"), std::string::npos);
}

// A SYN scan: the busiest ports of one address tie, so the address is replayed with all its ports.
TEST(ReplayCaptures, PortScanTieChoosesTheAddress) {
  ReplayOptions o;
  o.kernel = "el7";
  auto r = replay(shared_pcap("cs_synscan.pcapng"), o);
  EXPECT_EQ(r.server.str(), "64.13.134.52");
  EXPECT_FALSE(r.port);
  EXPECT_EQ(r.server_choice.rfind("every port of 64.13.134.52", 0), 0u) << r.server_choice;
  EXPECT_EQ(r.syns.size(), 1994u);
  std::set<std::uint16_t> ports;
  for (const auto& s : r.syns) ports.insert(s.server.port);
  EXPECT_GT(ports.size(), 900u);
  // The SYN table gains a column for the server port.
  const std::string text = render_replay_text(r);
  const auto header = text.find("    time ");
  ASSERT_NE(header, std::string::npos);
  const std::string line = text.substr(header, text.find('\n', header) - header);
  EXPECT_NE(line.find(" port "), std::string::npos) << line;
  EXPECT_LT(line.find(" port "), line.find(" ISN "));
}

// ---------------------------------------------------------------------------------------------
// Bad input: one-line UsageErrors.

std::string error_of(const std::string& path, const ReplayOptions& o) {
  try {
    replay(path, o);
  } catch (const UsageError& e) {
    std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    return what;
  }
  ADD_FAILURE() << "no error for " << path;
  return "";
}

TEST(ReplayErrors, MissingFileServerNotInCaptureAndIpv6) {
  testing::TempDir dir;
  ReplayOptions o;
  EXPECT_NE(error_of(dir.file("nope.pcap"), o).find("nope.pcap"), std::string::npos);

  o.server = "10.9.9.9:80";
  auto e = error_of(kExp3, o);
  EXPECT_NE(e.find("server 10.9.9.9:80 is not in"), std::string::npos) << e;
  EXPECT_NE(e.find("10.85.3.111:19090 (3 SYNs)"), std::string::npos) << e;

  o.server = "2001:db8::1";
  EXPECT_NE(error_of(kExp3, o).find("replay models IPv4 only"), std::string::npos);
  o.server = "[2001:db8::1]:443";
  EXPECT_NE(error_of(kExp3, o).find("replay models IPv4 only"), std::string::npos);
  o.server = "10.85.3.111:99999";
  EXPECT_NE(error_of(kExp3, o).find("port"), std::string::npos);

  // An IPv6 capture: its busiest SYN destination cannot be modelled.
  std::ofstream(dir.file("v6.txt"))
      << "10:00:00.000000 IP6 2001:db8::2.34264 > 2001:db8::1.80: Flags [S], seq 1000, win 64800, options [mss "
         "1440,sackOK,TS val 5000 ecr 0,nop,wscale 7], length 0\n";
  o.server.clear();
  e = error_of(dir.file("v6.txt"), o);
  EXPECT_NE(e.find("[2001:db8::1]:80 is IPv6"), std::string::npos) << e;

  // No SYN at all.
  auto lines = testing::split_lines(testing::read_file(kExp3));
  std::ofstream(dir.file("nosyn.txt")) << lines[1] << '\n' << lines[2] << '\n';
  EXPECT_NE(error_of(dir.file("nosyn.txt"), o).find("has no SYN"), std::string::npos);
}

}  // namespace
}  // namespace synscope::analyze
