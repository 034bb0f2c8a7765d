// Timer rules: SYN-ACK retransmission and queue-pressure pruning (§5.3), client SYN retransmission
// and give-up (§9), and the measurements on this machine's 6.18 kernel (§17).
#include "model_test_support.h"

namespace synscope::model::testing {
namespace {

bool table_profile(const std::string& name) { return name == "3.10" || name == "el7"; }
bool linear_syn_profile(const std::string& name) {
  // §9: tcp_syn_linear_timeouts from 6.5.
  return name == "6.5" || name == "6.13" || name == "6.18" || name == "7.0";
}

// ---------------------------------------------------------------------------------------------
// §5.3: thresh starts at max (tcp_synack_retries, default 5); under pressure (3.10/EL7 Q >= N/2,
// 4.4+ 2·Q > max(8, B)) with y2 = 2·Y: while thresh > 2 and Q >= y2: thresh--, y2 *= 2.

TEST(SynackRetryThreshold, PerProfile_S5_3) {
  struct Case {
    int q, young, backlog;
    int expect_table;  // 3.10/EL7 with N = syn_table_size_310(B, 1024)
    int expect_44;     // 4.4+
    const char* why;
  };
  // B = 8 ⇒ N = 16: table pressure at Q >= 8; 4.4+ pressure at 2Q > 8 ⇔ Q >= 5.
  const Case cases[] = {
      {4, 0, 8, 5, 5, "§5.3 no pressure anywhere (Q=4)"},
      {5, 0, 8, 5, 2, "§5.3 4.4+: 2·5 > 8 pressure, Y=0 ⇒ down to 2; table: 5 < 8 no pressure"},
      {7, 0, 8, 5, 2, "§5.3 table: 7 < N/2 = 8"},
      {8, 0, 8, 2, 2, "§5.3 pressure both, Y=0 ⇒ 2"},
      {9, 9, 8, 5, 5, "§5.3 pressure, Y=9: y2=18 > Q ⇒ 5"},
      {9, 4, 8, 4, 4, "§5.3 Y=4: y2=8 ≤ 9 ⇒ 4, y2=16 > 9 ⇒ 4"},
      {9, 3, 8, 4, 4, "§5.3 Y=3: y2=6 ≤ 9 ⇒ 4, y2=12 > 9 ⇒ 4"},
      {9, 2, 8, 3, 3, "§5.3 Y=2: 4 → 4, 8 → 3, 16 stop ⇒ 3"},
      {9, 1, 8, 2, 2, "§5.3 Y=1: 2 → 4, 4 → 3, 8 → 2 ⇒ 2"},
      {64, 0, 128, 5, 5, "§5.3 B=128: 2·64 = 128 not > 128; table N=256: 64 < 128"},
      {65, 0, 128, 5, 2, "§5.3 B=128: 2·65 > 128 ⇒ 2; table: 65 < 128"},
      {128, 0, 128, 2, 2, "§5.3 table N=256: 128 >= 128 ⇒ 2"},
  };
  for (const auto& name : all_profile_names()) {
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    ASSERT_EQ(s.tcp_synack_retries, 5) << name << " §5.3 default TCP_SYNACK_RETRIES";
    s.tcp_max_syn_backlog = 1024;
    for (const auto& c : cases) {
      int expect = table_profile(name) ? c.expect_table : c.expect_44;
      SCOPED_TRACE(name + " " + c.why);
      int n = syn_table_size_310(c.backlog, s.tcp_max_syn_backlog);
      EXPECT_EQ(synack_retry_threshold(p, s, c.q, c.young, c.backlog, n), expect)
          << "Q=" << c.q << " Y=" << c.young << " B=" << c.backlog;
    }
  }
}

TEST(SynackRetryThreshold, FollowsSynackRetriesSysctl_S5_3) {
  // §5.3: max = tcp_synack_retries; never pruned below 2 but a smaller max stays as is.
  const auto& p = P("6.18");
  auto s = Sysctls::defaults_for(p);
  s.tcp_synack_retries = 2;
  EXPECT_EQ(synack_retry_threshold(p, s, 1, 1, 8, 8), 2);
  EXPECT_EQ(synack_retry_threshold(p, s, 9, 0, 8, 8), 2);
  s.tcp_synack_retries = 1;
  EXPECT_EQ(synack_retry_threshold(p, s, 9, 0, 8, 8), 1) << "thresh > 2 loop guard: 1 stays 1";
}

TEST(SynackTimeout, Exponential_S5_3) {
  // §5.3: min(TCP_TIMEOUT_INIT << num_timeout, TCP_RTO_MAX) = 1, 2, 4, 8, 16 s.
  EXPECT_EQ(synack_timeout(0), seconds(1));
  EXPECT_EQ(synack_timeout(1), seconds(2));
  EXPECT_EQ(synack_timeout(2), seconds(4));
  EXPECT_EQ(synack_timeout(3), seconds(8));
  EXPECT_EQ(synack_timeout(4), seconds(16));
  EXPECT_EQ(synack_timeout(5), seconds(32));
}

// §5.3 default timeline: SYN-ACK at 0, retransmissions at 1, 3, 7, 15, 31 s, dropped at 63 s.
TEST(SynackTimeline, DefaultNoPressure_S5_3) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §5.3 default timeline");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    std::vector<std::int64_t> resend;
    std::int64_t t = 0, dropped = -1;
    for (int num_timeout = 0; num_timeout < 20; ++num_timeout) {
      t += synack_timeout(num_timeout).count() / 1'000'000'000;
      int thresh = synack_retry_threshold(p, s, 1, num_timeout == 0 ? 1 : 0, 128, syn_table_size_310(128, 1024));
      if (num_timeout >= thresh) {
        dropped = t;
        break;
      }
      resend.push_back(t);
    }
    EXPECT_EQ(resend, (std::vector<std::int64_t>{1, 3, 7, 15, 31}));
    EXPECT_EQ(dropped, 63);
  }
}

// §17 (+ §5.3): "Queued requests of a spoofed flood expire after ≈7 s (2–3 SYN-ACK retransmissions
// under queue pressure)" for listen(fd, 8) on 6.18. A continuing flood (one spoofed SYN every 10 ms)
// keeps the SYN queue at Q = 9 (Q > B, §6.3). Under the §5.3 rule a request is pruned after 2
// retransmissions (7 s) when at most one young request exists, after 3 (15 s) with two, and after
// 4 (31 s) with three; the typical (median) lifetime is 7 s and none reaches the unpressured 63 s.
TEST(SynackTimeline, SpoofedFloodExpiresAfter7s_6_18_S17_S5_3) {
  const auto& p = P("6.18");
  auto s = Sysctls::defaults_for(p);
  const int B = 8;
  struct Req {
    std::int64_t born = 0, due = 0;
    int num_timeout = 0;
    bool live = true;
  };
  std::vector<Req> reqs;
  int q = 0, young = 0, max_q = 0;
  std::vector<std::pair<std::int64_t, int>> expired;  // (lifetime ms, retransmissions)
  for (std::int64_t t = 0; t <= 40'000; ++t) {
    if (t % 10 == 0 && t <= 30'000 && !syn_queue_full(p, q, B, B)) {
      reqs.push_back(Req{t, t + 1000, 0, true});
      ++q;
      ++young;
      max_q = std::max(max_q, q);
    }
    for (auto& r : reqs) {
      if (!r.live || r.due != t) continue;
      int thresh = synack_retry_threshold(p, s, q, young, B, B);
      if (r.num_timeout >= thresh) {
        r.live = false;
        --q;
        if (r.num_timeout == 0) --young;
        expired.emplace_back(t - r.born, r.num_timeout);
        continue;
      }
      if (r.num_timeout++ == 0) --young;
      r.due = t + synack_timeout(r.num_timeout).count() / 1'000'000;
    }
  }
  EXPECT_EQ(max_q, 9) << "§17 listen(fd, 8) holds 9 half-open requests";
  ASSERT_GE(expired.size(), 10u);
  EXPECT_EQ(expired.front().first, 7000) << "§17 first request expires after 7 s";
  EXPECT_EQ(expired.front().second, 2) << "§17 after 2 retransmissions";
  std::vector<std::int64_t> lives;
  for (const auto& [life, rtx] : expired) {
    SCOPED_TRACE("§5.3 pruned: 2–4 retransmissions, below tcp_synack_retries = 5");
    EXPECT_GE(rtx, 2);
    EXPECT_LE(rtx, 4);
    EXPECT_TRUE(life == 7000 || life == 15000 || life == 31000) << "lifetime " << life << " ms";
    lives.push_back(life);
  }
  std::sort(lives.begin(), lives.end());
  EXPECT_EQ(lives[lives.size() / 2], 7000) << "§17 typical lifetime ≈7 s";
}

// ---------------------------------------------------------------------------------------------
// §9: client SYN retransmissions.

struct SynTimeline {
  std::vector<std::int64_t> sends;  // seconds after the first SYN
  std::int64_t gave_up = -1;
};

SynTimeline simulate_client(const KernelProfile& p, const Sysctls& s, int retries) {
  SynTimeline tl;
  tl.sends.push_back(0);
  Duration t{};
  int retransmits = 0;
  for (int guard = 0; guard < 100; ++guard) {
    t += syn_rto(p, s, retransmits);
    if (syn_gives_up(p, s, retries, retransmits, t)) {
      tl.gave_up = t.count() / 1'000'000'000;
      return tl;
    }
    ++retransmits;
    tl.sends.push_back(t.count() / 1'000'000'000);
  }
  return tl;
}

TEST(SynRetransmit, DefaultSchedulePerProfile_S9_S15_11) {
  for (const auto& name : all_profile_names()) {
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    ASSERT_EQ(s.tcp_syn_retries, 6) << name << " §9 default TCP_SYN_RETRIES";
    auto tl = simulate_client(p, s, s.tcp_syn_retries);
    if (linear_syn_profile(name)) {
      SCOPED_TRACE(name + " §9 6.5+: 0,1,2,3,4,5,7,11,19,35,67; ETIMEDOUT ≈131 s (§15.11)");
      EXPECT_EQ(tl.sends, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67}));
      EXPECT_EQ(tl.gave_up, 131);
    } else {
      SCOPED_TRACE(name + " §9 3.x–6.4: 0,1,3,7,15,31,63; ETIMEDOUT ≈127 s");
      EXPECT_EQ(tl.sends, (std::vector<std::int64_t>{0, 1, 3, 7, 15, 31, 63}));
      EXPECT_EQ(tl.gave_up, 127);
    }
  }
}

TEST(SynRetransmit, RtoValuesPerProfile_S9) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §9 RTO after k retransmissions");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    std::vector<std::int64_t> want = linear_syn_profile(name)
                                         ? std::vector<std::int64_t>{1, 1, 1, 1, 1, 2, 4, 8, 16, 32, 64}
                                         : std::vector<std::int64_t>{1, 2, 4, 8, 16, 32, 64};
    for (std::size_t k = 0; k < want.size(); ++k)
      EXPECT_EQ(syn_rto(p, s, static_cast<int>(k)), seconds(want[k])) << "k=" << k;
  }
}

TEST(SynRetransmit, TimeLimit_S9) {
  // §9: (2^(retries+1) − 1) × 1 s, linear after ilog2(120) = 6 doublings (TCP_RTO_MAX 120 s).
  EXPECT_EQ(syn_time_limit(0), seconds(1));
  EXPECT_EQ(syn_time_limit(1), seconds(3));
  EXPECT_EQ(syn_time_limit(2), seconds(7));
  EXPECT_EQ(syn_time_limit(5), seconds(63));
  EXPECT_EQ(syn_time_limit(6), seconds(127));
  EXPECT_EQ(syn_time_limit(7), seconds(127 + 120));
}

TEST(SynRetransmit, SynRetries2_ExponentialProfiles_S9) {
  // §9 time-based test: 2 retries ⇒ SYNs at 0, 1, 3 and ETIMEDOUT at 7 s.
  for (const auto& name : all_profile_names()) {
    if (linear_syn_profile(name)) continue;
    SCOPED_TRACE(name + " §9 tcp_syn_retries=2");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    s.tcp_syn_retries = 2;
    auto tl = simulate_client(p, s, 2);
    EXPECT_EQ(tl.sends, (std::vector<std::int64_t>{0, 1, 3}));
    EXPECT_EQ(tl.gave_up, 7);
  }
}

TEST(SynRetransmit, SynRetries2_6_18_SixSynsOneSecondApart_S17) {
  // §17: with tcp_syn_retries=2 the 6.18 client sent 6 SYNs 1 s apart and failed after ≈7 s.
  const auto& p = P("6.18");
  auto s = Sysctls::defaults_for(p);
  s.tcp_syn_retries = 2;
  auto tl = simulate_client(p, s, 2);
  EXPECT_EQ(tl.sends, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(tl.gave_up, 7);
}

}  // namespace
}  // namespace synscope::model::testing
