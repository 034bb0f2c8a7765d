#pragma once
// A connection attempt as a capture shows it: one client ISN towards one server endpoint, every
// transmission of its SYN, what (if anything) answered, and — once diagnosed — why it failed or was
// late. Produced by analyze/attempt_tracker.h, diagnosed by analyze/diagnose.h.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capture/packet.h"
#include "core/time.h"

namespace synscope::analyze {

using capture::IpAddress;
using capture::PacketEndpoint;

// What became of the attempt, as far as the capture shows.
enum class Outcome : std::uint8_t {
  Established,         // SYN-ACK, then the client's ACK; the server carried on
  AckIgnored,          // SYN-ACK'd, the client ACKed, the server kept re-sending its SYN-ACK (§5.2)
  ResetAfterAck,       // the server answered the client's final ACK with RST (tcp_abort_on_overflow, §5.2)
  Refused,             // RST in answer to the SYN (§2 step 3: no listener, or a REJECT rule)
  Unreachable,         // an ICMP error quoting the SYN
  Unanswered,          // SYN(s) and no answer at all
  SynAckUnacked,       // the server answered but the client never completed (scanner, spoofed source)
  CompletedUnseen,     // no SYN-ACK in the capture, yet the client went on as if it had one (one-sided capture)
  CaptureEnded,        // the capture stopped before an answer could be expected
};
constexpr std::size_t kOutcomeCount = 9;
std::string_view to_string(Outcome o);  // "established", "ack-ignored", ...
// An attempt that failed, as opposed to one that worked or that the capture cannot judge.
bool is_failure(Outcome o);

// How the client spaced its SYN retransmissions (§9).
enum class Schedule : std::uint8_t {
  Single,                // only one SYN
  LinuxExponential,      // 1, 2, 4, 8 … s (initial RTO 1 s, §9)
  LinearThenExponential, // 1, 1, 1, 1, 1, 2, 4 … s (Linux ≥ 6.5 tcp_syn_linear_timeouts, also macOS)
  Exponential3s,         // 3, 6, 12 … s (Windows; Linux before RFC 6298, §9)
  Constant,              // the same gap again and again (application-level retry timers, some stacks)
  Irregular,             // anything else
};
constexpr std::size_t kScheduleCount = 6;
std::string_view to_string(Schedule s);     // "linux-1-2-4", ...
std::string_view describe(Schedule s);      // "Linux exponential backoff (1 s, 2 s, 4 s …)"

// The causes the analyzer can name, ranked by how specific the evidence is.
enum class CauseKind : std::uint8_t {
  PerHostPaws,         // §7.3: tw_recycle per-host PAWS
  AcceptQueueFull,     // §3.1 step 3 / §5.2: accept queue full (SYN dropped or final ACK ignored)
  AbortOnOverflow,     // §5.2: tcp_abort_on_overflow=1 answered the final ACK with RST
  SynQueueFull,        // §3.1 step 2 / §6 (and step 7b): SYN queue full, no cookies
  NoListener,          // §2 step 3: RST to the SYN
  Filtered,            // ICMP unreachable / administratively prohibited
  SilentHost,          // the server sent nothing at all in the capture
  SilentPort,          // the server answers other ports, never this one
  PacketLoss,          // a SYN or SYN-ACK went missing once and the retransmission worked
  Unexplained,         // failed, and nothing in the capture says why
};
constexpr std::size_t kCauseCount = 10;
std::string_view to_string(CauseKind c);   // stable id: "per-host-paws", ...
std::string_view title(CauseKind c);       // "per-host PAWS (tcp_tw_recycle + timestamps)"
std::string_view section(CauseKind c);     // fact-sheet section, "" when none applies

struct Cause {
  CauseKind kind = CauseKind::Unexplained;
  double confidence = 0;            // 0..1: how sure the evidence makes us
  std::vector<std::string> evidence;  // facts from the capture, most telling first
};

// One SYN transmission. (24 bytes: every open flow carries eight of these.)
struct SynSend {
  WallTime at{};
  std::uint64_t frame = 0;
  std::uint32_t ts = 0;      // TSval, when has_ts
  bool has_ts = false;
  bool answered = false;     // a SYN-ACK/RST/ICMP followed before the next transmission
  std::optional<std::uint32_t> tsval() const { return has_ts ? std::optional<std::uint32_t>(ts) : std::nullopt; }
};

// The server's SYN-ACK as first seen.
struct SynAckInfo {
  WallTime at{};
  std::uint64_t frame = 0;
  std::uint32_t isn = 0;
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;
  bool sack_ok = false;
  std::optional<std::uint32_t> tsval;
  bool cookie = false;               // recognised as a SYN cookie (§10)
  bool cookie_by_ts_bits = false;    // …by the options in the TSval's low 6 bits (else: never re-sent, like its port's others)
};

// §7.1–§7.3: the server closed an earlier connection with the client's address first (active
// close); with tcp_tw_recycle its tcp_metrics entry then holds the last TSval it got from that address.
struct PeerMemory {
  WallTime closed_at{};              // when the close completed (the peer's FIN, else the server's)
  std::uint64_t frame = 0;           // the server's FIN
  PacketEndpoint server_side, peer_side;  // that earlier connection
  std::uint32_t peer_tsval = 0;      // last TSval the server received from the peer on it
};

struct Attempt {
  std::uint64_t id = 0;              // 1-based, in order of first SYN
  PacketEndpoint client, server;
  std::uint32_t isn = 0;
  std::array<SynSend, 8> syn_buf{};   // the first 8 transmissions (syn_count has the total)
  std::uint32_t syn_count = 0;
  std::uint32_t duplicate_syns = 0;
  Schedule schedule = Schedule::Single;
  std::optional<SynAckInfo> synack;
  std::uint32_t synack_count = 0;    // SYN-ACK transmissions seen (retransmissions included)
  std::uint32_t synacks_after_ack = 0;  // SYN-ACKs re-sent after the client's ACK (final ACK ignored)
  std::optional<WallTime> client_ack_at;
  std::optional<WallTime> established_at;
  std::optional<WallTime> answer_at;  // first answer of any kind (SYN-ACK, RST, ICMP)
  std::optional<std::string> icmp;    // "port unreachable from 10.0.0.1"
  std::uint32_t rsts = 0;             // RSTs from the server in answer to a SYN of this attempt
  Outcome outcome = Outcome::Unanswered;
  bool retried = false;              // at least one SYN retransmission (not counting duplicates)
  // Which TS clock behind the client's address its first SYN fell on (TsClock::id, 1-based; 0: no
  // TSval). Sits in what was padding, so attempts do not grow.
  std::uint16_t ts_clock = 0;
  std::vector<Cause> causes;         // ranked, most likely first; empty for attempts that just worked

  // The half-open requests and recent overload signs on the server's port when the SYNs came
  // (filled by the tracker for the diagnosis).
  std::uint32_t half_open_at_syn = 0;     // highest count of SYN-ACK'd, un-ACKed attempts seen at a SYN
  std::uint32_t idle_children_at_syn = 0; // connections on the port with a completed handshake and no
                                          // word from the server yet (not accept()ed?), at the last SYN
  double port_quiet_at_syn = -1;          // seconds since the port last answered a new SYN (-1: never)
  std::optional<PeerMemory> server_memory; // the newest such memory when a SYN of this attempt came
  std::uint32_t client_ts_clocks = 0;     // TS clocks seen behind the client's address so far
  // Filled when the attempt is finished, from what the capture showed around it:
  bool port_ack_ignored_near = false;     // the server port ignored another final ACK within ±10 s
  bool port_cookies_near = false;         // the server port sent SYN cookies within ±10 s
  bool port_ever_answered = false;        // the server port answered some attempt (SYN-ACK or RST)
  bool host_ever_spoke = false;           // the server's address sent anything at all

  static constexpr std::size_t kMaxSyns = 8;
  std::size_t kept_syns() const { return syn_count < kMaxSyns ? syn_count : kMaxSyns; }
  const SynSend* syns_begin() const { return syn_buf.data(); }
  const SynSend* syns_end() const { return syn_buf.data() + kept_syns(); }
  const SynSend& last_syn() const { return syn_buf[kept_syns() - 1]; }
  WallTime first_syn() const { return syn_buf[0].at; }
  // Worked, but only after a SYN retransmission or an ignored final ACK.
  bool delayed() const { return outcome == Outcome::Established && (retried || synacks_after_ack > 0); }
  std::optional<Duration> time_to_established() const {
    if (!established_at) return std::nullopt;
    return Duration{established_at->unix_ns - first_syn().unix_ns};
  }
};

}  // namespace synscope::analyze
