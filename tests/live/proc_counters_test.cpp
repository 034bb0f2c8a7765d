// /proc/net/netstat and /proc/net/snmp are parsed by header name: fields added, removed or
// reordered between kernels (fact sheet §4) change nothing; damaged files give one-line errors.
#include <gtest/gtest.h>

#include "core/error.h"
#include "live/proc_counters.h"
#include "support/process.h"

namespace synscope::live {
namespace {

constexpr const char* kNetstat =
    "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPReqQFullDrop\n"
    "TcpExt: 1 2 30 40 5\n"
    "IpExt: InNoRoutes InOctets\n"
    "IpExt: 0 123456789012\n";
constexpr const char* kSnmp =
    "Tcp: RtoAlgorithm MaxConn ActiveOpens\n"
    "Tcp: 1 -1 7\n";

TEST(ProcCounters, ParsesByHeaderName) {
  auto t = parse_counter_text(kNetstat, "netstat");
  ASSERT_NE(t.find("TcpExt", "ListenOverflows"), nullptr);
  EXPECT_EQ(t.find("TcpExt", "ListenOverflows")->value, 30);
  EXPECT_EQ(t.find("IpExt", "InOctets")->value, 123456789012);
  EXPECT_EQ(t.find("TcpExt", "PAWSPassive"), nullptr);
  auto s = parse_counter_text(kSnmp, "snmp");
  EXPECT_EQ(s.find("Tcp", "MaxConn")->value, -1);
}

TEST(ProcCounters, FieldsAddedRemovedAndReorderedKeepTheirValues) {
  // Reordered, PAWSPassive added (a 4.11 kernel), TCPReqQFullDrop removed, an unknown field added.
  constexpr const char* other =
      "IpExt: InOctets InNoRoutes\n"
      "IpExt: 123456789012 0\n"
      "TcpExt: ListenDrops BrandNewCounter PAWSPassive ListenOverflows SyncookiesRecv SyncookiesSent\n"
      "TcpExt: 40 99 6 30 2 1\n";
  auto a = parse_counter_sample(kNetstat, kSnmp, 0);
  auto b = parse_counter_sample(other, kSnmp, 1);
  for (auto name : {"ListenOverflows", "ListenDrops", "SyncookiesSent", "SyncookiesRecv"})
    EXPECT_EQ(a.get("TcpExt", name), b.get("TcpExt", name)) << name;
  EXPECT_EQ(b.get("TcpExt", "BrandNewCounter"), 99);  // unknown fields kept
  EXPECT_EQ(b.get("TcpExt", "PAWSPassive"), 6);
  EXPECT_FALSE(b.get("TcpExt", "TCPReqQFullDrop").has_value());

  auto changes = diff_samples(a, b);
  bool saw_removed = false, saw_new = false;
  for (const auto& c : changes) {
    if (c.name == "TCPReqQFullDrop") {
      saw_removed = true;
      EXPECT_TRUE(c.before.has_value());
      EXPECT_FALSE(c.after.has_value());
      EXPECT_EQ(c.delta(), 0);
    }
    if (c.name == "BrandNewCounter") saw_new = !c.before && c.after == 99;
  }
  EXPECT_TRUE(saw_removed);
  EXPECT_TRUE(saw_new);
}

TEST(ProcCounters, DamagedFilesGiveOneLineErrors) {
  auto message = [](const std::string& text) {
    try {
      parse_counter_text(text, "netstat.1");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("TcpExt: A B C\nTcpExt: 1 2\n"), "netstat.1 line 2: TcpExt has 3 field names but 2 values");
  EXPECT_EQ(message("TcpExt: A B\nTcpExt: 1 2 3\n"), "netstat.1 line 2: TcpExt has 2 field names but 3 values");
  EXPECT_EQ(message("TcpExt: A B\nTcpExt: 1 2\nIpExt: X\n"), "netstat.1: 3 lines, expected header/value pairs (truncated?)");
  EXPECT_EQ(message("TcpExt: A B\nIpExt: 1 2\n"), "netstat.1 line 2: values of 'TcpExt:' missing");
  EXPECT_EQ(message("TcpExt: A B\nTcpExt: 1 x\n"), "netstat.1 line 2: TcpExt B = 'x' is not a number");
  EXPECT_EQ(message(""), "netstat.1: empty counter file");
  EXPECT_EQ(message("garbage\nmore\n"), "netstat.1 line 1: expected 'Group: Field …'");
}

TEST(ProcCounters, ThisKernelsFilesParse) {
  auto s = parse_counter_sample(testing::read_file("/proc/net/netstat"), testing::read_file("/proc/net/snmp"), 0);
  EXPECT_TRUE(s.get("TcpExt", "ListenOverflows").has_value());
  EXPECT_TRUE(s.get("Tcp", "ActiveOpens").has_value());
}

}  // namespace
}  // namespace synscope::live
