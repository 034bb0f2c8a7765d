#pragma once
// Turns a stream of captured segments into connection attempts (analyze/attempt.h), in one pass,
// with memory bounded by what is still open: every flow is forgotten a fixed capture-time after its
// last packet (longer for half-open handshakes, shorter for closed connections), and finished
// attempts go straight to the sink.
//
// Besides attempts it keeps just what the diagnosis needs:
//   * per server port: half-open requests (SYN-ACK'd, not yet ACKed), the last ignored final ACK and
//     the last SYN cookie (§5.2, §6, §10);
//   * per address pair: the newest active close and the last TSval received from the peer before it
//     (§7.1–§7.3, for per-host PAWS), kept for TCP_PAWS_MSL plus slack;
//   * per client address: the TS clocks behind it (§8), to tell several hosts behind one NAT apart.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "analyze/attempt.h"
#include "capture/capture_reader.h"

namespace synscope::analyze {

struct TrackerOptions {
  Duration unanswered_wait = seconds(70);   // after the last SYN (Linux's longest SYN gap is 64 s, §9)
  Duration synack_wait = seconds(35);       // after the last SYN-ACK of an un-ACKed handshake: the
                                            // longest SYN-ACK timer gap is 32 s (synack_retries 5, §5.3)
  Duration ack_wait = seconds(5);           // after the client's ACK, for a SYN-ACK retransmission (§5.2)
  Duration idle_timeout = seconds(120);     // established connection without packets
  Duration closed_linger = seconds(5);      // after FIN from both sides or a RST
  Duration memory_window = seconds(70);     // per-host PAWS window (TCP_PAWS_MSL 60 s, §7.3) + slack
  Duration dedupe_window = seconds(120);    // a SYN repeating a finished attempt is a duplicate frame
  Duration near = seconds(10);              // "around the same time" for port-level signs
  // A hostile capture (a flood from millions of spoofed sources) must not exhaust memory: at most this
  // many open flows (~1 KB each) are kept; past it the one nearest its expiry is finished early, on
  // what was seen so far (TrackerStats::evicted_flows). The per-address and per-port tables (TS
  // clocks, close memories, finished attempts, server ports and hosts) stop taking new entries at the
  // same size (TrackerStats::state_limited). Both are reported as capture notes.
  std::size_t max_flows = 500'000;
};

// One TS clock behind an address: SYNs whose TSvals advance with capture time at one rate.
struct TsClock {
  WallTime first_at{}, last_at{};
  std::uint32_t first_tsval = 0, last_tsval = 0;
  double rate_hz = 0;          // ticks per second, 0 while unknown
  std::uint32_t attempts = 0;  // attempts whose SYNs fell on this clock
  std::uint32_t id = 0;        // 1-based, in order of appearance behind its address (Attempt::ts_clock)
};

// Does a SYN sent at t (unix ns) with `tsval` continue clock c? TSvals advance at 1 kHz, 250/100 Hz
// (jiffies), or whatever rate the clock has shown (§8). The tracker's rule, public so that other
// views of a capture (the replay's HTML report) separate clocks the same way.
bool continues_ts_clock(const TsClock& c, std::int64_t t, std::uint32_t tsval);

// An address behind which SYNs ran on more than one TS clock.
struct ClockFinding {
  IpAddress addr;
  std::uint32_t attempts = 0;          // attempts from the address
  std::vector<TsClock> clocks;         // in order of first appearance (at most kMaxClocks kept)
  std::uint32_t clock_count = 0;       // total distinct clocks (may exceed clocks.size())
  static constexpr std::size_t kMaxClocks = 16;
};

struct TrackerStats {
  std::uint64_t tcp = 0, icmp = 0;
  std::uint64_t syns = 0;                  // SYN transmissions (duplicates included)
  std::uint64_t duplicate_syns = 0;        // copies of a SYN (same TSval / same instant / repeated capture)
  std::uint64_t attempts = 0;
  std::uint64_t synacks = 0;
  std::uint64_t synack_without_syn = 0;    // handshakes whose SYN is not in the capture (capture started mid-handshake)
  std::uint64_t midstream_flows = 0;       // connections seen without any handshake packet
  std::uint64_t time_backwards = 0;        // frames more than 1 s older than the newest one before them
  std::uint64_t first_backwards_frame = 0;
  std::uint64_t tunnelled = 0;             // TCP records found inside tunnels
  std::uint64_t open_flows_peak = 0;
  std::uint64_t evicted_flows = 0;         // flows finished early because max_flows were open
  std::uint64_t state_limited = 0;         // table entries not made because the table was full
  std::uint64_t max_flows = 0;             // the limit in force (TrackerOptions::max_flows)
  WallTime first{}, last{};
  bool any = false;
};

class AttemptTracker {
 public:
  // Gets every finished attempt; it may move from it (the tracker does not read it again).
  using Sink = std::function<void(Attempt&)>;
  AttemptTracker(TrackerOptions options, Sink sink);
  ~AttemptTracker();
  AttemptTracker(const AttemptTracker&) = delete;
  AttemptTracker& operator=(const AttemptTracker&) = delete;

  void add(const capture::CaptureItem& item);
  // The same, with flow_key(item) computed beforehand (it is needed for prefetch() too).
  void add(const capture::CaptureItem& item, std::uint64_t key);
  static std::uint64_t flow_key(const capture::CaptureItem& item);  // 0 for ICMP
  // Optional hints: the item with this key will be add()ed soon. Starts loading the memory its
  // look-ups will touch, so that a caller running a few packets ahead hides the flow table's cache
  // misses: call it with flow_stage = false when the item is read, and with true a few items later.
  void prefetch(std::uint64_t key, bool flow_stage) const;
  // The same, also for the per-address tables a SYN looks up (finished attempts, close memories,
  // TS clocks).
  void prefetch(const capture::CaptureItem& item, std::uint64_t key, bool flow_stage) const;
  // End of input: every open attempt is finished and sent to the sink.
  void finish();

  const TrackerStats& stats() const;
  std::size_t open_flows() const;
  // Addresses with two or more TS clocks, busiest first.
  std::vector<ClockFinding> clock_findings() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace synscope::analyze
