#pragma once
// Prints segments the way `TZ=UTC tcpdump -nn -r file.pcap` prints Ethernet/IPv4/TCP frames, one
// line per segment, so simulated captures can be read (and diffed) against the seed's printouts.
// Every rule here was checked against tcpdump 4.99.3 by tests/capture/tcpdump_text_test.cpp.
#include <cstdint>
#include <string>
#include <unordered_map>

#include "core/segment.h"
#include "core/time.h"

namespace synscope::capture {

struct TcpdumpStyle {
  // -tttt: "2019-06-03 22:45:10.015335" instead of "22:45:10.015335".
  bool date_time = false;
  // Ports by service name ("10.85.3.51.ssh"), as tcpdump prints them when run without -nn (4.99's
  // -n keeps them numeric too, so: without any -n). Only ports: tcpdump would also look host
  // names up (DNS, /etc/hosts); we always print addresses.
  bool service_names = false;
  // -S: absolute sequence numbers everywhere (no per-conversation table).
  bool absolute_seq = false;
  // The one-line application summaries tcpdump 4.99 appends after "length N" (": SSH: SSH-2.0-..."
  // for an SSH version line, ": HTTP" for zero-filled data on port 80, ...). The seed's printouts
  // come from an older tcpdump that shows a 21-byte SSH banner as plain "length 21"; set this to
  // false to reproduce them. Emulated: SSH version lines, and zero-filled data on the ports whose
  // dissector then prints a constant (see tcpdump_text.cpp); real text on other ports (an HTTP
  // request, an FTP banner) would need tcpdump's text-protocol parsers and is not reproduced.
  bool app_summaries = true;
};

class TcpdumpFormatter {
 public:
  explicit TcpdumpFormatter(TcpdumpStyle style = {}) : style_(style) {}

  // One line, without the trailing newline. Stateful: the first segment of a conversation that
  // carries ACK (or any SYN+ACK) becomes its reference for relative sequence numbers, exactly as
  // in tcpdump, so feed segments in capture order.
  std::string format(const Segment& segment, WallTime when);
  // Appends the line (no newline) to `out`; lets a caller reuse one buffer for a whole capture.
  void append(std::string& out, const Segment& segment, WallTime when);
  // Forgets every conversation (as if tcpdump were restarted).
  void reset() { conversations_.clear(); }

  const TcpdumpStyle& style() const { return style_; }

 private:
  // tcpdump's conversation key: the two addresses in a fixed order plus the ports in the matching
  // order, so both directions find the same entry.
  struct Key {
    std::uint32_t lo_addr, hi_addr;
    std::uint32_t ports;  // port of lo_addr << 16 | port of hi_addr
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  // Initial sequence numbers: `lo_seq` for the lo side's data, `hi_seq` for the hi side's.
  struct Reference {
    std::uint32_t lo_seq, hi_seq;
  };

  void append_endpoint(std::string& out, const Endpoint& e) const;
  void append_time(std::string& out, WallTime when);

  TcpdumpStyle style_;
  std::unordered_map<Key, Reference, KeyHash> conversations_;
  // The time stamp up to the seconds changes rarely between packets: cache it (gmtime is slow).
  std::int64_t cached_second_ = -1;
  std::string cached_prefix_;
};

}  // namespace synscope::capture
