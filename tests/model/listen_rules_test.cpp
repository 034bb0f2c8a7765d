// Pure listen-path rules (model/listen_rules.h) against the fact sheet: §6.1, §6.2, §6.3, §3, §7.2, §7.3.
#include <climits>

#include "model_test_support.h"

namespace synscope::model::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// §6.1: `if ((unsigned)backlog > somaxconn) backlog = somaxconn` (negative → somaxconn).

TEST(EffectiveBacklog, ClampsToSomaxconn_S6_1) {
  struct Row {
    int requested;
    int somaxconn;
    int expected;
    const char* why;
  };
  const Row rows[] = {
      {5, 128, 5, "§6.1 below somaxconn unchanged"},
      {0, 128, 0, "§6.1 listen(fd,0) keeps B=0"},
      {128, 128, 128, "§6.1 equal to somaxconn unchanged"},
      {129, 128, 128, "§6.1 above somaxconn clamped"},
      {65535, 4096, 4096, "§6.1 above somaxconn clamped (5.4+ default 4096)"},
      {4096, 4096, 4096, "§6.1 equal"},
      {-1, 128, 128, "§6.1 negative → (unsigned) huge → somaxconn"},
      {-1, 4096, 4096, "§6.1 negative → somaxconn"},
      {INT_MIN, 128, 128, "§6.1 INT_MIN → somaxconn"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.why);
    Sysctls s;
    s.somaxconn = r.somaxconn;
    EXPECT_EQ(effective_backlog(r.requested, s), r.expected) << "listen(fd, " << r.requested << ")";
  }
}

TEST(EffectiveBacklog, PerProfileDefaultSomaxconn_S6_1) {
  // §6.1/§1: SOMAXCONN 128 up to 5.3, 4096 from 5.4. listen(fd, 1000) and listen(fd, -1).
  struct Row {
    const char* profile;
    int expect_1000;
    int expect_neg;
  };
  const Row rows[] = {
      {"3.10", 128, 128},  {"el7", 128, 128},   {"4.4.0", 128, 128},  {"4.4", 128, 128},
      {"4.10.0", 128, 128}, {"4.10", 128, 128}, {"4.12", 128, 128},   {"5.4", 1000, 4096},
      {"6.5", 1000, 4096}, {"6.13", 1000, 4096}, {"6.18", 1000, 4096}, {"7.0", 1000, 4096},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.profile) + " §6.1");
    auto s = Sysctls::defaults_for(P(r.profile));
    EXPECT_EQ(effective_backlog(1000, s), r.expect_1000);
    EXPECT_EQ(effective_backlog(-1, s), r.expect_neg);
  }
}

// ---------------------------------------------------------------------------------------------
// §6.2: N = roundup_pow_of_two(max(min(B, MSB), 8) + 1).

TEST(SynTableSize310, FactSheetTable_S6_2) {
  struct Row {
    int b, msb, n;
    const char* why;
  };
  const Row rows[] = {
      {0, 1024, 16, "§6.2 row B 0–7 → 16 (B=0)"},
      {1, 8, 16, "§6.2 row B 0–7 → 16 (MSB=8)"},
      {7, 256, 16, "§6.2 row B 0–7 → 16 (B=7)"},
      {8, 1024, 16, "§6.2 n2=8 → roundup(9)=16"},
      {15, 1024, 16, "§6.2 roundup(16)=16"},
      {16, 1024, 32, "§6.2 roundup(17)=32"},
      {128, 128, 256, "§6.2 row B=128, MSB≥128 → 256"},
      {128, 1024, 256, "§6.2 row B=128, MSB≥128 → 256"},
      {1024, 2048, 2048, "§6.2 row B=1024, MSB=2048 → 2048"},
      {2048, 2048, 4096, "§6.2 row B=2048, MSB=2048 → 4096 (exceeds MSB)"},
      {4096, 1024, 2048, "§6.2 row B=4096, MSB=1024 → 2048"},
      {128, 4, 16, "§6.2 n1=min(B,MSB)=4, n2=max(4,8)=8 → 16"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.why);
    EXPECT_EQ(syn_table_size_310(r.b, r.msb), r.n) << "B=" << r.b << " MSB=" << r.msb;
  }
}

// ---------------------------------------------------------------------------------------------
// §1, §6.2, §6.3, §15.9: SYN-queue "full" test per profile.

TEST(SynQueueFull, PerProfile_S6_2_S6_3_S15_9) {
  // Columns: (Q,B) = (0,0) (1,0) (7,8) (8,8) (9,8) (15,8) (16,8).
  // 3.10/EL7: Q >= N with N = 16 for B ≤ 8 (§6.2); 4.4…6.12: Q >= B; 6.13+: Q > B (§6.3).
  struct Row {
    const char* profile;
    bool q0b0, q1b0, q7b8, q8b8, q9b8, q15b8, q16b8;
  };
  const Row rows[] = {
      {"3.10", false, false, false, false, false, false, true},   // §6.2 table N=16
      {"el7", false, false, false, false, false, false, true},    // §6.2 (old listen_sock table kept)
      {"4.4.0", true, true, false, true, true, true, true},       // §6.3 Q >= B; listen(fd,0) drops all (§15.9)
      {"4.4", true, true, false, true, true, true, true},
      {"4.10.0", true, true, false, true, true, true, true},
      {"4.10", true, true, false, true, true, true, true},
      {"4.12", true, true, false, true, true, true, true},
      {"5.4", true, true, false, true, true, true, true},
      {"6.5", true, true, false, true, true, true, true},         // 6.5 … 6.12 still Q >= B
      {"6.13", false, true, false, false, true, true, true},      // §6.3 Q > B (3479c7549fb1)
      {"6.18", false, true, false, false, true, true, true},      // §17: listen(fd,8) holds 9 requests
      {"7.0", false, true, false, false, true, true, true},
  };
  const int msb = 1024;
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.profile) + " §6.2/§6.3/§15.9");
    const auto& p = P(r.profile);
    auto full = [&](int q, int b) { return syn_queue_full(p, q, b, syn_queue_cap(p, b, msb)); };
    EXPECT_EQ(full(0, 0), r.q0b0) << "listen(fd,0), Q=0";
    EXPECT_EQ(full(1, 0), r.q1b0) << "listen(fd,0), Q=1";
    EXPECT_EQ(full(7, 8), r.q7b8) << "B=8, Q=7";
    EXPECT_EQ(full(8, 8), r.q8b8) << "B=8, Q=8";
    EXPECT_EQ(full(9, 8), r.q9b8) << "B=8, Q=9";
    EXPECT_EQ(full(15, 8), r.q15b8) << "B=8, Q=15";
    EXPECT_EQ(full(16, 8), r.q16b8) << "B=8, Q=16";
  }
}

TEST(SynQueueCap, PowerOfTwoOnlyIn310AndEl7_S6_2_S6_3) {
  // §6.2: 3.10/EL7 compare against N; §6.3: 4.4+ against B, max_syn_backlog no longer sizes the queue.
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §6.2/§6.3");
    const auto& p = find_profile(name);
    bool table = name == "3.10" || name == "el7";
    EXPECT_EQ(syn_queue_cap(p, 128, 1024), table ? 256 : 128);
    EXPECT_EQ(syn_queue_cap(p, 5, 1024), table ? 16 : 5);
  }
}

// ---------------------------------------------------------------------------------------------
// §1, §3.1 step 3, §3.4, §3.5: accept-queue test applied to a SYN.

TEST(AcceptQueueFullAtSyn, PerProfile_S3_1_S3_4_S3_5) {
  // young rule `A > B && Y > 1` in 3.10, EL7, 4.4.0; `A > B` in 4.4.178 and 4.10+.
  struct Row {
    const char* profile;
    bool young_rule;
  };
  const Row rows[] = {
      {"3.10", true},    // §3.1 step 3
      {"el7", true},     // §3.3 step 3 (kept in EL7)
      {"4.4.0", true},   // §3.4 4.4.0
      {"4.4", false},    // §3.4 4.4.178 stable backport 7ed7c0386ef2
      {"4.10.0", false}, // §3.5
      {"4.10", false},   {"4.12", false}, {"5.4", false}, {"6.5", false},
      {"6.13", false},   {"6.18", false}, {"7.0", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.profile) + (r.young_rule ? " §3.1 step 3 young rule" : " §3.5 A > B"));
    const auto& p = P(r.profile);
    // A > B with no young requests: only the A > B profiles drop.
    EXPECT_EQ(accept_queue_full_at_syn(p, 3, 2, 0), !r.young_rule);
    EXPECT_EQ(accept_queue_full_at_syn(p, 3, 2, 1), !r.young_rule) << "Y=1 is not > 1";
    EXPECT_TRUE(accept_queue_full_at_syn(p, 3, 2, 2)) << "A=3 > B=2, Y=2 > 1";
    // A == B is never full (the accept queue holds B+1, §6.1).
    EXPECT_FALSE(accept_queue_full_at_syn(p, 2, 2, 5));
    // listen(fd, 0): one child admitted, the second refused (§6.1, §15.9).
    EXPECT_FALSE(accept_queue_full_at_syn(p, 0, 0, 5));
    EXPECT_TRUE(accept_queue_full_at_syn(p, 1, 0, 5));
    EXPECT_EQ(accept_queue_full_at_syn(p, 1, 0, 0), !r.young_rule);
  }
}

TEST(AcceptQueueFullAtAck, AboveBacklogEverywhere_S5_1_S6_1) {
  // §5.1 step 7 / §6.1: `A > B` in every version.
  EXPECT_FALSE(accept_queue_full_at_ack(2, 2));
  EXPECT_TRUE(accept_queue_full_at_ack(3, 2));
  EXPECT_FALSE(accept_queue_full_at_ack(0, 0));
  EXPECT_TRUE(accept_queue_full_at_ack(1, 0));
}

// ---------------------------------------------------------------------------------------------
// §7.2: overwrite iff (s32)(tcpm_ts − ts_recent) <= 0, or (now − tcpm_ts_stamp > 60 and
// tcpm_ts_stamp <= ts_recent_stamp).

TEST(RememberStamp, UpdateRule_S7_2) {
  struct Row {
    std::optional<TsMemory> entry;
    std::uint32_t ts_recent;
    std::int64_t ts_recent_stamp;
    std::int64_t now;
    std::uint32_t expect_ts;
    std::int64_t expect_stamp;
    const char* why;
  };
  const Row rows[] = {
      {std::nullopt, 777, 100, 101, 777, 100, "§7.2 no entry: created from (ts_recent, ts_recent_stamp)"},
      {TsMemory{1000, 100}, 2000, 110, 112, 2000, 110, "§7.2 TSval moves forward: overwritten"},
      {TsMemory{1000, 100}, 1000, 110, 112, 1000, 110, "§7.2 equal TSval ((s32)diff == 0 <= 0): overwritten"},
      {TsMemory{5000, 100}, 1000, 110, 112, 5000, 100, "§7.2 TSval behind within 60 s: kept"},
      {TsMemory{5000, 100}, 1000, 160, 160, 5000, 100, "§7.2 now − stamp = 60, not > 60: kept"},
      {TsMemory{5000, 100}, 1000, 161, 161, 1000, 161, "§7.2 now − stamp = 61 > 60 and stamp <= new stamp: replaced"},
      {TsMemory{5000, 200}, 1000, 150, 300, 5000, 200,
       "§7.2 old entry but its stamp is newer than the socket's ts_recent_stamp: kept"},
      {TsMemory{0xFFFFFF00u, 100}, 0x100u, 110, 110, 0x100u, 110,
       "§7.2/§8 wrap: 0x100 is newer than 0xFFFFFF00 modulo 2^32: overwritten"},
      {TsMemory{0x100u, 100}, 0xFFFFFF00u, 110, 110, 0x100u, 100,
       "§7.2/§8 wrap: 0xFFFFFF00 is older than 0x100 modulo 2^32: kept"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.why);
    auto m = remember_stamp(r.entry, r.ts_recent, r.ts_recent_stamp, r.now);
    EXPECT_EQ(m.ts, r.expect_ts);
    EXPECT_EQ(m.stamp_sec, r.expect_stamp);
  }
}

TEST(RememberStamp, HalfRangeWrap_S7_2_S8) {
  // §8: "a newer than b" ⇔ (s32)(a − b) > 0. tcpm_ts = 0x10, ts_recent = 0x80000010:
  // (s32)(0x10 − 0x80000010) = (s32)0x80000000 = INT_MIN <= 0 ⇒ overwritten (§7.2).
  auto m = remember_stamp(TsMemory{0x10u, 100}, 0x80000010u, 110, 110);
  EXPECT_EQ(m.ts, 0x80000010u);
  EXPECT_EQ(m.stamp_sec, 110);
  // tcpm_ts = 0x10, ts_recent = 0x8000000F: (s32)(0x10 − 0x8000000F) = 0x80000001 < 0 ⇒ overwritten.
  auto m2 = remember_stamp(TsMemory{0x10u, 100}, 0x8000000Fu, 110, 110);
  EXPECT_EQ(m2.ts, 0x8000000Fu);
  // tcpm_ts = 0x10, ts_recent = 0x80000011: (s32)(0x10 − 0x80000011) = 0x7FFFFFFF > 0 ⇒ kept.
  auto m3 = remember_stamp(TsMemory{0x10u, 100}, 0x80000011u, 110, 110);
  EXPECT_EQ(m3.ts, 0x10u);
  EXPECT_EQ(m3.stamp_sec, 100);
}

// ---------------------------------------------------------------------------------------------
// §7.3: reject iff entry exists and (u32)(now − stamp) < 60 and [(s32)(tcpm_ts − TSval) > 1]
// (3.10) / [ ... or SYN has no TS ] (EL7, 4.4–4.11). 4.12+: no per-host PAWS at all (§7.7).

TEST(PerHostPawsRejects, PerProfile_S7_3) {
  enum Family { Mainline310, Backported, Removed };
  struct Row {
    const char* profile;
    Family family;
  };
  const Row rows[] = {
      {"3.10", Mainline310}, {"el7", Backported},  {"4.4.0", Backported}, {"4.4", Backported},
      {"4.10.0", Backported}, {"4.10", Backported}, {"4.12", Removed},     {"5.4", Removed},
      {"6.5", Removed},       {"6.13", Removed},    {"6.18", Removed},     {"7.0", Removed},
  };
  const std::int64_t stamp = 1'000;
  const TsMemory entry{100'000, stamp};
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.profile) + " §7.3");
    const auto rule = P(r.profile).per_host_paws;
    const bool active = r.family != Removed;
    auto rej = [&](std::optional<TsMemory> e, bool has_ts, std::uint32_t tsval, std::int64_t now) {
      return per_host_paws_rejects(rule, e, has_ts, tsval, now);
    };
    // TCP_PAWS_WINDOW = 1: a diff of exactly 1 passes, 2 rejects.
    EXPECT_FALSE(rej(entry, true, 99'999, stamp + 10)) << "diff 1 passes";
    EXPECT_EQ(rej(entry, true, 99'998, stamp + 10), active) << "diff 2 rejects";
    EXPECT_FALSE(rej(entry, true, 100'000, stamp + 10)) << "equal passes";
    EXPECT_FALSE(rej(entry, true, 200'000, stamp + 10)) << "SYN ahead passes";
    EXPECT_EQ(rej(entry, true, 1, stamp + 10), active) << "far behind rejects";
    // 59 s vs 60 s age of the entry.
    EXPECT_EQ(rej(entry, true, 1, stamp + 59), active) << "age 59 s < 60 rejects";
    EXPECT_FALSE(rej(entry, true, 1, stamp + 60)) << "age 60 s is not < 60";
    EXPECT_FALSE(rej(entry, true, 1, stamp + 61));
    // (u32)(now − stamp): a stamp in the future wraps to a huge age ⇒ passes.
    EXPECT_FALSE(rej(entry, true, 1, stamp - 5)) << "(u32)(now - stamp) wraps";
    // No entry ⇒ proven.
    EXPECT_FALSE(rej(std::nullopt, true, 1, stamp + 10));
    EXPECT_FALSE(rej(std::nullopt, false, 0, stamp + 10));
    // TSval comparison modulo 2^32.
    EXPECT_EQ(rej(TsMemory{5, stamp}, true, 0xFFFFFFF0u, stamp + 1), active) << "(s32)(5 − 0xFFFFFFF0) = 21 > 1";
    EXPECT_FALSE(rej(TsMemory{0xFFFFFFF0u, stamp}, true, 5, stamp + 1)) << "(s32)(0xFFFFFFF0 − 5) < 0";
    // SYN without a TS option: EL7/4.4–4.11 reject when the entry is recent (a26552afe894).
    if (r.family == Backported) {
      EXPECT_TRUE(rej(entry, false, 0, stamp + 10)) << "no-TS SYN, recent entry";
      EXPECT_FALSE(rej(entry, false, 0, stamp + 60)) << "no-TS SYN, entry 60 s old";
    }
    if (r.family == Removed) {
      EXPECT_FALSE(rej(entry, false, 0, stamp + 10));
    }
  }
}

}  // namespace
}  // namespace synscope::model::testing
