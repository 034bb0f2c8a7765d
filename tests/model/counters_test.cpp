// Counter output formats: nstat (`#kernel`, `%-32s%-16llu%6.1f`) and net-tools `netstat -s`
// sentences (fact sheet §4, §15.8).
#include <cstdio>
#include <sstream>

#include "model_test_support.h"

namespace synscope::model::testing {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
bool has_line(const std::string& text, const std::string& want) {
  for (const auto& l : lines_of(text))
    if (trim(l) == want) return true;
  return false;
}
std::string nstat_line(const char* name, unsigned long long v) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%-32s%-16llu%6.1f", name, v, 0.0);
  return buf;
}

TEST(CountersNstat, Format_S4) {
  // §4: nstat prints `TcpExtName`; format "%-32s%-16llu%6.1f" under a "#kernel" header; zero
  // counters are not printed.
  CounterSet c;
  c.add(Counter::ListenDrops, 3);
  c.add(Counter::ListenOverflows, 3);
  c.add(Counter::TCPReqQFullDrop, 12);
  c.add(Counter::PassiveOpens, 1);
  auto text = c.nstat_text();
  auto lines = lines_of(text);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "#kernel");
  auto contains = [&](const std::string& l) { return std::find(lines.begin(), lines.end(), l) != lines.end(); };
  EXPECT_TRUE(contains(nstat_line("TcpExtListenDrops", 3))) << text;
  EXPECT_TRUE(contains(nstat_line("TcpExtListenOverflows", 3))) << text;
  EXPECT_TRUE(contains(nstat_line("TcpExtTCPReqQFullDrop", 12))) << text;
  EXPECT_TRUE(contains(nstat_line("TcpPassiveOpens", 1))) << text;
  EXPECT_EQ(lines.size(), 5u) << "only the non-zero counters:\n" << text;
  // Exact column layout of one line: name padded to 32, value padded to 16, rate width 6.
  std::string ld = "TcpExtListenDrops";
  std::string expect = ld + std::string(32 - ld.size(), ' ') + "3" + std::string(15, ' ') + "   0.0";
  EXPECT_TRUE(contains(expect)) << text;
  EXPECT_EQ(nstat_name(Counter::ListenDrops), "TcpExtListenDrops");
  EXPECT_EQ(nstat_name(Counter::PAWSPassive), "TcpExtPAWSPassive");
  EXPECT_EQ(nstat_name(Counter::ActiveOpens), "TcpActiveOpens");
}

TEST(CountersNstat, EmptySetPrintsOnlyHeader_S4) {
  CounterSet c;
  EXPECT_EQ(lines_of(c.nstat_text()), std::vector<std::string>{"#kernel"});
}

// §4 table, per net-tools wording.
TEST(CountersNetstat, Sentences_S4) {
  struct Row {
    Counter counter;
    const char* v2_10;  // net-tools ≥ 2003-02-12 (2.10)
    const char* v1_60;  // net-tools 1.60
  };
  const Row rows[] = {
      {Counter::ListenOverflows, "7 times the listen queue of a socket overflowed",
       "7 times the listen queue of a socket overflowed"},
      {Counter::ListenDrops, "7 SYNs to LISTEN sockets dropped", "7 SYNs to LISTEN sockets ignored"},
      {Counter::PAWSPassive, "7 passive connections rejected because of time stamp",
       "7 passive connections rejected because of time stamp"},
      {Counter::PAWSActive, "7 active connections rejected because of time stamp",
       "7 active connections rejected because of time stamp"},
      {Counter::PAWSEstab, "7 packets rejected in established connections because of timestamp",
       "7 packets rejects in established connections because of timestamp"},
      {Counter::SyncookiesSent, "7 SYN cookies sent", "7 SYN cookies sent"},
      {Counter::SyncookiesRecv, "7 SYN cookies received", "7 SYN cookies received"},
      {Counter::SyncookiesFailed, "7 invalid SYN cookies received", "7 invalid SYN cookies received"},
      {Counter::EmbryonicRsts, "7 resets received for embryonic SYN_RECV sockets",
       "7 resets received for embryonic SYN_RECV sockets"},
      // §4 notes: net-tools' TW/TWKilled sentences are swapped relative to the kernel.
      {Counter::TW, "7 TCP sockets finished time wait in fast timer", "7 TCP sockets finished time wait in fast timer"},
      {Counter::TWKilled, "7 TCP sockets finished time wait in slow timer",
       "7 TCP sockets finished time wait in slow timer"},
      {Counter::TWRecycled, "7 time wait sockets recycled by time stamp", "7 time wait sockets recycled by time stamp"},
      // §4: TCPTimeouts has a sentence in 2.10 but none ("—") in 1.60 ⇒ printed raw there.
      {Counter::TCPTimeouts, "7 other TCP timeouts", "TCPTimeouts: 7"},
      // §4: raw `Name: value` lines for fields net-tools has no sentence for.
      {Counter::TCPReqQFullDrop, "TCPReqQFullDrop: 7", "TCPReqQFullDrop: 7"},
      {Counter::TCPReqQFullDoCookies, "TCPReqQFullDoCookies: 7", "TCPReqQFullDoCookies: 7"},
      {Counter::TCPSynRetrans, "TCPSynRetrans: 7", "TCPSynRetrans: 7"},
      {Counter::TCPACKSkippedSynRecv, "TCPACKSkippedSynRecv: 7", "TCPACKSkippedSynRecv: 7"},
      {Counter::TCPTimeWaitOverflow, "TCPTimeWaitOverflow: 7", "TCPTimeWaitOverflow: 7"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string("§4 ") + std::string(counter_info(r.counter).field));
    CounterSet c;
    c.add(r.counter, 7);
    auto t210 = c.netstat_text(NetToolsWording::V2_10);
    auto t160 = c.netstat_text(NetToolsWording::V1_60);
    EXPECT_TRUE(has_line(t210, r.v2_10)) << "net-tools 2.10 output:\n" << t210;
    EXPECT_TRUE(has_line(t160, r.v1_60)) << "net-tools 1.60 output:\n" << t160;
    EXPECT_TRUE(has_line(t210, "TcpExt:")) << t210;
    EXPECT_EQ(lines_of(t210).size(), 2u) << "header + one sentence:\n" << t210;
  }
}

TEST(CountersNetstat, OnlyNonZeroAndDefaultWordingIs210_S4_S15_8) {
  // §4: sentences only if non-zero; §15.8: "ignored" vs "dropped" depends on net-tools age.
  CounterSet c;
  EXPECT_EQ(c.netstat_text(), "");
  c.add(Counter::ListenDrops, 2);
  c.add(Counter::TCPReqQFullDrop, 2);
  auto t = c.netstat_text();
  EXPECT_TRUE(has_line(t, "2 SYNs to LISTEN sockets dropped")) << t;
  EXPECT_TRUE(has_line(t, "TCPReqQFullDrop: 2")) << t;
  EXPECT_FALSE(has_line(t, "0 times the listen queue of a socket overflowed")) << t;
  EXPECT_EQ(t.find("ListenOverflows"), std::string::npos) << t;
  EXPECT_EQ(t.find("overflowed"), std::string::npos) << t;
}

TEST(CountersSet, DeltaAndPawsPassivePresence_S4) {
  CounterSet a, b;
  a.add(Counter::ListenDrops, 2);
  b = a;
  b.add(Counter::ListenDrops, 3);
  b.add(Counter::PAWSPassive, 1);
  auto d = b - a;
  EXPECT_EQ(d[Counter::ListenDrops], 3u);
  EXPECT_EQ(d[Counter::PAWSPassive], 1u);
  EXPECT_TRUE(d.any());
  EXPECT_FALSE((a - a).any());
  // §4: PAWSPassive removed in 4.12 (field disappears).
  for (const auto& name : all_profile_names()) {
    SCOPED_TRACE(name + " §4 PAWSPassive removed in 4.12");
    bool has = name == "3.10" || name == "el7" || name == "4.4.0" || name == "4.4" || name == "4.10.0" || name == "4.10";
    EXPECT_EQ(profile_has_counter(find_profile(name), Counter::PAWSPassive), has);
    EXPECT_TRUE(profile_has_counter(find_profile(name), Counter::ListenDrops));
  }
}

}  // namespace
}  // namespace synscope::model::testing
