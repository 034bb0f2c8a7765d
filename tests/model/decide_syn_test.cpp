// decide_syn (model/listen_rules.h) rule by rule, in the order of fact sheet §3 / §14, with the
// counters of §3.8.
#include "model_test_support.h"

namespace synscope::model::testing {
namespace {

using Names = std::vector<std::string>;

bool has_tw_recycle(const std::string& name) {
  // §1, §7: tw_recycle exists up to 4.11; removed in 4.12.
  return name == "3.10" || name == "el7" || name == "4.4.0" || name == "4.4" || name == "4.10.0" || name == "4.10";
}
bool cookie_counts_listen_drops(const std::string& name) {
  // §3.1 step 10, §3.4, §3.5, §3.8: ListenDrops per cookie SYN-ACK in 3.10/EL7/4.4 only.
  return name == "3.10" || name == "el7" || name == "4.4.0" || name == "4.4";
}
bool young_rule(const std::string& name) {
  // §3.1 step 3, §3.3 step 3, §3.4: `A > B && Y > 1` in 3.10, EL7, 4.4.0.
  return name == "3.10" || name == "el7" || name == "4.4.0";
}
bool table_profile(const std::string& name) { return name == "3.10" || name == "el7"; }

// A listener with B = 8 whose SYN queue is full under every profile's test:
// 3.10/EL7 N = 16 (§6.2) ⇒ Q = 16; 4.4…6.12 Q >= 8; 6.13+ Q > 8 (§6.3) ⇒ Q = 16 satisfies all.
SynContext full_queue_ctx(const KernelProfile& p, const Sysctls& s) {
  SynContext c;
  c.backlog = 8;
  c.table_size = syn_queue_cap(p, 8, s.tcp_max_syn_backlog);
  c.q = 16;
  c.young = 16;
  c.a = 0;
  c.syn_has_ts = true;
  c.syn_tsval = 123'456;
  c.now_sec = 1'700'000'000;
  return c;
}

SynContext idle_ctx(const KernelProfile& p, const Sysctls& s, int backlog = 128) {
  SynContext c;
  c.backlog = backlog;
  c.table_size = syn_queue_cap(p, backlog, s.tcp_max_syn_backlog);
  c.syn_has_ts = true;
  c.syn_tsval = 123'456;
  c.now_sec = 1'700'000'000;
  return c;
}

Sysctls sysctls_for(const KernelProfile& p, int syncookies, int max_syn_backlog = 1024) {
  auto s = Sysctls::defaults_for(p);
  s.tcp_syncookies = syncookies;
  s.tcp_max_syn_backlog = max_syn_backlog;
  return s;
}

TEST(DecideSyn, PlainSynGetsSynAck_S3_1_step10) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §3.1 step 10 / §14 queue request");
    const auto& p = find_profile(name);
    for (int sc : {0, 1}) {
      auto s = sysctls_for(p, sc);
      auto d = decide_syn(p, s, idle_ctx(p, s));
      EXPECT_EQ(d.verdict.action, Action::SynAck) << "sc=" << sc;
      EXPECT_EQ(d.verdict.rule, Rule::SynAckSent);
      EXPECT_FALSE(d.cookie);
      EXPECT_EQ(counter_names(d.verdict), Names{});
    }
  }
}

// §3.1 step 2, §3.8: SYN queue full, syncookies 0 ⇒ TCPReqQFullDrop + ListenDrops, drop.
TEST(DecideSyn, SynQueueFullSyncookies0_PerProfile_S3_1_step2_S3_8) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §3.1 step 2 / §3.8 row 'SYN queue full, sc=0'");
    const auto& p = find_profile(name);
    auto s = sysctls_for(p, 0);
    auto d = decide_syn(p, s, full_queue_ctx(p, s));
    EXPECT_EQ(d.verdict.action, Action::Drop);
    EXPECT_EQ(d.verdict.rule, Rule::SynQueueFullDrop);
    EXPECT_FALSE(d.cookie);
    EXPECT_EQ(counter_names(d.verdict), sorted({"TCPReqQFullDrop", "ListenDrops"}));
  }
}

// §3.1 step 2 + step 10, §3.4, §3.5, §3.8: SYN queue full, syncookies 1 ⇒ cookie SYN-ACK;
// TCPReqQFullDoCookies + SyncookiesSent (+ ListenDrops in 3.10/EL7/4.4 only).
TEST(DecideSyn, SynQueueFullSyncookies1_PerProfile_S3_8) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §3.8 row 'SYN queue full, cookie sent'");
    const auto& p = find_profile(name);
    auto s = sysctls_for(p, 1);
    auto d = decide_syn(p, s, full_queue_ctx(p, s));
    EXPECT_EQ(d.verdict.action, Action::CookieSynAck);
    EXPECT_EQ(d.verdict.rule, Rule::SynQueueFullCookie);
    EXPECT_TRUE(d.cookie);
    Names want = {"TCPReqQFullDoCookies", "SyncookiesSent"};
    if (cookie_counts_listen_drops(name)) want.push_back("ListenDrops");
    EXPECT_EQ(counter_names(d.verdict), sorted(want));
  }
}

// §3.3 step 2, §10, §14: tcp_syncookies=2 ⇒ always a cookie (flood action counts TCPReqQFullDoCookies),
// even with an empty SYN queue. Not available in 3.10 mainline (§10).
TEST(DecideSyn, Syncookies2AlwaysCookie_PerProfile_S3_3_S10) {
  for (const auto& name : all_profile_names()) {
    if (name == "3.10") continue;  // §10: no tcp_syncookies=2 in 3.10 mainline (see SysctlsTest)
    SCOPED_TRACE(name + " §3.3 step 2 / §10 sc=2");
    const auto& p = find_profile(name);
    auto s = sysctls_for(p, 2);
    auto d = decide_syn(p, s, idle_ctx(p, s));
    EXPECT_EQ(d.verdict.action, Action::CookieSynAck);
    EXPECT_EQ(d.verdict.rule, Rule::SyncookiesAlways);
    EXPECT_TRUE(d.cookie);
    Names want = {"TCPReqQFullDoCookies", "SyncookiesSent"};
    if (cookie_counts_listen_drops(name)) want.push_back("ListenDrops");
    EXPECT_EQ(counter_names(d.verdict), sorted(want));
  }
}

// §3.1 step 3, §3.8: accept queue full ⇒ ListenOverflows + ListenDrops; the young condition decides
// in 3.10/EL7/4.4.0.
TEST(DecideSyn, AcceptQueueFull_PerProfile_S3_1_step3_S3_8) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §3.1 step 3 / §3.4 / §3.5");
    const auto& p = find_profile(name);
    auto s = sysctls_for(p, 1);
    // B = 4 so that Q = 2 leaves the SYN queue non-full in every profile.
    auto c = idle_ctx(p, s, 4);
    c.a = 5;
    c.q = 2;
    c.young = 2;
    auto d = decide_syn(p, s, c);
    EXPECT_EQ(d.verdict.action, Action::Drop) << "A=5 > B=4, Y=2";
    EXPECT_EQ(d.verdict.rule, Rule::AcceptQueueFull);
    EXPECT_EQ(counter_names(d.verdict), sorted({"ListenOverflows", "ListenDrops"}));

    c.young = 1;
    c.q = 1;
    d = decide_syn(p, s, c);
    if (young_rule(name)) {
      EXPECT_EQ(d.verdict.action, Action::SynAck) << "A=5 > B=4 but Y=1: SYN-ACK still sent";
      EXPECT_EQ(counter_names(d.verdict), Names{});
    } else {
      EXPECT_EQ(d.verdict.action, Action::Drop) << "A=5 > B=4";
      EXPECT_EQ(d.verdict.rule, Rule::AcceptQueueFull);
      EXPECT_EQ(counter_names(d.verdict), sorted({"ListenOverflows", "ListenDrops"}));
    }
  }
}

// §3.1 step 3: the accept-queue test is evaluated for cookie-mode SYNs too (after the flood action).
TEST(DecideSyn, AcceptQueueFullAlsoForCookieSyn_S3_1_step3_S10) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §3.1 step 3 (cookie-mode SYN), §10 'still subject to the accept-queue check'");
    const auto& p = find_profile(name);
    auto s = sysctls_for(p, 1);
    auto c = full_queue_ctx(p, s);
    c.a = 9;  // A > B = 8, Y = 16 > 1
    auto d = decide_syn(p, s, c);
    EXPECT_EQ(d.verdict.action, Action::Drop);
    EXPECT_EQ(d.verdict.rule, Rule::AcceptQueueFull);
    EXPECT_FALSE(d.cookie);
    EXPECT_EQ(counter_names(d.verdict), sorted({"TCPReqQFullDoCookies", "ListenOverflows", "ListenDrops"}));
  }
}

// §3 / §14 order: a full SYN queue with syncookies off drops before the accept-queue test.
TEST(DecideSyn, SynQueueTestBeforeAcceptQueueTest_S14) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §14 order");
    const auto& p = find_profile(name);
    auto s = sysctls_for(p, 0);
    auto c = full_queue_ctx(p, s);
    c.a = 9;
    auto d = decide_syn(p, s, c);
    EXPECT_EQ(d.verdict.rule, Rule::SynQueueFullDrop);
    EXPECT_EQ(counter_names(d.verdict), sorted({"TCPReqQFullDrop", "ListenDrops"}));
  }
}

// §3.1 step 7a, §3.3 step 7a, §7.3, §3.8: per-host PAWS (PAWSPassive + ListenDrops), only with
// tcp_tw_recycle=1 and only in profiles ≤ 4.11.
TEST(DecideSyn, PerHostPaws_PerProfile_S3_1_step7a_S7_3) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §3.1/§3.3 step 7a, §7.3");
    const auto& p = find_profile(name);
    auto s = sysctls_for(p, 1);
    auto c = idle_ctx(p, s);
    c.metrics = TsMemory{500'000, c.now_sec - 10, true};  // recorded 10 s ago, far ahead of the SYN
    c.syn_tsval = 100'000;

    // tcp_tw_recycle = 0: never checked.
    auto d = decide_syn(p, s, c);
    EXPECT_EQ(d.verdict.action, Action::SynAck) << "tw_recycle=0";

    if (has_tw_recycle(name)) {
      s.set(p, "tcp_tw_recycle", 1);
      d = decide_syn(p, s, c);
      EXPECT_EQ(d.verdict.action, Action::Drop);
      EXPECT_EQ(d.verdict.rule, Rule::PerHostPaws);
      EXPECT_EQ(counter_names(d.verdict), sorted({"PAWSPassive", "ListenDrops"}));

      // Entry 60 s old ⇒ accepted.
      auto old = c;
      old.metrics = TsMemory{500'000, c.now_sec - 60, true};
      EXPECT_EQ(decide_syn(p, s, old).verdict.action, Action::SynAck) << "entry 60 s old";

      // TSval within TCP_PAWS_WINDOW ⇒ accepted.
      auto close = c;
      close.syn_tsval = 499'999;
      EXPECT_EQ(decide_syn(p, s, close).verdict.action, Action::SynAck) << "diff 1";

      // SYN without a TS option: 3.10 only checks SYNs with TS (§3.1 step 7a); EL7/4.x reject (§3.3, §7.3).
      auto nots = c;
      nots.syn_has_ts = false;
      nots.syn_tsval = 0;
      d = decide_syn(p, s, nots);
      if (name == "3.10") {
        EXPECT_EQ(d.verdict.action, Action::SynAck) << "3.10: no TS option ⇒ guard false";
      } else {
        EXPECT_EQ(d.verdict.action, Action::Drop) << "EL7/4.x: no-TS SYN rejected";
        EXPECT_EQ(d.verdict.rule, Rule::PerHostPaws);
        EXPECT_EQ(counter_names(d.verdict), sorted({"PAWSPassive", "ListenDrops"}));
      }

      // Cookie-mode SYNs skip the per-host check (§3.1 step 7, §7.3 "cookie-mode SYNs skip the check").
      auto full = full_queue_ctx(p, s);
      full.metrics = c.metrics;
      full.syn_tsval = 100'000;
      d = decide_syn(p, s, full);
      EXPECT_EQ(d.verdict.action, Action::CookieSynAck) << "cookie SYN skips per-host PAWS";
    } else {
      // 4.12+: the sysctl is gone (§7.7) and tcpm_ts is not used for SYN admission even if the
      // field were set.
      Sysctls forced = s;
      forced.tcp_tw_recycle = 1;
      d = decide_syn(p, forced, c);
      EXPECT_EQ(d.verdict.action, Action::SynAck) << "no per-host PAWS after 4.12";
      EXPECT_EQ(counter_names(d.verdict), Names{});
    }
  }
}

// §3.1 step 7b, §3.3 step 7b, §3.6, §15.2: the unproven-peer clause (sc == 0, MSB − Q < MSB/4),
// ListenDrops only. NULL-dst gotcha in 3.10 … 4.12 (every peer unproven); 4.14+ (5.4 here) only
// peers without an RTT sample are dropped.
TEST(DecideSyn, UnprovenPeer_PerProfile_S3_1_step7b_S3_6) {
  // MSB = 128, B = 128 (N = 256 in 3.10/EL7): Q = 97 ⇒ 128 − 97 = 31 < 32 (clause); Q = 96 ⇒ 32, not < 32.
  // The SYN queue is not full at Q = 97 in any profile.
  struct Row {
    const char* profile;
    bool null_dst;  // §3.6: 4.12.4 still has it; 4.14+ route first
  };
  const Row rows[] = {
      {"3.10", true}, {"el7", true},  {"4.4.0", true}, {"4.4", true},   {"4.10.0", true}, {"4.10", true},
      {"4.12", true}, {"5.4", false}, {"6.5", false},  {"6.13", false}, {"6.18", false},  {"7.0", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.profile) + (r.null_dst ? " §3.1 step 7b NULL-dst gotcha" : " §3.6 routed (4.14+)"));
    const std::string name = r.profile;
    const auto& p = P(r.profile);
    auto s = sysctls_for(p, 0, 128);
    auto c = idle_ctx(p, s, 128);
    c.q = 97;
    c.young = 97;

    auto d = decide_syn(p, s, c);
    EXPECT_EQ(d.verdict.action, Action::Drop) << "unknown peer, Q=97";
    EXPECT_EQ(d.verdict.rule, Rule::UnprovenPeer);
    EXPECT_EQ(counter_names(d.verdict), Names{"ListenDrops"});

    auto below = c;
    below.q = 96;
    below.young = 96;
    EXPECT_EQ(decide_syn(p, s, below).verdict.action, Action::SynAck) << "MSB − Q = 32 is not < 32";

    // A peer with an RTT metric (old TS stamp, so per-host PAWS is irrelevant).
    auto proven = c;
    proven.metrics = TsMemory{42, c.now_sec - 1000, true};
    d = decide_syn(p, s, proven);
    if (r.null_dst) {
      EXPECT_EQ(d.verdict.action, Action::Drop) << "NULL dst ⇒ even a proven peer is dropped";
      EXPECT_EQ(d.verdict.rule, Rule::UnprovenPeer);
      EXPECT_EQ(counter_names(d.verdict), Names{"ListenDrops"});
    } else {
      EXPECT_EQ(d.verdict.action, Action::SynAck) << "route known ⇒ proven peer passes";
    }

    // syncookies on ⇒ the clause does not apply.
    auto s1 = sysctls_for(p, 1, 128);
    EXPECT_EQ(decide_syn(p, s1, c).verdict.action, Action::SynAck) << "sc=1";

    if (has_tw_recycle(name)) {
      auto sr = s;
      sr.set(p, "tcp_tw_recycle", 1);
      // SYN with TS, tw_recycle=1, no entry: guard (a) true in all ≤4.11 profiles ⇒ 7b not evaluated.
      EXPECT_EQ(decide_syn(p, sr, c).verdict.action, Action::SynAck) << "tw_recycle=1, TS SYN: 7b unreachable";
      auto nots = c;
      nots.syn_has_ts = false;
      nots.syn_tsval = 0;
      d = decide_syn(p, sr, nots);
      if (name == "3.10") {
        // 3.10: guard (a) needs a TS option, so 7b (the `else`) runs and drops.
        EXPECT_EQ(d.verdict.action, Action::Drop) << "3.10: no-TS SYN falls into 7b";
        EXPECT_EQ(d.verdict.rule, Rule::UnprovenPeer);
      } else {
        // EL7/4.x: 7b is the `else` of tw_recycle ⇒ never evaluated with tw_recycle=1 (§3.3 step 7b).
        EXPECT_EQ(d.verdict.action, Action::SynAck) << "EL7/4.x: 7b not reachable with tw_recycle=1";
      }
    }
  }
}

// §7.5, §3.1 step 2/3, §3.7 step 1, §14: a SYN accepted by a TIME_WAIT bucket (isn != 0) skips the
// SYN-queue test (also sc=2), per-host PAWS and the unproven-peer clause, but not the accept-queue test.
TEST(DecideSyn, ViaTimewait_PerProfile_S7_5_S14) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §7.5 / §14 isn != 0");
    const auto& p = find_profile(name);

    // SYN queue full with syncookies 0 and 1: normal SYN-ACK, no counters.
    for (int sc : {0, 1}) {
      auto s = sysctls_for(p, sc);
      auto c = full_queue_ctx(p, s);
      c.via_timewait = true;
      auto d = decide_syn(p, s, c);
      EXPECT_EQ(d.verdict.action, Action::SynAck) << "sc=" << sc;
      EXPECT_EQ(d.verdict.rule, Rule::TimeWaitSynAccepted);
      EXPECT_FALSE(d.cookie);
      EXPECT_EQ(counter_names(d.verdict), Names{});
    }
    if (name != "3.10") {
      auto s = sysctls_for(p, 2);
      auto c = idle_ctx(p, s);
      c.via_timewait = true;
      auto d = decide_syn(p, s, c);
      EXPECT_EQ(d.verdict.action, Action::SynAck) << "sc=2 with isn != 0: no cookie";
      EXPECT_FALSE(d.cookie);
    }

    // Accept queue still checked.
    {
      auto s = sysctls_for(p, 1);
      auto c = idle_ctx(p, s, 2);
      c.a = 3;
      c.q = 2;
      c.young = 2;
      c.via_timewait = true;
      auto d = decide_syn(p, s, c);
      EXPECT_EQ(d.verdict.action, Action::Drop);
      EXPECT_EQ(d.verdict.rule, Rule::AcceptQueueFull);
      EXPECT_EQ(counter_names(d.verdict), sorted({"ListenOverflows", "ListenDrops"}));
    }

    // Per-host PAWS skipped.
    if (has_tw_recycle(name)) {
      auto s = sysctls_for(p, 1);
      s.set(p, "tcp_tw_recycle", 1);
      auto c = idle_ctx(p, s);
      c.metrics = TsMemory{500'000, c.now_sec - 10, true};
      c.syn_tsval = 100'000;
      c.via_timewait = true;
      EXPECT_EQ(decide_syn(p, s, c).verdict.action, Action::SynAck) << "per-host PAWS skipped";
    }

    // Unproven-peer clause skipped.
    {
      auto s = sysctls_for(p, 0, 128);
      auto c = idle_ctx(p, s, 128);
      c.q = 100;
      c.young = 100;
      c.via_timewait = true;
      EXPECT_EQ(decide_syn(p, s, c).verdict.action, Action::SynAck) << "unproven-peer clause skipped";
    }
  }
}

// §6.3, §15.9: listen(fd, 0). 4.4 … 6.12 with syncookies off drop every SYN; with syncookies on
// answer every SYN with a cookie; 6.13+ (and 3.10/EL7 with N = 16) queue it.
TEST(DecideSyn, ListenBacklogZero_PerProfile_S6_3_S15_9) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §15.9 listen(fd, 0)");
    const auto& p = find_profile(name);
    bool drops_all = !table_profile(name) && name != "6.13" && name != "6.18" && name != "7.0";
    for (int sc : {0, 1}) {
      auto s = sysctls_for(p, sc);
      auto c = idle_ctx(p, s, 0);
      auto d = decide_syn(p, s, c);
      if (!drops_all) {
        EXPECT_EQ(d.verdict.action, Action::SynAck) << "sc=" << sc;
      } else if (sc == 0) {
        EXPECT_EQ(d.verdict.action, Action::Drop);
        EXPECT_EQ(d.verdict.rule, Rule::SynQueueFullDrop);
        EXPECT_EQ(counter_names(d.verdict), sorted({"TCPReqQFullDrop", "ListenDrops"}));
      } else {
        EXPECT_EQ(d.verdict.action, Action::CookieSynAck);
      }
    }
  }
}

}  // namespace
}  // namespace synscope::model::testing
