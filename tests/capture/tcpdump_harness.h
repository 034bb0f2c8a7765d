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
// host names (private test addresses have none); the empty network namespace keeps that local.
inline std::vector<std::string> run_tcpdump(const TempDir& dir, const std::string& pcap, const std::string& flags) {
  // Run inside a fresh, empty network namespace: without -n tcpdump resolves host names, and those
  // look-ups must fail locally instead of leaving the machine (tests only talk to their own namespaces).
  auto r = run_command("TZ=UTC unshare --net tcpdump " + flags + " -r '" + pcap + "'", dir);
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.err, "reading from file " + pcap + ", link-type EN10MB (Ethernet), snapshot length 262144\n");
  return split_lines(r.out);
}

// The core check: tcpdump's lines == the formatter's lines, reporting the first few differences.
inline void expect_same_as_tcpdump(const std::vector<Packet>& packets, TcpdumpStyle style, const std::string& flags) {
  ASSERT_TRUE(have_tool("tcpdump")) << "tcpdump not installed: run scripts/setup.sh";
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
