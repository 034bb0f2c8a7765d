#pragma once
// Writes packets to a pcap, runs the real tcpdump on it and compares every line with
// TcpdumpFormatter's output for the same packets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "capture/pcap_writer.h"
#include "capture/tcpdump_text.h"
#include "capture_test_util.h"

namespace synscope::capture::testing {

struct Packet {
  Segment segment;
  WallTime when;
};

inline std::vector<std::string> format_all(const std::vector<Packet>& packets, TcpdumpStyle style) {
  TcpdumpFormatter f(style);
  std::vector<std::string> lines;
  lines.reserve(packets.size());
  for (const auto& p : packets) lines.push_back(f.format(p.segment, p.when));
  return lines;
}

inline void write_pcap(const std::string& path, const std::vector<Packet>& packets) {
  PcapWriter w(path);
  for (const auto& p : packets) w.write(p.segment, p.when);
}

// Runs `TZ=UTC tcpdump <flags> -r <pcap>` and returns its lines; checks the exit status and that
// stderr holds nothing but the usual "reading from file" notice. Without -n tcpdump asks DNS for
// host names (private test addresses have none); RES_OPTIONS keeps an unreachable resolver from
// stalling the test for long.
inline std::vector<std::string> run_tcpdump(const TempDir& dir, const std::string& pcap, const std::string& flags) {
  auto r = run_command("RES_OPTIONS='timeout:1 attempts:1' TZ=UTC tcpdump " + flags + " -r '" + pcap + "'", dir);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.err, "reading from file " + pcap + ", link-type EN10MB (Ethernet), snapshot length 262144\n");
  return split_lines(r.out);
}

// The core check: tcpdump's lines == the formatter's lines, reporting the first few differences.
inline void expect_same_as_tcpdump(const std::vector<Packet>& packets, TcpdumpStyle style, const std::string& flags) {
  if (!have_tool("tcpdump")) GTEST_SKIP() << "tcpdump not installed";
  TempDir dir;
  const std::string pcap = dir.file("capture.pcap");
  write_pcap(pcap, packets);
  const auto expected = run_tcpdump(dir, pcap, flags);
  const auto actual = format_all(packets, style);
  ASSERT_EQ(expected.size(), packets.size()) << "tcpdump printed a different number of lines";
  int reported = 0;
  for (std::size_t i = 0; i < expected.size() && reported < 10; ++i) {
    if (expected[i] != actual[i]) {
      ++reported;
      ADD_FAILURE() << "packet " << i << " (tcpdump " << flags << ")\n tcpdump: " << expected[i]
                    << "\n   ours:  " << actual[i];
    }
  }
}

}  // namespace synscope::capture::testing
