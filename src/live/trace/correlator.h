#pragma once
// Turns the BPF programs' raw records into TraceEvents: a prediction per inbound handshake segment
// from the model's rules (model::decide_syn for SYNs, §3; the accept-queue test at the final ACK,
// §5.1 step 7 / §5.2; the cookie ACK, §10), then a confirmation from what left the host for the
// same 4-tuple (TC egress) within a window, or from the SYN-ACK timer (tcp_retransmit_synack, §5.3).
// Pure logic on records: the kernel side is in syn_tracer.cpp, and it is tested through it.
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "live/trace/syn_trace_event.h"
#include "live/trace/trace_event.h"
#include "model/counters.h"
#include "model/kernel_profile.h"
#include "model/sysctls.h"

namespace synscope::live::trace {

// Per cause (model rule): how many segments the model predicted it for, and how the wire agreed.
struct CauseCount {
  model::Rule rule = model::Rule::Established;
  std::uint64_t predicted = 0;
  std::uint64_t confirmed = 0;
  std::uint64_t contradicted = 0;
};

// Everything counted so far, cumulative since start().
struct TraceTally {
  std::uint64_t segments = 0;                 // SYNs and handshake ACKs judged (or not judgeable)
  std::map<model::Action, std::uint64_t> by_action;  // predicted answers
  std::map<model::Rule, CauseCount> by_rule;  // every rule that decided something
  model::CounterSet predicted_counters;       // the counters the predicted decisions move (§3.8, §5.2)
  std::uint64_t synack_retransmits = 0;       // tcp_retransmit_synack firings (§5.3)
  std::uint64_t contradicted = 0;
};

class Correlator {
 public:
  // `window_ns`: how long after a segment its answer may leave (SYN-ACK, RST) before "nothing left"
  // counts as the answer. On veth/loopback answers leave within microseconds (same softirq, §17).
  explicit Correlator(const model::KernelProfile& profile, std::int64_t window_ns = 250'000'000);

  // The namespace's sysctls as last read (the SYN decision depends on tcp_syncookies,
  // tcp_max_syn_backlog, tcp_timestamps; the final ACK on tcp_abort_on_overflow).
  void set_sysctls(const model::Sysctls& s) { sysctls_ = s; }
  const model::Sysctls& sysctls() const { return sysctls_; }

  // One record from the ring buffer, in delivery order.
  void add(const syn_trace_event& raw);

  // Events whose window ended by `now_ns` (all of them when `flush`), judged, oldest first.
  std::vector<TraceEvent> settle(std::int64_t now_ns, bool flush = false);

  const TraceTally& tally() const { return tally_; }

 private:
  TraceEvent predict(const syn_trace_event& raw);
  void observe(const TraceEndpoint& peer, const TraceEndpoint& local, Observed what, std::int64_t at_ns);
  void judge(TraceEvent& e);

  const model::KernelProfile& profile_;
  std::int64_t window_ns_;
  model::Sysctls sysctls_;
  std::uint64_t next_id_ = 1;
  std::deque<TraceEvent> pending_;  // in arrival order
  TraceTally tally_;
};

// Listen-path counters (Tcp/TcpExt) from /proc/net/snmp and /proc/net/netstat text, by field name.
model::CounterSet counters_from_proc(const std::string& snmp, const std::string& netstat);

// The counters a trace can check against the namespace's own (§3.8, §4, §5.2, §10).
const std::vector<model::Counter>& checked_counters();

}  // namespace synscope::live::trace
