// Findings from snapshots of kernels this machine is not (EL7 with tcp_tw_recycle, 4.19 with
// listen(fd, 0)): the same code path `doctor --from` uses for a bundle from another host.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include "live/findings.h"

namespace synscope::live {
namespace {

// Two samples 10 s apart whose TcpExt fields are `names` with values `before` / `after`.
HostSnapshot snapshot(const std::string& release, const std::string& names, const std::string& before,
                      const std::string& after) {
  HostSnapshot s;
  s.origin = "test";
  s.release = release;
  const std::string snmp = "Tcp: ActiveOpens PassiveOpens\nTcp: 100 100\n";
  s.samples.push_back(parse_counter_sample("TcpExt: " + names + "\nTcpExt: " + before + "\n", snmp, 100));
  s.samples.push_back(parse_counter_sample("TcpExt: " + names + "\nTcpExt: " + after + "\n", snmp, 110));
  return s;
}

const Finding* find(const Diagnosis& d, std::string_view id) {
  for (const auto& f : d.findings)
    if (f.id == id) return &f;
  return nullptr;
}

TEST(Findings, TwRecycleWithPawsPassiveMovingIsCritical) {
  auto s = snapshot("3.10.0-1160.el7.x86_64", "PAWSPassive ListenDrops ListenOverflows", "10 10 0", "16 16 0");
  s.sysctls = {{"net.ipv4.tcp_tw_recycle", 1, ""}, {"net.ipv4.tcp_timestamps", 1, ""}};
  auto d = diagnose(s);
  EXPECT_EQ(d.kernel.profile->name, "el7");
  const auto* f = find(d, "tw-recycle-with-timestamps");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::Critical);
  EXPECT_EQ(f->evidence[2], "PAWSPassive +6 over 10.0 s (0.6/s), total 16");
  EXPECT_EQ(find(d, "listen-drops-other"), nullptr);  // PAWSPassive explains every ListenDrops (§3.8)

  s.samples[1] = s.samples[0];  // not moving: a warning about what NAT clients will see
  s.samples[1].at_seconds = 110;
  d = diagnose(s);
  ASSERT_NE(find(d, "tw-recycle-with-timestamps"), nullptr);
  EXPECT_EQ(find(d, "tw-recycle-with-timestamps")->severity, Severity::Warning);
}

TEST(Findings, ListenBacklogZeroDependsOnTheProfile) {
  auto s = snapshot("4.19.0-25-amd64", "ListenDrops TCPReqQFullDrop", "0 0", "5 5");
  s.sysctls = {{"net.ipv4.tcp_syncookies", 0, ""}};
  Listener l;
  l.family = AF_INET;
  l.address = "0.0.0.0";
  l.port = 7000;
  l.backlog = 0;
  l.owners = {{42, "legacyd"}};
  s.listeners = {l};
  auto d = diagnose(s);
  const auto* f = find(d, "listen-backlog-zero");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::Critical);  // 4.12 profile: Q >= 0 is always full (§6.3)
  EXPECT_EQ(f->title, "listen(fd, 0) on 0.0.0.0:7000, legacyd (pid 42)");
  ASSERT_NE(find(d, "syn-queue-overflow"), nullptr);

  s.release = "6.18.44";  // 6.13+: Q > B, one handshake at a time
  d = diagnose(s);
  EXPECT_EQ(find(d, "listen-backlog-zero")->severity, Severity::Warning);
}

TEST(Findings, SyncookiesFiringAndUnexplainedListenDrops) {
  auto s = snapshot("6.18.44", "SyncookiesSent SyncookiesRecv TCPReqQFullDoCookies ListenDrops ListenOverflows",
                    "0 0 0 0 0", "500 3 500 20 0");
  s.sysctls = {{"net.ipv4.tcp_syncookies", 1, ""}};
  auto d = diagnose(s);
  const auto* c = find(d, "syncookies-firing");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->severity, Severity::Warning);
  const auto* o = find(d, "listen-drops-other");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->title, "20 SYNs dropped at listeners for reasons without their own counter");
  // On EL7 every cookie also counts a ListenDrops (§3.8), so the same numbers are explained there.
  s.release = "3.10.0-1160.el7.x86_64";
  EXPECT_EQ(find(diagnose(s), "listen-drops-other"), nullptr);
}

}  // namespace
}  // namespace synscope::live
