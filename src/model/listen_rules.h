#pragma once
// The listen path's decisions as pure functions of (profile, sysctls, state). The host stack
// (model/host_stack.h) applies them to its sockets; `synscope explain` and capture replay use them
// directly. Each function names the fact-sheet section it implements.
#include <cstdint>
#include <optional>

#include "core/time.h"
#include "model/kernel_profile.h"
#include "model/sysctls.h"
#include "model/verdict.h"

namespace synscope::model {

// §6.1: listen(fd, backlog) → B.
int effective_backlog(int requested_backlog, const Sysctls& s);

// §6.2: 3.10/EL7 SYN table size N = roundup_pow_of_two(max(min(B, MSB), 8) + 1).
int syn_table_size_310(int backlog, int max_syn_backlog);

// The SYN-queue cap a profile compares Q against (N for the table, else B).
int syn_queue_cap(const KernelProfile& p, int backlog, int max_syn_backlog);

// §1/§6.2/§6.3: is the SYN queue full with Q requests?
bool syn_queue_full(const KernelProfile& p, int q, int backlog, int table_size);

// §3.1 step 3 / §3.4 / §3.5: does the accept queue refuse a SYN?
bool accept_queue_full_at_syn(const KernelProfile& p, int a, int backlog, int young);

// §5.1 step 7: does the accept queue refuse the final ACK? (`A > B` in every profile)
bool accept_queue_full_at_ack(int a, int backlog);

// §7.2: one tcp_metrics timestamp memory entry.
struct TsMemory {
  std::uint32_t ts = 0;          // tcpm_ts: peer's TSval
  std::int64_t stamp_sec = 0;    // tcpm_ts_stamp: when that TSval was received (seconds)
  bool has_rtt = false;          // an RTT sample exists (used by the unproven-peer clause)
};

// §7.2: the update a closing socket (active closer, tw_recycle on) applies to the entry.
// Returns the new entry value.
TsMemory remember_stamp(std::optional<TsMemory> entry, std::uint32_t ts_recent, std::int64_t ts_recent_stamp,
                        std::int64_t now_sec);

// §7.3: tcp_peer_is_proven(paws_check=true) is false ⇒ reject.
bool per_host_paws_rejects(PerHostPawsRule rule, const std::optional<TsMemory>& entry, bool syn_has_ts,
                           std::uint32_t syn_tsval, std::int64_t now_sec);

// Everything conn_request looks at for one SYN (§3, §14).
struct SynContext {
  int q = 0;                 // SYN-queue length
  int young = 0;             // young requests
  int a = 0;                 // accept-queue length
  int backlog = 0;           // B
  int table_size = 0;        // N (3.10/EL7), else unused
  bool syn_has_ts = false;   // SYN carried a TS option that the stack parses (tcp_timestamps != 0)
  std::uint32_t syn_tsval = 0;
  bool via_timewait = false; // isn != 0: accepted by a TIME_WAIT bucket (§7.5)
  std::optional<TsMemory> metrics;  // tcp_metrics entry for this peer (key per profile)
  std::int64_t now_sec = 0;
};

struct SynDecision {
  Verdict verdict;
  bool cookie = false;       // answer with a SYN cookie, keep no request
};

// §3.1 (3.10), §3.3 (EL7), §3.4–§3.7 (4.4 … 6.x), condensed in §14.
SynDecision decide_syn(const KernelProfile& p, const Sysctls& s, const SynContext& ctx);

// §5.3: SYN-ACK retry threshold for a request, after queue-pressure pruning.
int synack_retry_threshold(const KernelProfile& p, const Sysctls& s, int q, int young, int backlog, int table_size);
// §5.3: delay before the next SYN-ACK timer expiry given how many expiries happened.
Duration synack_timeout(int num_timeout);

// §9: client SYN retransmission.
// RTO to wait after `retransmits` retransmissions have been sent (0 = after the first SYN).
Duration syn_rto(const KernelProfile& p, const Sysctls& s, int retransmits);
// The time-based limit of `retransmits_timed_out` for `retries` (rto_base 1 s, linear after 6 doublings).
Duration syn_time_limit(int retries);
// Does the client give up at a timer expiry after `retransmits` retransmissions, `elapsed` after the first SYN?
bool syn_gives_up(const KernelProfile& p, const Sysctls& s, int syn_retries, int retransmits, Duration elapsed);

// §7.4: TIME_WAIT lifetime (3.5 × RTO when recycled) and the kernel's timer quantisation.
Duration timewait_lifetime(bool recycle_ok, Duration rto);

}  // namespace synscope::model
