#pragma once
// One traced handshake segment with the model's prediction for it and what the wire then showed.
// Vocabulary: the model's own (model::Action, model::Rule and its stable id from rule_info(), e.g.
// "accept_queue_full", "syn_queue_full_drop", "final_ack_queue_full"), so that `synscope trace`,
// the simulator, the lab and the doctor name a cause the same way.
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "model/verdict.h"

namespace synscope::live::trace {

// An address as the BPF programs report it: IPv4 in the first 4 bytes, or IPv6.
struct TraceAddr {
  int family = 4;  // 4 or 6
  std::array<std::uint8_t, 16> bytes{};
  std::string str() const;  // "192.0.2.10", "2001:db8::1"
  friend auto operator<=>(const TraceAddr&, const TraceAddr&) = default;
};

struct TraceEndpoint {
  TraceAddr addr;
  std::uint16_t port = 0;  // host order
  std::string str() const;  // "192.0.2.10:8080", "[::1]:8080"
  friend auto operator<=>(const TraceEndpoint&, const TraceEndpoint&) = default;
};

// Which segment of the handshake the event is about.
enum class SegmentKind : std::uint8_t {
  Syn,        // client's SYN (first or retransmitted) arriving at a local port (§2, §3)
  FinalAck,   // ACK for a request in the SYN queue (§5.1), including re-ACKs of re-sent SYN-ACKs
  CookieAck,  // ACK with no request behind it, reaching the listener (§10)
};
std::string_view to_string(SegmentKind k);

// How the prediction fared against what left the host.
enum class Confirmation : std::uint8_t {
  Pending,       // still inside the confirmation window
  Confirmed,     // the wire showed what the model predicted
  Contradicted,  // it showed something else: reported, never hidden
  NotJudged,     // the model does not predict this case exactly (TIME_WAIT SYN, segment to an established socket)
};
std::string_view to_string(Confirmation c);

// What the egress side saw leave for this 4-tuple after the segment (or nothing).
enum class Observed : std::uint8_t { Nothing, SynAck, CookieSynAck, Rst, SynAckRetransmit };
std::string_view to_string(Observed o);

struct TraceEvent {
  std::uint64_t id = 0;          // order of arrival, from 1
  std::int64_t at_ns = 0;        // CLOCK_MONOTONIC of the segment's arrival (bpf_ktime_get_ns)
  SegmentKind kind = SegmentKind::Syn;
  TraceEndpoint peer, local;     // client and server end of the 4-tuple
  std::uint32_t seq = 0;         // the segment's sequence number (the client's ISN for a SYN, §9)
  bool has_ts = false;
  std::uint32_t tsval = 0;       // the peer's TSval (§8), when has_ts
  std::optional<TraceEndpoint> listener;  // the listener it reached (its bound address), if one
  std::string process;           // owner of the listener: "nginx (pid 812)", when known
  model::Verdict predicted;      // the model's decision with its numbers (evidence q, b, a, young)
  Confirmation confirmation = Confirmation::Pending;
  Observed observed = Observed::Nothing;
  std::string note;              // why a prediction is uncertain or was contradicted

  bool dropped() const { return predicted.action == model::Action::Drop; }
  // "accept_queue_full", …: rule_info(predicted.rule).id
  std::string_view cause() const;
  // One line: what was predicted, with its numbers, e.g. "dropped: accept queue full: A=3 > B=2".
  std::string summary() const;
};

}  // namespace synscope::live::trace
