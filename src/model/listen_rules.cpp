#include "model/listen_rules.h"

#include <algorithm>
#include <bit>

#include "core/seq.h"

namespace synscope::model {

constexpr std::int64_t kPawsMsl = 60;      // TCP_PAWS_MSL, seconds (§7.3)
constexpr std::int32_t kPawsWindow = 1;    // TCP_PAWS_WINDOW (§7.3)
constexpr Duration kRtoMax = seconds(120); // TCP_RTO_MAX (§5.3, §9)

int effective_backlog(int requested, const Sysctls& s) {
  // §6.1: (unsigned)backlog > somaxconn ⇒ somaxconn; a negative backlog therefore becomes somaxconn.
  if (requested < 0 || requested > s.somaxconn) return s.somaxconn;
  return requested;
}

int syn_table_size_310(int backlog, int max_syn_backlog) {
  int n = std::min(backlog, max_syn_backlog);
  n = std::max(n, 8);
  return static_cast<int>(std::bit_ceil(static_cast<unsigned>(n + 1)));
}

int syn_queue_cap(const KernelProfile& p, int backlog, int max_syn_backlog) {
  return p.syn_queue_full == SynQueueFullTest::PowerOfTwoTable ? syn_table_size_310(backlog, max_syn_backlog) : backlog;
}

bool syn_queue_full(const KernelProfile& p, int q, int backlog, int table_size) {
  switch (p.syn_queue_full) {
    case SynQueueFullTest::PowerOfTwoTable: return q >= table_size;
    case SynQueueFullTest::AtLeastBacklog: return q >= backlog;
    case SynQueueFullTest::AboveBacklog: return q > backlog;
  }
  return false;
}

bool accept_queue_full_at_syn(const KernelProfile& p, int a, int backlog, int young) {
  if (p.accept_queue_syn == AcceptQueueSynTest::FullAndYoung) return a > backlog && young > 1;
  return a > backlog;
}

bool accept_queue_full_at_ack(int a, int backlog) { return a > backlog; }

TsMemory remember_stamp(std::optional<TsMemory> entry, std::uint32_t ts_recent, std::int64_t ts_recent_stamp,
                        std::int64_t now_sec) {
  if (!entry) return TsMemory{ts_recent, ts_recent_stamp, false};
  TsMemory m = *entry;
  // §7.2: move forward in TSval, or replace an entry older than 60 s.
  if (s32_diff(m.ts, ts_recent) <= 0 || (now_sec - m.stamp_sec > kPawsMsl && m.stamp_sec <= ts_recent_stamp)) {
    m.ts = ts_recent;
    m.stamp_sec = ts_recent_stamp;
  }
  return m;
}

bool per_host_paws_rejects(PerHostPawsRule rule, const std::optional<TsMemory>& entry, bool syn_has_ts,
                           std::uint32_t syn_tsval, std::int64_t now_sec) {
  if (rule == PerHostPawsRule::Absent || !entry) return false;
  // (u32)(now - stamp) < TCP_PAWS_MSL
  if (static_cast<std::uint32_t>(now_sec - entry->stamp_sec) >= static_cast<std::uint32_t>(kPawsMsl)) return false;
  std::uint32_t tsval = syn_has_ts ? syn_tsval : 0;  // req->ts_recent is 0 without a TS option
  if (rule == PerHostPawsRule::RejectsNoTs && !syn_has_ts) return true;
  return s32_diff(entry->ts, tsval) > kPawsWindow;
}

SynDecision decide_syn(const KernelProfile& p, const Sysctls& s, const SynContext& c) {
  SynDecision d;
  Verdict& v = d.verdict;
  v.evidence.q = c.q;
  v.evidence.b = c.backlog;
  v.evidence.a = c.a;
  // The cap Q is compared with: the listener's table size N (§6.2, fixed at the first listen()) or B.
  v.evidence.cap = p.syn_queue_full == SynQueueFullTest::PowerOfTwoTable ? c.table_size : c.backlog;
  v.evidence.syn_has_ts = c.syn_has_ts;
  v.evidence.syn_tsval = c.syn_tsval;
  v.evidence.now_sec = c.now_sec;

  auto drop = [&](Rule rule) {
    v.action = Action::Drop;
    v.rule = rule;
    v.count(Counter::ListenDrops);  // §3: every conn_request failure ends at `drop`
    return d;
  };

  // §3.1 step 2 / §3.3 step 2 / §3.7 step 2: SYN queue full (or syncookies=2) → tcp_syn_flood_action,
  // which counts TCPReqQFullDoCookies or TCPReqQFullDrop (§3.8). A SYN accepted by a TIME_WAIT bucket
  // (isn != 0) skips this test.
  if (!c.via_timewait) {
    bool always = s.tcp_syncookies == 2 && p.has_syncookies_always;
    bool full = syn_queue_full(p, c.q, c.backlog, c.table_size);
    if (always || full) {
      if (s.tcp_syncookies == 0) {
        v.count(Counter::TCPReqQFullDrop);
        return drop(Rule::SynQueueFullDrop);
      }
      d.cookie = true;
      v.count(Counter::TCPReqQFullDoCookies);
      v.rule = full ? Rule::SynQueueFullCookie : Rule::SyncookiesAlways;
    }
  }

  // §3.1 step 3: accept-queue test, also for cookie-mode and TIME_WAIT SYNs.
  if (accept_queue_full_at_syn(p, c.a, c.backlog, c.young)) {
    if (p.accept_queue_syn == AcceptQueueSynTest::FullAndYoung) v.evidence.young = c.young;
    d.cookie = false;
    v.count(Counter::ListenOverflows);
    return drop(Rule::AcceptQueueFull);
  }

  if (!d.cookie && !c.via_timewait) {
    // §3.1 step 7a / §3.3 step 7a: per-host PAWS when tcp_tw_recycle is on. In the simulator the
    // route to the peer always exists and is "strict" (flow daddr == SYN saddr).
    bool guard = p.per_host_paws != PerHostPawsRule::Absent && s.tcp_tw_recycle != 0 &&
                 (p.per_host_paws == PerHostPawsRule::RejectsNoTs || c.syn_has_ts);
    if (guard) {
      if (per_host_paws_rejects(p.per_host_paws, c.metrics, c.syn_has_ts, c.syn_tsval, c.now_sec)) {
        v.evidence.remembered_tsval = c.metrics->ts;
        v.evidence.remembered_stamp_sec = c.metrics->stamp_sec;
        v.count(Counter::PAWSPassive);
        return drop(Rule::PerHostPaws);
      }
    } else {
      // §3.1 step 7b: in EL7/4.x the clause is an `else if` of `tw_recycle`; in 3.10 of the whole guard.
      bool clause_reachable = p.per_host_paws == PerHostPawsRule::NeedsSynTs || s.tcp_tw_recycle == 0 ||
                              p.per_host_paws == PerHostPawsRule::Absent;
      if (clause_reachable && s.tcp_syncookies == 0 &&
          s.tcp_max_syn_backlog - c.q < (s.tcp_max_syn_backlog >> 2)) {
        // §15.2: with the route still unknown every peer is "unproven".
        bool proven = p.unproven_route == UnprovenPeerRoute::Routed && c.metrics && c.metrics->has_rtt;
        if (!proven) {
          v.evidence.cap = s.tcp_max_syn_backlog;
          return drop(Rule::UnprovenPeer);
        }
      }
    }
  }

  if (d.cookie) {
    // §3.1 step 10 / §3.4 / §3.5: cookie SYN-ACK; 3.10/EL7/4.4 also count ListenDrops.
    v.action = Action::CookieSynAck;
    v.count(Counter::SyncookiesSent);
    if (p.cookie_counts_listen_drop) v.count(Counter::ListenDrops);
    return d;
  }
  v.action = Action::SynAck;
  v.rule = c.via_timewait ? Rule::TimeWaitSynAccepted : Rule::SynAckSent;
  return d;
}

int synack_retry_threshold(const KernelProfile& p, const Sysctls& s, int q, int young, int backlog, int table_size) {
  int thresh = s.tcp_synack_retries;
  bool pressure = p.synq_pressure == SynQueuePressure::HalfOfTable ? q >= table_size / 2
                                                                   : 2 * q > std::max(8, backlog);
  if (pressure) {
    // §5.3: drop old requests sooner when few requests are young.
    int y2 = 2 * young;
    while (thresh > 2 && q >= y2) {
      --thresh;
      y2 *= 2;
    }
  }
  return thresh;
}

Duration synack_timeout(int num_timeout) {
  if (num_timeout >= 7) return kRtoMax;
  return std::min(Duration{seconds(1).count() << num_timeout}, kRtoMax);
}

Duration syn_rto(const KernelProfile& p, const Sysctls& s, int retransmits) {
  int doublings = retransmits;
  if (p.syn_schedule == SynRetransmitSchedule::LinearThenExponential)
    doublings = std::max(0, retransmits - s.tcp_syn_linear_timeouts);
  if (doublings >= 7) return kRtoMax;
  return std::min(Duration{seconds(1).count() << doublings}, kRtoMax);
}

Duration syn_time_limit(int retries) {
  // tcp_model_timeout with rto_base 1 s: linear_backoff_thresh = ilog2(120 s / 1 s) = 6.
  constexpr int thresh = 6;
  if (retries <= thresh) return seconds((2LL << retries) - 1);
  return seconds((2LL << thresh) - 1) + kRtoMax * (retries - thresh);
}

bool syn_gives_up(const KernelProfile& p, const Sysctls& s, int syn_retries, int retransmits, Duration elapsed) {
  if (p.syn_schedule == SynRetransmitSchedule::LinearThenExponential &&
      retransmits >= syn_retries + s.tcp_syn_linear_timeouts)
    return true;
  // §9 and §17: the time limit of the exponential schedule applies to every profile; on 6.18 it
  // ended a tcp_syn_retries=2 client after 6 SYNs at ≈7 s (docs/kernel-notes.md).
  return elapsed >= syn_time_limit(syn_retries);
}

Duration timewait_lifetime(bool recycle_ok, Duration rto) {
  if (!recycle_ok) return seconds(60);  // TCP_TIMEWAIT_LEN
  // §7.4: 3.5 × RTO computed as (rto << 2) - (rto >> 1).
  auto r = rto.count();
  return Duration{(r << 2) - (r >> 1)};
}

}  // namespace synscope::model
