// Resource limits a hostile capture cannot exhaust (issue 8): a SYN flood from many distinct spoofed
// sources keeps at most TrackerOptions::max_flows flows open — past it the flow nearest its expiry is
// finished early and counted — and `synscope analyze` says so in a capture note (text and JSON).
// Also the first never-re-sent SYN-ACK on a port, whose "time since the last one" subtracted from
// an INT64_MIN sentinel (undefined behaviour found by fuzz/analyze_input_fuzzer.cpp; this test is
// the regression check under the sanitizer build).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analyze/attempt_tracker.h"
#include "capture/pcap_writer.h"
#include "support/process.h"

namespace synscope::analyze {
namespace {

using capture::CaptureItem;
using capture::IpAddress;

constexpr std::int64_t kStart = 1'700'000'000'000'000'000;

CaptureItem segment(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport, std::uint8_t flags,
                    std::uint32_t seq, std::uint32_t ack, std::int64_t at_ns, std::optional<std::uint32_t> tsval) {
  CaptureItem it;
  it.kind = CaptureItem::Kind::Tcp;
  it.tcp.src = {*IpAddress::parse(src), sport};
  it.tcp.dst = {*IpAddress::parse(dst), dport};
  it.tcp.flags = flags;
  it.tcp.seq = seq;
  it.tcp.ack = ack;
  it.tcp.ts = WallTime{at_ns};
  if (tsval) it.tcp.options.timestamp(*tsval, 0);
  return it;
}

std::string spoofed(std::uint32_t i) { return fmt::format("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff); }

TEST(AttemptTrackerLimits, SpoofedFloodKeepsAtMostMaxFlowsOpen) {
  TrackerOptions opt;
  opt.max_flows = 1000;
  std::uint64_t finished = 0, unanswered = 0, capture_ended = 0;
  AttemptTracker t(opt, [&](Attempt& a) {
    ++finished;
    unanswered += a.outcome == Outcome::Unanswered;
    capture_ended += a.outcome == Outcome::CaptureEnded;
  });
  constexpr std::uint32_t kSources = 50'000;
  std::size_t peak = 0;
  for (std::uint32_t i = 0; i < kSources; ++i) {
    // 10,000 SYNs a second: all 50,000 fall inside the 70 s an unanswered handshake is kept.
    const auto syn = segment(spoofed(i).c_str(), 1024 + (i % 60000), "192.0.2.1", 80, tcp_flag::SYN, i * 7919u, 0,
                             kStart + std::int64_t{i} * 100'000, i);
    t.add(syn, AttemptTracker::flow_key(syn));
    peak = std::max(peak, t.open_flows());
  }
  EXPECT_LE(peak, opt.max_flows);
  EXPECT_EQ(t.stats().evicted_flows, kSources - opt.max_flows);
  EXPECT_GT(t.stats().state_limited, 0u);  // TS clocks and finished-attempt keys stopped at the same size
  EXPECT_EQ(t.stats().max_flows, opt.max_flows);
  t.finish();
  // Every attempt still counted and finished once: eviction loses state, never attempts.
  EXPECT_EQ(t.stats().attempts, kSources);
  EXPECT_EQ(finished, kSources);
  // The evicted ones were judged on what was seen (an unanswered SYN); the 1,000 still open at the
  // end are single SYNs in the capture's last second, as without any limit.
  EXPECT_EQ(unanswered, kSources - opt.max_flows);
  EXPECT_EQ(capture_ended, opt.max_flows);
}

TEST(AttemptTrackerLimits, BelowTheLimitNothingIsEvicted) {
  TrackerOptions opt;
  opt.max_flows = 1000;
  AttemptTracker t(opt, [](Attempt&) {});
  for (std::uint32_t i = 0; i < 999; ++i) {
    const auto syn = segment(spoofed(i).c_str(), 2000, "192.0.2.1", 80, tcp_flag::SYN, i, 0, kStart + i, std::nullopt);
    t.add(syn, AttemptTracker::flow_key(syn));
  }
  EXPECT_EQ(t.open_flows(), 999u);
  EXPECT_EQ(t.stats().evicted_flows, 0u);
  EXPECT_EQ(t.stats().state_limited, 0u);
}

TEST(AttemptTrackerLimits, FirstUnresentSynAckOnAPort) {
  std::vector<Outcome> outcomes;
  AttemptTracker t({}, [&](Attempt& a) { outcomes.push_back(a.outcome); });
  const auto add = [&](const CaptureItem& it) { t.add(it, AttemptTracker::flow_key(it)); };
  add(segment("198.51.100.7", 40000, "192.0.2.1", 80, tcp_flag::SYN, 1000, 0, kStart, 5));
  add(segment("192.0.2.1", 80, "198.51.100.7", 40000, tcp_flag::SYN | tcp_flag::ACK, 9000, 1001, kStart + 1'000'000, 77));
  // Time moves on 2 s without the client's ACK or a re-sent SYN-ACK.
  add(segment("198.51.100.8", 40001, "192.0.2.9", 22, tcp_flag::SYN, 5, 0, kStart + 2'000'000'000, std::nullopt));
  t.finish();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0], Outcome::SynAckUnacked);
}

// The same bound from the command line: a flood capture analysed with --max-flows 200 says so.
TEST(AttemptTrackerLimits, AnalyzeNotesWhenTheLimitKicksIn) {
  testing::TempDir dir;
  const std::string path = dir.file("flood.pcap");
  {
    capture::PcapWriter w(path);
    for (std::uint32_t i = 0; i < 3000; ++i) {
      Segment s;
      s.src = {Ipv4Addr{(10u << 24) | (1u << 16) | i}, static_cast<std::uint16_t>(1024 + i)};
      s.dst = *Endpoint::parse("192.0.2.1:80");
      s.seq = i * 31337u;
      s.flags = tcp_flag::SYN;
      s.window = 512;
      w.write(s, WallTime{kStart + std::int64_t{i} * 1'000'000});
    }
  }
  auto text = testing::run_command(testing::synscope_binary() + " analyze --max-flows 200 " + path, dir);
  EXPECT_EQ(text.exit_status, 0) << text.err;
  EXPECT_NE(text.out.find("state limit reached (--max-flows 200): 2800 flow(s) were finished early"), std::string::npos)
      << text.out;
  auto js = testing::run_command(testing::synscope_binary() + " analyze --json --max-flows 200 " + path, dir);
  ASSERT_EQ(js.exit_status, 0) << js.err;
  const auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["artefacts"]["evicted_flows"], 2800);
  EXPECT_EQ(j["summary"]["attempts"], 3000);
  // Without the flag (default 500,000) the same capture needs no eviction.
  auto plain = testing::run_command(testing::synscope_binary() + " analyze --json " + path, dir);
  ASSERT_EQ(plain.exit_status, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out)["artefacts"]["evicted_flows"], 0);
  auto bad = testing::run_command(testing::synscope_binary() + " analyze --max-flows 0 " + path, dir);
  EXPECT_EQ(bad.exit_status, 2);
}

}  // namespace
}  // namespace synscope::analyze
