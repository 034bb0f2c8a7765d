#include "model/explain_chain.h"

#include <fmt/format.h>

#include "model/listen_rules.h"

namespace synscope::model {

std::string explain_chain(const KernelProfile& p, const Sysctls& s, int backlog) {
  int b = effective_backlog(backlog, s);
  int cap = syn_queue_cap(p, b, s.tcp_max_syn_backlog);
  std::string out = fmt::format("Kernel profile {}: {} (e.g. {})\n", p.name, p.title, p.release);
  out += fmt::format(
      "sysctls: tcp_syncookies={} tcp_timestamps={} tcp_max_syn_backlog={} somaxconn={} tcp_abort_on_overflow={} "
      "tcp_synack_retries={} tcp_syn_retries={}{}{}\n",
      s.tcp_syncookies, s.tcp_timestamps, s.tcp_max_syn_backlog, s.somaxconn, s.tcp_abort_on_overflow,
      s.tcp_synack_retries, s.tcp_syn_retries, p.has_tw_recycle ? fmt::format(" tcp_tw_recycle={}", s.tcp_tw_recycle) : "",
      p.has_syn_linear_timeouts ? fmt::format(" tcp_syn_linear_timeouts={}", s.tcp_syn_linear_timeouts) : "");
  out += fmt::format("listen(fd, {}) gives backlog B = {}{}.\n\n", backlog, b,
                     b != backlog ? fmt::format(" (capped by somaxconn={}, §6.1)", s.somaxconn) : " (§6.1)");

  out += "A SYN to a listening socket goes through, in order:\n";
  int step = 0;
  auto line = [&](const std::string& text) { out += fmt::format("{:>3}. {}\n", ++step, text); };
  line("Socket lookup (§2 step 3): an existing request, connection or TIME_WAIT bucket for the 4-tuple takes the "
       "segment first; a retransmitted SYN that finds its request gets the SYN-ACK again (TCPSynRetrans). No listener → RST.");
  line("SYN to a TIME_WAIT bucket (§7.5): accepted as a new connection if its sequence or TSval is newer; it then "
       "skips checks 4 and 6 (isn != 0). Otherwise an ACK is sent.");
  line("Broadcast/multicast destination → drop (ListenDrops) (§3.1 step 1).");
  {
    std::string full;
    switch (p.syn_queue_full) {
      case SynQueueFullTest::PowerOfTwoTable:
        full = fmt::format("SYN queue Q >= N = {} (power-of-two table from min(B, tcp_max_syn_backlog), §6.2)", cap);
        break;
      case SynQueueFullTest::AtLeastBacklog: full = fmt::format("SYN queue Q >= B = {} (§6.3)", b); break;
      case SynQueueFullTest::AboveBacklog: full = fmt::format("SYN queue Q > B = {} (§6.3, 6.13+)", b); break;
    }
    std::string action;
    if (s.tcp_syncookies == 0)
      action = "tcp_syncookies=0 → drop (TCPReqQFullDrop, ListenDrops) and log 'Possible SYN flooding … Dropping request' once";
    else
      action = "→ answer with a SYN cookie (TCPReqQFullDoCookies, SyncookiesSent) and log once";
    if (s.tcp_syncookies == 2)
      line(fmt::format("tcp_syncookies=2: every SYN is answered with a cookie (TCPReqQFullDoCookies, SyncookiesSent; "
                       "no log) (§10)."));
    else
      line(fmt::format("SYN-queue full test: {}; {} (§3.1 step 2).", full, action));
  }
  line(fmt::format("Accept-queue test: {} with B = {} → drop (ListenOverflows, ListenDrops) (§3.1 step 3){}.",
                   to_string(p.accept_queue_syn), b,
                   p.accept_queue_syn == AcceptQueueSynTest::FullAndYoung
                       ? "; while at most one request is young the SYN is still answered and the final ACK is dropped "
                         "instead"
                       : ""));
  if (p.has_tw_recycle) {
    if (s.tcp_tw_recycle) {
      line(fmt::format(
          "Per-host PAWS (tcp_tw_recycle=1, §3.1 step 7a, §7.3): if tcp_metrics (keyed by {}) remembers a timestamp "
          "for the peer, recorded less than 60 s ago when this host closed a connection first, and it is more than 1 "
          "ahead of the SYN's TSval{} → drop (PAWSPassive, ListenDrops).",
          to_string(p.metrics_key),
          p.per_host_paws == PerHostPawsRule::RejectsNoTs ? " (or the SYN has no timestamp at all)"
                                                         : " (SYNs without timestamps are not checked)"));
    } else {
      line("Per-host PAWS: off (tcp_tw_recycle=0) (§3.1 step 7a).");
    }
  } else {
    line("Per-host PAWS: not in this kernel (tcp_tw_recycle removed in 4.12, §7.7).");
  }
  {
    bool reachable = !(p.has_tw_recycle && s.tcp_tw_recycle && p.per_host_paws == PerHostPawsRule::RejectsNoTs);
    if (s.tcp_syncookies != 0 || !reachable)
      line(fmt::format("Unproven-peer clause: not applied ({}) (§3.1 step 7b).",
                       s.tcp_syncookies != 0 ? "syncookies are on" : "it is the else-branch of tcp_tw_recycle"));
    else
      line(fmt::format("Unproven-peer clause (§3.1 step 7b): with tcp_syncookies=0, once tcp_max_syn_backlog - Q < {} "
                       "(Q > {}) a SYN from a peer with no RTT in tcp_metrics is dropped (ListenDrops); {}.",
                       s.tcp_max_syn_backlog >> 2, s.tcp_max_syn_backlog - (s.tcp_max_syn_backlog >> 2),
                       to_string(p.unproven_route)));
  }
  line(fmt::format("Otherwise: request queued (Q+1, young+1), SYN-ACK sent{} (§3.1 step 10).",
                   p.cookie_counts_listen_drop ? "; a cookie SYN-ACK is also counted in ListenDrops on this kernel" : ""));
  out += "\nAfter the SYN-ACK (§5):\n";
  out += fmt::format(
      "  - SYN-ACK retransmitted after 1, 2, 4, 8, 16 s ({}), up to tcp_synack_retries={}, fewer when the SYN queue "
      "is under pressure ({}); then the request is dropped silently (TCPTimeouts).\n",
      to_string(p.synack_timer), s.tcp_synack_retries, to_string(p.synq_pressure));
  out += fmt::format(
      "  - Final ACK with the accept queue full (A > B): {}.\n",
      s.tcp_abort_on_overflow ? "RST to the client (tcp_abort_on_overflow=1; EmbryonicRsts, ListenOverflows, ListenDrops)"
                              : "ignored (ListenOverflows, ListenDrops); the request stays and the SYN-ACK is "
                                "retransmitted, each answer ignored until accept() makes room");
  out += "\nClient side (§9):\n";
  std::string times;
  Duration t{};
  int retrans = 0;
  Sysctls cs = s;
  times = "0";
  for (;;) {
    t += syn_rto(p, cs, retrans);
    if (syn_gives_up(p, cs, cs.tcp_syn_retries, retrans, t)) break;
    ++retrans;
    times += fmt::format(", {}", t.count() / 1000000000);
  }
  out += fmt::format("  - SYNs at {} s ({}), ETIMEDOUT at {} s; every retransmission keeps the ISN and carries a new "
                     "TSval.\n",
                     times, to_string(p.syn_schedule), t.count() / 1000000000);
  out += fmt::format("  - TS clock: {}; TSval offset: {} (§7.7, §8).\n", ts_clock_text(p), to_string(p.ts_offset));
  return out;
}

std::string profiles_table() {
  std::string out;
  out += fmt::format("{:<7} {:<20} {:<22} {:<13} {:<21} {:<9} {:<16} {:<7} {}\n", "profile", "SYN queue full",
                     "accept test at SYN", "tw_recycle", "TS clock/offset", "somaxconn", "SYN schedule",
                     "cookie", "title");
  for (const auto& p : all_profiles()) {
    std::string synq = p.syn_queue_full == SynQueueFullTest::PowerOfTwoTable ? "Q >= N (pow2 table)"
                       : p.syn_queue_full == SynQueueFullTest::AtLeastBacklog ? "Q >= B"
                                                                               : "Q > B";
    std::string recycle = !p.has_tw_recycle ? "removed"
                          : p.per_host_paws == PerHostPawsRule::NeedsSynTs ? "yes (TS only)"
                                                                           : "yes (+no-TS)";
    std::string ts = fmt::format("{}/{}", p.ts_clock == TsClock::Jiffies ? "jiffies" : "1 ms", to_string(p.ts_offset));
    std::string sched = p.syn_schedule == SynRetransmitSchedule::Exponential ? "1,2,4,..." : "1 s x5, 2,4,...";
    out += fmt::format("{:<7} {:<20} {:<22} {:<13} {:<21} {:<9} {:<16} {:<7} {}\n", p.name, synq,
                       to_string(p.accept_queue_syn), recycle, ts, p.somaxconn_default, sched,
                       p.cookie_counts_listen_drop ? "+drops" : "", p.title);
  }
  out += "\ncookie \"+drops\": every cookie SYN-ACK also counts ListenDrops (§3.8). Details: synscope explain --kernel NAME\n";
  return out;
}

}  // namespace synscope::model
