#pragma once
// Kernel families as data. Every behavioural difference between kernel versions that the model
// knows about is a field here, filled in by the table in kernel_profile.cpp; the rest of the model
// reads these fields and never tests a version number. Section numbers (§) refer to the fact sheet
// ../shared/spec/linux-listen-path.md.
#include <span>
#include <string>
#include <string_view>

#include "core/time.h"

namespace synscope::model {

// §1, §6.2, §6.3: when is the SYN queue "full"?
enum class SynQueueFullTest {
  PowerOfTwoTable,  // 3.10/EL7: Q >= N, N = roundup_pow_of_two(max(min(B, MSB), 8) + 1)
  AtLeastBacklog,   // 4.4 … 6.12: Q >= B
  AboveBacklog,     // 6.13+: Q > B (3479c7549fb1)
};

// §3.1 step 3, §3.4, §3.5: the accept-queue test applied to an incoming SYN.
enum class AcceptQueueSynTest {
  FullAndYoung,  // A > B && Y > 1 (3.10, EL7, 4.4.0)
  Full,          // A > B (4.10+, 4.4.y stable backport)
};

// §7.3: the per-host PAWS check done when tcp_tw_recycle is on.
enum class PerHostPawsRule {
  Absent,        // 4.12+: tw_recycle removed
  NeedsSynTs,    // 3.10 mainline: only SYNs carrying a TS option are checked
  RejectsNoTs,   // EL7, 4.4–4.11: a SYN without timestamps is also rejected (a26552afe894)
};

// §7.2: how tcp_metrics entries are keyed.
enum class MetricsKey { PeerIp, LocalAndPeerIp };

// §8: what the TS clock counts.
enum class TsClock { Jiffies, Millisecond };

// §7.7: what is added to the TS clock on the wire.
enum class TsOffsetPolicy { None, PerFourTuple, PerHostPair };

// §9: the client's SYN retransmission schedule and give-up rule.
enum class SynRetransmitSchedule {
  Exponential,            // RTO 1,2,4,… s; give up when elapsed >= model timeout of tcp_syn_retries
  LinearThenExponential,  // 6.5+: first tcp_syn_linear_timeouts RTOs stay at 1 s
};

// §5.3: how SYN-ACK retransmission timers run.
enum class SynAckTimer {
  ListenerScan200ms,  // 3.10/EL7: one per-listener timer every 200 ms (expiries quantised)
  PerRequest,         // 4.4+: one exact timer per request sock
};

// §5.3: the "queue pressure" condition that shortens SYN-ACK retries.
enum class SynQueuePressure {
  HalfOfTable,    // 3.10/EL7: Q >= N/2
  HalfOfBacklog,  // 4.4+: 2·Q > max(8, B)
};

// §7.4: how TIME_WAIT expiry is scheduled.
enum class TimeWaitTimer {
  CentralWheels,  // 3.10/EL7: 128-jiffy recycle calendar for short, 7.5 s wheel for 60 s
  PerSocket,      // 4.4+: exact per-socket timer
};

// §3.1 step 7b, §3.6: where the route is when the "unproven peer" clause is evaluated.
enum class UnprovenPeerRoute {
  NullDst,  // 3.10 … 4.12.4: route not yet looked up ⇒ every peer counts as unproven
  Routed,   // 4.14+: only peers without an RTT metric are unproven
};

// §3.1 step 2, §3.3, §3.7: wording of the one-per-listener SYN flood log line.
enum class FloodLogStyle { Tcp310, RequestSockWithCheck, RequestSockWithAddress };

struct KernelProfile {
  std::string_view name;         // CLI name: "el7", "4.4", "6.13", …
  std::string_view title;        // "CentOS/RHEL 7 (3.10.0-1160.el7)"
  std::string_view release;      // a representative `uname -r`
  int order = 0;                 // for sorting only (e.g. 31000, 40400)

  SynQueueFullTest syn_queue_full = SynQueueFullTest::AtLeastBacklog;
  AcceptQueueSynTest accept_queue_syn = AcceptQueueSynTest::Full;
  PerHostPawsRule per_host_paws = PerHostPawsRule::Absent;
  MetricsKey metrics_key = MetricsKey::LocalAndPeerIp;
  TsClock ts_clock = TsClock::Millisecond;
  int default_hz = 1000;
  TsOffsetPolicy ts_offset = TsOffsetPolicy::PerHostPair;
  bool cookie_ts_offset = true;             // §7.7 84b114b98452: cookie SYN-ACKs get the offset (4.12+)
  SynRetransmitSchedule syn_schedule = SynRetransmitSchedule::Exponential;
  SynAckTimer synack_timer = SynAckTimer::PerRequest;
  SynQueuePressure synq_pressure = SynQueuePressure::HalfOfBacklog;
  TimeWaitTimer tw_timer = TimeWaitTimer::PerSocket;
  UnprovenPeerRoute unproven_route = UnprovenPeerRoute::Routed;
  FloodLogStyle flood_log = FloodLogStyle::RequestSockWithAddress;

  int somaxconn_default = 4096;             // §6.1
  int max_syn_backlog_default = 1024;       // §6.4 (RAM-dependent; representative value)
  int tw_reuse_default = 0;                 // §7.6
  bool has_tw_recycle = false;              // §7 (removed in 4.12)
  bool has_syncookies_always = true;        // tcp_syncookies=2 (§10; not in 3.10 mainline)
  bool has_syn_linear_timeouts = false;     // §9 (6.5+)
  bool has_tw_reuse_loopback = false;       // tcp_tw_reuse=2 (§7.6)
  bool has_ts_offsets = true;               // tcp_timestamps=2 (4.10+)
  bool syn_retries_time_limit = true;       // §9 + §17: give up once elapsed >= exponential model time
  bool cookie_counts_listen_drop = false;   // §3.1 step 10, §3.4: 3.10/EL7/4.4 count ListenDrops per cookie
  bool stray_ack_counts_cookie_failed = false;  // §10: 3.10/EL7 count SyncookiesFailed without recent overflow
  Duration cookie_overflow_window = seconds(120);  // §10: 3 s in 3.10/EL7, 2 min in 4.4+
  bool synack_sent_before_queueing = false; // §3.3 step 9: 3.10/EL7 send SYN-ACK first
  bool has_paws_passive_counter = true;     // §4: PAWSPassive removed in 4.12
  bool has_paws_timewait_counter = false;   // §4: PAWSTimewait, TSEcrRejected (≈6.14+)
  bool request_in_ehash = true;             // §2 step 3: 4.4+ TCP_NEW_SYN_RECV in ehash
  // §3, §13, §17: tcp_listendrop() (~4.7+) adds every ListenDrops to the listener's sk_drops (ss -m `d`),
  // and a final ACK discarded by tcp_v4_rcv adds one more (§17: "skmem d +2").
  bool tracks_sk_drops = true;
};

// All known profiles, oldest first.
std::span<const KernelProfile> all_profiles();
// Finds a profile by name; throws UsageError listing the known names when there is none.
const KernelProfile& find_profile(std::string_view name);
const KernelProfile* try_find_profile(std::string_view name);
// The profile this machine's kernel (fact sheet §17) is described by.
const KernelProfile& newest_profile();

std::string_view to_string(SynQueueFullTest);
std::string_view to_string(AcceptQueueSynTest);
std::string_view to_string(PerHostPawsRule);
std::string_view to_string(MetricsKey);
std::string_view to_string(TsOffsetPolicy);
std::string_view to_string(SynRetransmitSchedule);
std::string_view to_string(SynAckTimer);
std::string_view to_string(SynQueuePressure);
std::string_view to_string(TimeWaitTimer);
std::string_view to_string(UnprovenPeerRoute);
std::string ts_clock_text(const KernelProfile&);

}  // namespace synscope::model
