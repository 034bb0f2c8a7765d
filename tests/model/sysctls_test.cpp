// Sysctl defaults and validation per profile: §6.1, §7, §7.6, §7.7, §9, §10, §12.
#include "core/error.h"
#include "model_test_support.h"

namespace synscope::model::testing {
namespace {

TEST(SysctlsDefaults, PerProfile_S6_1_S9_S10) {
  struct Row {
    const char* profile;
    int somaxconn;        // §6.1: 128 up to 5.3, 4096 from 5.4
    int linear_timeouts;  // §9: tcp_syn_linear_timeouts default 4 on 6.5+ (absent before)
  };
  const Row rows[] = {
      {"3.10", 128, 0},    {"el7", 128, 0},     {"4.4.0", 128, 0},   {"4.4", 128, 0},
      {"4.10.0", 128, 0},  {"4.10", 128, 0},    {"4.12", 128, 0},    {"5.4", 4096, 0},
      {"6.5", 4096, 4},    {"6.13", 4096, 4},   {"6.18", 4096, 4},   {"7.0", 4096, 4},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.profile) + " §6.1 somaxconn, §9 linear timeouts, §10 syncookies");
    auto s = Sysctls::defaults_for(P(r.profile));
    EXPECT_EQ(s.somaxconn, r.somaxconn);
    EXPECT_EQ(s.get("net.core.somaxconn"), r.somaxconn);
    if (r.linear_timeouts) {
      EXPECT_EQ(s.tcp_syn_linear_timeouts, r.linear_timeouts);
    }
    EXPECT_EQ(s.tcp_syncookies, 1) << "§10 default 1";
    EXPECT_EQ(s.tcp_syn_retries, 6) << "§9 TCP_SYN_RETRIES";
    EXPECT_EQ(s.tcp_synack_retries, 5) << "§5.3 TCP_SYNACK_RETRIES";
    EXPECT_EQ(s.tcp_tw_recycle, 0) << "§7 default off";
    EXPECT_EQ(s.tcp_abort_on_overflow, 0) << "§5.2 default 0";
    EXPECT_EQ(s.tcp_timestamps, 1);
  }
}

TEST(SysctlsDefaults, TwReuse_S7_6) {
  // §7.6: default 0 in ≤ 4.14; 5.10 (and later) default 2 (loopback only).
  for (const char* name : {"3.10", "el7", "4.4.0", "4.4", "4.10.0", "4.10", "4.12"}) {
    SCOPED_TRACE(std::string(name) + " §7.6 tw_reuse default 0");
    EXPECT_EQ(Sysctls::defaults_for(P(name)).tcp_tw_reuse, 0);
  }
  for (const char* name : {"6.5", "6.13", "6.18", "7.0"}) {
    SCOPED_TRACE(std::string(name) + " §7.6 tw_reuse default 2");
    EXPECT_EQ(Sysctls::defaults_for(P(name)).tcp_tw_reuse, 2);
  }
}

TEST(SysctlsSet, TwRecycleRemovedIn412_PerProfile_S7_7_S12) {
  struct Row {
    const char* profile;
    bool has_tw_recycle;  // §1/§7/§12: present ≤ 4.11, removed in 4.12
  };
  const Row rows[] = {
      {"3.10", true},  {"el7", true},   {"4.4.0", true}, {"4.4", true},   {"4.10.0", true}, {"4.10", true},
      {"4.12", false}, {"5.4", false},  {"6.5", false},  {"6.13", false}, {"6.18", false},  {"7.0", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.profile) + " §7.7 4396e46187ca removed tcp_tw_recycle in 4.12");
    const auto& p = P(r.profile);
    auto s = Sysctls::defaults_for(p);
    if (r.has_tw_recycle) {
      EXPECT_NO_THROW(s.set(p, "tcp_tw_recycle", 1));
      EXPECT_EQ(s.get("tcp_tw_recycle"), 1);
      EXPECT_NO_THROW(s.set(p, "net.ipv4.tcp_tw_recycle", 0));
      EXPECT_EQ(s.tcp_tw_recycle, 0);
    } else {
      for (const char* n : {"tcp_tw_recycle", "net.ipv4.tcp_tw_recycle"}) {
        try {
          s.set(p, n, 1);
          ADD_FAILURE() << "setting " << n << " on " << r.profile << " did not throw";
        } catch (const UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("removed in 4.12"), std::string::npos) << e.what();
        }
      }
      EXPECT_THROW(s.set_assignment(p, "net.ipv4.tcp_tw_recycle=1"), UsageError);
      EXPECT_EQ(s.tcp_tw_recycle, 0);
    }
  }
}

TEST(SysctlsSet, Syncookies2_PerProfile_S10) {
  // §10: tcp_syncookies=2 not in 3.10 mainline, present in EL7 and 4.4+.
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §10 tcp_syncookies=2");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    if (name == "3.10") {
      EXPECT_THROW(s.set(p, "tcp_syncookies", 2), UsageError);
      EXPECT_EQ(s.tcp_syncookies, 1) << "value unchanged after a rejected set";
    } else {
      EXPECT_NO_THROW(s.set(p, "net.ipv4.tcp_syncookies", 2));
      EXPECT_EQ(s.tcp_syncookies, 2);
    }
    EXPECT_NO_THROW(s.set(p, "tcp_syncookies", 0));
    EXPECT_EQ(s.tcp_syncookies, 0);
    EXPECT_THROW(s.set(p, "tcp_syncookies", 3), UsageError);
  }
}

TEST(SysctlsSet, SynLinearTimeoutsOnlyFrom65_S9_S12) {
  // §9/§12: tcp_syn_linear_timeouts exists from 6.5.
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §12 tcp_syn_linear_timeouts (6.5+)");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    bool has = name == "6.5" || name == "6.13" || name == "6.18" || name == "7.0";
    if (has) {
      EXPECT_NO_THROW(s.set(p, "net.ipv4.tcp_syn_linear_timeouts", 2));
      EXPECT_EQ(s.tcp_syn_linear_timeouts, 2);
    } else {
      EXPECT_THROW(s.set(p, "net.ipv4.tcp_syn_linear_timeouts", 2), UsageError);
    }
  }
}

TEST(SysctlsSet, UnknownRejectedAndPrefixesAccepted_S12) {
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §12 sysctl names");
    const auto& p = find_profile(name);
    auto s = Sysctls::defaults_for(p);
    EXPECT_THROW(s.set(p, "tcp_no_such_thing", 1), UsageError);
    EXPECT_THROW(s.set(p, "net.ipv4.tcp_no_such_thing", 1), UsageError);
    EXPECT_THROW(s.set_assignment(p, "net.ipv4.tcp_bogus=1"), UsageError);
    EXPECT_THROW(s.set_assignment(p, "tcp_syncookies"), UsageError) << "no '='";
    EXPECT_THROW(s.set_assignment(p, "tcp_syncookies=abc"), UsageError) << "not an integer";

    s.set(p, "net.ipv4.tcp_abort_on_overflow", 1);
    EXPECT_EQ(s.tcp_abort_on_overflow, 1);
    EXPECT_EQ(s.get("net.ipv4.tcp_abort_on_overflow"), 1);
    s.set(p, "net.ipv4.tcp_max_syn_backlog", 2048);
    EXPECT_EQ(s.get("tcp_max_syn_backlog"), 2048);
    s.set(p, "net.core.somaxconn", 1024);
    EXPECT_EQ(s.somaxconn, 1024);
    s.set(p, "somaxconn", 512);
    EXPECT_EQ(s.get("net.core.somaxconn"), 512);
    s.set_assignment(p, "net.ipv4.tcp_syn_retries=2");
    EXPECT_EQ(s.tcp_syn_retries, 2);
    s.set_assignment(p, "tcp_synack_retries=3");
    EXPECT_EQ(s.tcp_synack_retries, 3);
  }
}

}  // namespace
}  // namespace synscope::model::testing
