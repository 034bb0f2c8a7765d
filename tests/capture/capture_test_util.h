#pragma once
// Helpers for the capture tests: building segments tersely, temporary directories, and running the
// real tcpdump/tshark binaries (the authority on what our formatter and writer must produce).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/segment.h"
#include "support/process.h"
#include "core/time.h"

namespace synscope::capture::testing {

inline Endpoint ep(const char* text) {
  auto e = Endpoint::parse(text);
  if (!e) throw std::invalid_argument(std::string("bad endpoint ") + text);
  return *e;
}

// Linux's SYN / SYN-ACK option list: mss, sackOK, TS, nop, wscale (20 bytes).
inline TcpOptions linux_syn_options(std::uint16_t mss, std::uint32_t tsval, std::uint32_t tsecr, std::uint8_t wscale) {
  TcpOptions o;
  o.mss(mss);
  o.sack_ok();
  o.timestamp(tsval, tsecr);
  o.nop();
  o.wscale(wscale);
  return o;
}
// Linux's option list on established segments: nop, nop, TS (12 bytes).
inline TcpOptions ts_options(std::uint32_t tsval, std::uint32_t tsecr) {
  TcpOptions o;
  o.nop();
  o.nop();
  o.timestamp(tsval, tsecr);
  return o;
}

inline Segment make_segment(const char* src, const char* dst, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                            std::uint16_t window, TcpOptions options = {}, std::uint32_t payload_len = 0) {
  Segment s;
  s.src = ep(src);
  s.dst = ep(dst);
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.window = window;
  s.options = options;
  s.payload_len = payload_len;
  return s;
}

// "2019-06-03 22:45:10.015335" -> WallTime; the seed's capture date.
inline WallTime at(const std::string& text) {
  WallTime t;
  if (!parse_date_time(text, t)) throw std::invalid_argument("bad time " + text);
  return t;
}

using synscope::testing::CommandResult;
using synscope::testing::have_tool;
using synscope::testing::read_file;
using synscope::testing::run_command;
using synscope::testing::split_lines;
using synscope::testing::TempDir;

}  // namespace synscope::capture::testing
