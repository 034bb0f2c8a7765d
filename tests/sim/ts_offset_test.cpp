// §7.7 and §17: what the server sees of its clients' TS clocks, per kernel profile.
#include <gtest/gtest.h>

#include <set>

#include "sim_test_support.h"

namespace synscope::sim {
namespace {

std::string nat_scenario(const std::string& kernel) {
  std::string s = R"([scenario]
name = "ts-offsets"
kernel = ")" + kernel + R"("
duration = "20s"

[[host]]
name = "server"
addr = "10.0.0.1"

[[host]]
name = "nat"
addr = "10.0.0.2"

[[nat]]
host = "nat"
[[nat.dnat]]
dport = 80
to = "10.0.0.1:80"
[[nat.snat]]
daddr = "10.0.0.1"
dport = 80
to = "10.0.0.2"

[[server]]
host = "server"
port = 80
)";
  for (int c = 0; c < 4; ++c) {
    s += "\n[[host]]\nname = \"c" + std::to_string(c) + "\"\naddr = \"10.0.1." + std::to_string(c + 1) + "\"\n";
    s += "\n[[client]]\nhost = \"c" + std::to_string(c) + "\"\nconnect = \"10.0.0.2:80\"\nrate = 1.0\ncount = 5\nclose_after = \"0.5s\"\n";
  }
  return s;
}

TEST(TsOffsets, PerFourTupleOn6_18GivesEveryConnectionItsOwnClock_S17) {
  auto r = simulate(load_scenario_text(nat_scenario("6.18"), "ts-offsets"));
  ASSERT_EQ(r.attempts.size(), 20u);
  // TSval − elapsed ms is constant for one TS sequence: count the distinct sequences.
  std::set<std::uint32_t> sequences;
  for (const auto& d : r.decisions)
    if (d.decision.verdict.rule == model::Rule::SynAckSent)
      sequences.insert(d.decision.tsval - static_cast<std::uint32_t>(d.decision.at.count() / 1000000));
  EXPECT_EQ(sequences.size(), 20u) << "§17: 4 clients × 5 connections showed 20 unrelated TSval sequences";
}

TEST(TsOffsets, PerHostPairOn6_13GivesOneClockPerClient_S7_7) {
  auto r = simulate(load_scenario_text(nat_scenario("6.13"), "ts-offsets"));
  std::set<std::uint32_t> sequences;
  for (const auto& d : r.decisions)
    if (d.decision.verdict.rule == model::Rule::SynAckSent)
      sequences.insert(d.decision.tsval - static_cast<std::uint32_t>(d.decision.at.count() / 1000000));
  // Up to ±1 tick of rounding per sequence: group values that differ by at most 1.
  std::size_t groups = 0;
  std::int64_t last = -10;
  for (auto v : sequences) {
    if (static_cast<std::int64_t>(v) - last > 1) ++groups;
    last = v;
  }
  EXPECT_EQ(groups, 4u) << "one TS clock per client behind the NAT";
}

}  // namespace
}  // namespace synscope::sim
