#include "model/verdict.h"

#include <fmt/format.h>

namespace synscope::model {
namespace {
constexpr std::array<RuleInfo, static_cast<std::size_t>(Rule::kCount)> kRules = {{
    {"no_listener", "no listening socket: RST", "§2 step 3"},
    {"syn_fin", "SYN+FIN to a listener discarded", "§2 step 8"},
    {"ack_to_listener", "ACK to a listener without a request or valid cookie: RST", "§2 step 8, §10"},
    {"syn_queue_full_drop", "SYN queue full, syncookies off: SYN dropped", "§3.1 step 2, §6"},
    {"syn_queue_full_cookie", "SYN queue full: SYN cookie sent", "§3.1 step 2, §10"},
    {"syncookies_always", "tcp_syncookies=2: SYN cookie sent", "§3.3 step 2, §10"},
    {"accept_queue_full", "accept queue full at SYN time: SYN dropped", "§3.1 step 3, §6.1"},
    {"per_host_paws", "per-host PAWS (tcp_tw_recycle): SYN dropped", "§3.1 step 7a, §7.3"},
    {"unproven_peer", "unproven peer with syncookies off and SYN queue 3/4 full: SYN dropped", "§3.1 step 7b, §3.6"},
    {"syn_ack", "request queued, SYN-ACK sent", "§3.1 step 10"},
    {"retransmitted_syn", "retransmitted SYN found its request: SYN-ACK resent", "§2"},
    {"timewait_syn_accepted", "SYN accepted by a TIME_WAIT bucket", "§7.5"},
    {"timewait_syn_rejected", "SYN rejected by a TIME_WAIT bucket: ACK sent", "§7.5"},
    {"final_ack_child", "final ACK: child created and queued for accept()", "§5.1 step 8"},
    {"final_ack_queue_full", "final ACK ignored: accept queue full (request kept, acked)", "§5.1 step 7, §5.2"},
    {"final_ack_abort", "final ACK answered with RST: tcp_abort_on_overflow=1", "§5.2"},
    {"final_ack_bad_ack", "final ACK with a wrong ack number: RST", "§5.1 step 3"},
    {"cookie_ack_valid", "valid SYN cookie in ACK: child created", "§10"},
    {"cookie_ack_invalid", "invalid SYN cookie in ACK", "§10"},
    {"synack_retransmit", "SYN-ACK timer: SYN-ACK retransmitted", "§5.3"},
    {"synack_expired", "SYN-ACK timer: request dropped after its retries", "§5.3"},
    {"client_syn_retransmit", "client SYN retransmitted (same ISN, new TSval)", "§9"},
    {"client_syn_timeout", "client gave up: ETIMEDOUT", "§9"},
    {"client_refused", "client got RST: ECONNREFUSED", "§9"},
    {"client_established", "client got the SYN-ACK: ESTABLISHED", "§8, §9"},
    {"established", "segment for an existing connection", "§2"},
}};
}  // namespace

std::string_view to_string(Action a) {
  switch (a) {
    case Action::SynAck: return "SYN-ACK";
    case Action::CookieSynAck: return "cookie SYN-ACK";
    case Action::SynAckRetransmit: return "SYN-ACK (resent)";
    case Action::Drop: return "silent drop";
    case Action::Rst: return "RST";
    case Action::Ack: return "ACK";
    case Action::ChildCreated: return "child created";
    case Action::Accepted: return "accepted";
    case Action::Ignored: return "ignored";
  }
  return "?";
}

const RuleInfo& rule_info(Rule r) { return kRules[static_cast<std::size_t>(r)]; }

std::string counters_text(const Verdict& v) {
  std::string out;
  for (std::size_t i = 0; i < v.counter_count; ++i) {
    if (!out.empty()) out += ' ';
    out += counter_info(v.counters[i]).field;
  }
  return out;
}

std::string describe(const Verdict& v) {
  const auto& e = v.evidence;
  switch (v.rule) {
    case Rule::PerHostPaws: {
      std::int64_t age = e.now_sec - e.remembered_stamp_sec;
      if (!e.syn_has_ts)
        return fmt::format("SYN has no timestamp and {}'s tcp_metrics entry is {} s old (< 60 s)", "the peer", age);
      return fmt::format(
          "remembered TSval {} (recorded {} s ago, < 60 s) is ahead of the SYN's TSval {} by {} (> 1)",
          e.remembered_tsval, age, e.syn_tsval, static_cast<std::int64_t>(static_cast<std::int32_t>(e.remembered_tsval - e.syn_tsval)));
    }
    case Rule::AcceptQueueFull:
      if (e.young >= 0) return fmt::format("accept queue full: A={} > B={} and young={} > 1", e.a, e.b, e.young);
      return fmt::format("accept queue full: A={} > B={}", e.a, e.b);
    case Rule::SynQueueFullDrop:
    case Rule::SynQueueFullCookie:
      return fmt::format("SYN queue full: Q={} against cap {}", e.q, e.cap);
    case Rule::UnprovenPeer:
      return fmt::format("tcp_max_syn_backlog - Q = {} < {} and the peer is not proven", e.cap - e.q, e.cap / 4);
    case Rule::FinalAckQueueFull:
    case Rule::FinalAckAbortOnOverflow:
      return fmt::format("accept queue full at final ACK: A={} > B={}", e.a, e.b);
    case Rule::SynAckTimeoutExpired:
      return fmt::format("request expired after {} SYN-ACK retransmissions", e.retries);
    case Rule::ClientSynTimeout:
      return fmt::format("gave up after {} SYN retransmissions", e.retries);
    default:
      return std::string(rule_info(v.rule).title);
  }
}

}  // namespace synscope::model
