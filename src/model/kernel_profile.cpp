#include "model/kernel_profile.h"

#include <array>
#include <fmt/format.h>

#include "core/error.h"

namespace synscope::model {
namespace {

// 3.10 mainline (§1, §3.1, §6.2, §7, §8): fact sheet tree 3.10.105.
constexpr KernelProfile k310() {
  KernelProfile p{};
  p.name = "3.10";
  p.title = "Linux 3.10 mainline";
  p.release = "3.10.105";
  p.order = 31000;
  p.syn_queue_full = SynQueueFullTest::PowerOfTwoTable;
  p.accept_queue_syn = AcceptQueueSynTest::FullAndYoung;
  p.per_host_paws = PerHostPawsRule::NeedsSynTs;
  p.metrics_key = MetricsKey::PeerIp;
  p.ts_clock = TsClock::Jiffies;
  p.ts_offset = TsOffsetPolicy::None;
  p.cookie_ts_offset = false;
  p.synack_timer = SynAckTimer::ListenerScan200ms;
  p.synq_pressure = SynQueuePressure::HalfOfTable;
  p.tw_timer = TimeWaitTimer::CentralWheels;
  p.unproven_route = UnprovenPeerRoute::NullDst;
  p.flood_log = FloodLogStyle::Tcp310;
  p.somaxconn_default = 128;
  p.max_syn_backlog_default = 1024;
  p.has_tw_recycle = true;
  p.has_syncookies_always = false;
  p.has_ts_offsets = false;
  p.syn_retries_time_limit = true;
  p.cookie_counts_listen_drop = true;
  p.stray_ack_counts_cookie_failed = true;
  p.cookie_overflow_window = seconds(3);
  p.synack_sent_before_queueing = true;
  p.request_in_ehash = false;
  p.tracks_sk_drops = false;
  return p;
}

// CentOS/RHEL 7 (§3.3): 4.x-style tcp_conn_request on 3.10 queues; young check kept.
constexpr KernelProfile kEl7() {
  KernelProfile p = k310();
  p.name = "el7";
  p.title = "CentOS/RHEL 7 (3.10.0-1160.el7)";
  p.release = "3.10.0-1160.el7.x86_64";
  p.order = 31001;
  p.per_host_paws = PerHostPawsRule::RejectsNoTs;
  p.metrics_key = MetricsKey::LocalAndPeerIp;
  p.has_syncookies_always = true;
  p.flood_log = FloodLogStyle::RequestSockWithCheck;
  return p;
}

// 4.4.0 (§3.4): Q >= B, young check still present before the 2019 stable backport.
constexpr KernelProfile k440() {
  KernelProfile p = kEl7();
  p.name = "4.4.0";
  p.title = "Linux 4.4.0 (before the 4.4.y accept-queue backport)";
  p.release = "4.4.0";
  p.order = 40400;
  p.syn_queue_full = SynQueueFullTest::AtLeastBacklog;
  p.synack_timer = SynAckTimer::PerRequest;
  p.synq_pressure = SynQueuePressure::HalfOfBacklog;
  p.tw_timer = TimeWaitTimer::PerSocket;
  p.stray_ack_counts_cookie_failed = false;
  p.cookie_overflow_window = seconds(120);
  p.synack_sent_before_queueing = false;
  p.request_in_ehash = true;
  return p;
}

// 4.4.178 (§3.4): stable backport 7ed7c0386ef2 made the SYN-time accept test `A > B`.
constexpr KernelProfile k44() {
  KernelProfile p = k440();
  p.name = "4.4";
  p.title = "Linux 4.4.y (4.4.178, with the accept-queue backport)";
  p.release = "4.4.178";
  p.order = 40478;
  p.accept_queue_syn = AcceptQueueSynTest::Full;
  return p;
}

// 4.10.0 (§7.7): per-connection TS offsets (95a22caee396), cookie SYNs count no ListenDrops (§3.5).
constexpr KernelProfile k4100() {
  KernelProfile p = k44();
  p.name = "4.10.0";
  p.title = "Linux 4.10.0 (per-connection TS offsets)";
  p.release = "4.10.0";
  p.order = 41000;
  p.ts_offset = TsOffsetPolicy::PerFourTuple;
  p.has_ts_offsets = true;
  p.cookie_counts_listen_drop = false;
  p.tracks_sk_drops = true;
  return p;
}

// 4.10.17 / 4.11 (§7.7): offsets downgraded to per host pair (28ee1b746f49).
constexpr KernelProfile k410() {
  KernelProfile p = k4100();
  p.name = "4.10";
  p.title = "Linux 4.10.y/4.11 (per-host-pair TS offsets)";
  p.release = "4.10.17";
  p.order = 41017;
  p.ts_offset = TsOffsetPolicy::PerHostPair;
  return p;
}

// 4.12 (§3.6, §7.7): tw_recycle and PAWSPassive removed; still the NULL-dst gotcha; jiffies TS.
constexpr KernelProfile k412() {
  KernelProfile p = k410();
  p.name = "4.12";
  p.title = "Linux 4.12 (tcp_tw_recycle removed)";
  p.release = "4.12.4";
  p.order = 41200;
  p.per_host_paws = PerHostPawsRule::Absent;
  p.has_tw_recycle = false;
  p.has_paws_passive_counter = false;
  p.cookie_ts_offset = true;
  return p;
}

// 5.4 (§6.1, §6.4, §8, §3.6): 1 ms TS clock (4.13+), route before the unproven clause (4.14+),
// SOMAXCONN 4096, tcp_tw_reuse=2 default.
constexpr KernelProfile k54() {
  KernelProfile p = k412();
  p.name = "5.4";
  p.title = "Linux 5.4 … 6.4";
  p.release = "5.4.0";
  p.order = 50400;
  p.ts_clock = TsClock::Millisecond;
  p.unproven_route = UnprovenPeerRoute::Routed;
  p.somaxconn_default = 4096;
  p.max_syn_backlog_default = 2048;
  p.tw_reuse_default = 2;
  p.has_tw_reuse_loopback = true;
  p.flood_log = FloodLogStyle::RequestSockWithCheck;
  return p;
}

// 6.5 (§9): first tcp_syn_linear_timeouts SYN RTOs stay at 1 s.
constexpr KernelProfile k65() {
  KernelProfile p = k54();
  p.name = "6.5";
  p.title = "Linux 6.5 … 6.12";
  p.release = "6.5.0";
  p.order = 60500;
  p.syn_schedule = SynRetransmitSchedule::LinearThenExponential;
  p.has_syn_linear_timeouts = true;
  p.flood_log = FloodLogStyle::RequestSockWithAddress;
  return p;
}

// 6.13 (§6.3): SYN queue full only when Q > B (3479c7549fb1), per-host-pair offsets.
constexpr KernelProfile k613() {
  KernelProfile p = k65();
  p.name = "6.13";
  p.title = "Linux 6.13 … 6.19";
  p.release = "6.13.0";
  p.order = 61300;
  p.syn_queue_full = SynQueueFullTest::AboveBacklog;
  p.has_paws_timewait_counter = true;
  return p;
}

// 6.18.44 as measured on the development machines (§17): 6.13 rules plus the 2026 stable
// backport of per-4-tuple TS offsets (165573e41f2f).
constexpr KernelProfile k618() {
  KernelProfile p = k613();
  p.name = "6.18";
  p.title = "Linux 6.18.y stable (measured here, §17)";
  p.release = "6.18.44";
  p.order = 61844;
  p.ts_offset = TsOffsetPolicy::PerFourTuple;
  return p;
}

// 7.0 (§7.7): per-4-tuple TS offsets again.
constexpr KernelProfile k70() {
  KernelProfile p = k618();
  p.name = "7.0";
  p.title = "Linux 7.0";
  p.release = "7.0.0";
  p.order = 70000;
  return p;
}

constexpr std::array kProfiles = {k310(), kEl7(), k440(), k44(), k4100(), k410(), k412(),
                                  k54(),  k65(),  k613(), k618(), k70()};

}  // namespace

std::span<const KernelProfile> all_profiles() { return kProfiles; }

const KernelProfile* try_find_profile(std::string_view name) {
  for (const auto& p : kProfiles)
    if (p.name == name) return &p;
  return nullptr;
}

const KernelProfile& find_profile(std::string_view name) {
  if (const auto* p = try_find_profile(name)) return *p;
  std::string known;
  for (const auto& p : kProfiles) known += (known.empty() ? "" : ", ") + std::string(p.name);
  throw UsageError(fmt::format("unknown kernel profile '{}' (known: {})", name, known));
}

const KernelProfile& newest_profile() { return kProfiles.back(); }

std::string_view to_string(SynQueueFullTest v) {
  switch (v) {
    case SynQueueFullTest::PowerOfTwoTable: return "Q >= N (power-of-two table, §6.2)";
    case SynQueueFullTest::AtLeastBacklog: return "Q >= B (§6.3)";
    case SynQueueFullTest::AboveBacklog: return "Q > B (§6.3, 6.13+)";
  }
  return "?";
}
std::string_view to_string(AcceptQueueSynTest v) {
  return v == AcceptQueueSynTest::FullAndYoung ? "A > B && young > 1" : "A > B";
}
std::string_view to_string(PerHostPawsRule v) {
  switch (v) {
    case PerHostPawsRule::Absent: return "absent (tw_recycle removed)";
    case PerHostPawsRule::NeedsSynTs: return "checks SYNs with a TS option only";
    case PerHostPawsRule::RejectsNoTs: return "also rejects SYNs without timestamps";
  }
  return "?";
}
std::string_view to_string(MetricsKey v) { return v == MetricsKey::PeerIp ? "peer IP" : "(local IP, peer IP)"; }
std::string_view to_string(TsOffsetPolicy v) {
  switch (v) {
    case TsOffsetPolicy::None: return "none";
    case TsOffsetPolicy::PerFourTuple: return "per 4-tuple";
    case TsOffsetPolicy::PerHostPair: return "per host pair";
  }
  return "?";
}
std::string_view to_string(SynRetransmitSchedule v) {
  return v == SynRetransmitSchedule::Exponential ? "exponential 1,2,4,… s" : "linear 1 s ×tcp_syn_linear_timeouts, then exponential";
}
std::string_view to_string(SynAckTimer v) {
  return v == SynAckTimer::ListenerScan200ms ? "per-listener 200 ms scan" : "per-request timer";
}
std::string_view to_string(SynQueuePressure v) {
  return v == SynQueuePressure::HalfOfTable ? "Q >= N/2" : "2·Q > max(8, B)";
}
std::string_view to_string(TimeWaitTimer v) {
  return v == TimeWaitTimer::CentralWheels ? "central wheels (128 ms calendar / 7.5 s slots)" : "per-socket timer";
}
std::string_view to_string(UnprovenPeerRoute v) {
  return v == UnprovenPeerRoute::NullDst ? "route not yet known: every peer unproven" : "peers without an RTT metric";
}
std::string ts_clock_text(const KernelProfile& p) {
  if (p.ts_clock == TsClock::Jiffies) return fmt::format("jiffies (HZ={} by default)", p.default_hz);
  return "1 ms";
}

}  // namespace synscope::model
