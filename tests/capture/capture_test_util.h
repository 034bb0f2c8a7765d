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

// A fresh directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "synscope-capture-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `command` through the shell; stdout via popen, stderr via a temporary file.
inline CommandResult run_command(const std::string& command, const TempDir& dir) {
  CommandResult r;
  const std::string err_path = dir.file("stderr.txt");
  FILE* p = popen((command + " 2>'" + err_path + "'").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + command);
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_path);
  return r;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

inline bool have_tool(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace synscope::capture::testing
