#include "analyze/diagnose.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/seq.h"
#include "core/time.h"

namespace synscope::analyze {

namespace {

constexpr std::int64_t kPawsMsl = 60'000'000'000LL;  // TCP_PAWS_MSL (§7.3)
constexpr std::int32_t kPawsWindow = 1;              // TCP_PAWS_WINDOW (§7.3)

std::string clock(WallTime t) { return format_clock_time(t); }
double secs(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

struct Ctx {
  const Attempt& a;
  const AddressNamer& name;
  bool evidence = true;  // write the evidence sentences (Evidence::Full)
  // An evidence sentence, formatted only when wanted: most diagnosed attempts of a big capture are
  // counted, not shown, and their sentences were most of diagnose()'s cost.
  template <typename Text>
  void say(Cause& cause, Text&& text) const {
    if (evidence) cause.evidence.push_back(text());
  }
  void say(Cause& cause, const char* fixed) const {  // a sentence with nothing to format
    if (evidence) cause.evidence.emplace_back(fixed);
  }
  template <typename Text>
  void add(std::vector<Cause>& out, CauseKind kind, double confidence, Text&& text) const {
    out.push_back({kind, confidence, {}});
    say(out.back(), text);
  }
  std::string ep(const PacketEndpoint& e) const { return endpoint_text(e, name); }
  std::string addr(const IpAddress& x) const { return name(x); }
};

std::vector<const SynSend*> unanswered_syns(const Attempt& a) {
  std::vector<const SynSend*> out;
  for (const SynSend* s = a.syns_begin(); s < a.syns_end(); ++s)
    if (!s->answered) out.push_back(s);
  return out;
}

void per_host_paws(const Ctx& c, const std::vector<const SynSend*>& lost, std::vector<Cause>& out) {
  const Attempt& a = c.a;
  if (!a.server_memory || lost.empty()) return;
  const PeerMemory& m = *a.server_memory;
  int behind = 0, with_ts = 0, inside = 0;
  for (const SynSend* s : lost) {
    const std::int64_t age = s->at.unix_ns - m.closed_at.unix_ns;
    if (age >= 0 && age <= kPawsMsl) ++inside;
    if (!s->has_ts) continue;
    ++with_ts;
    if (s32_diff(m.peer_tsval, s->ts) > kPawsWindow) ++behind;
  }
  const int n = static_cast<int>(lost.size());
  if (inside == 0) return;
  // EL7 and 4.4–4.11 also reject a SYN without timestamps (§7.3); 3.10 mainline does not.
  const bool ts_rule_holds = behind == with_ts && with_ts > 0;
  if (!ts_rule_holds) return;
  Cause cause{CauseKind::PerHostPaws, 0.95, {}};
  if (inside < n || with_ts < n) cause.confidence = 0.75;
  // A SYN of this attempt answered while still inside the window and still behind contradicts it.
  for (const SynSend* s = a.syns_begin(); s < a.syns_end(); ++s) {
    if (!s->answered || !s->has_ts) continue;
    const std::int64_t age = s->at.unix_ns - m.closed_at.unix_ns;
    if (age >= 0 && age <= kPawsMsl && s32_diff(m.peer_tsval, s->ts) > kPawsWindow) cause.confidence = 0.3;
  }
  const SynSend& first = **std::find_if(lost.begin(), lost.end(), [](const SynSend* s) { return s->has_ts; });
  c.say(cause, [&] {
    return fmt::format(
        "SYN TSval {} (frame {}) is {} ticks behind {}, the last TSval {} received from {} before closing first",
        first.ts, first.frame, s32_diff(m.peer_tsval, first.ts), m.peer_tsval, c.addr(a.server.addr),
        c.addr(a.client.addr));
  });
  c.say(cause, [&] {
    return fmt::format(
        "{} was the active closer of {} <-> {} (its FIN: frame {}); that close ended at {}, {:.1f} s before the SYN "
        "(inside TCP_PAWS_MSL = 60 s)",
        c.addr(a.server.addr), c.ep(m.server_side), c.ep(m.peer_side), m.frame, clock(m.closed_at),
        secs(first.at.unix_ns - m.closed_at.unix_ns));
  });
  if (n > 1)
    c.say(cause, [&] {
      return fmt::format("all {} unanswered SYNs of this attempt carry TSvals behind {}", n, m.peer_tsval);
    });
  for (const SynSend* s = a.syns_begin(); s < a.syns_end(); ++s)
    if (s->answered) {
      const std::int64_t age = s->at.unix_ns - m.closed_at.unix_ns;
      c.say(cause, [&] {
        return fmt::format("the SYN at {} was answered: {:.1f} s after the close{}", clock(s->at), secs(age),
                           age > kPawsMsl ? " (the 60 s window had passed)" : "");
      });
      break;
    }
  // A TS clock only moves forward (§8): a SYN far behind what the same address sent before comes
  // from another clock — another host behind the same address (NAT), or the peer rebooted.
  c.say(cause, [&] {
    return fmt::format(
        "a TS clock does not run backwards: TSval {} and {} come from different clocks behind {} — several hosts "
        "share that address (NAT){}",
        m.peer_tsval, first.ts, c.addr(a.client.addr),
        a.client_ts_clocks >= 2 ? fmt::format("; {} clocks seen in its SYNs", a.client_ts_clocks) : std::string());
  });
  c.say(cause,
        "needs tcp_tw_recycle=1 and tcp_timestamps on the server (kernels <= 4.11; removed in 4.12); "
        "counted as PAWSPassive and ListenDrops");
  out.push_back(std::move(cause));
}

void queue_overflow(const Ctx& c, bool delayed, std::vector<Cause>& out) {
  const Attempt& a = c.a;
  if (a.port_ack_ignored_near) {
    Cause cause{CauseKind::AcceptQueueFull, 0.85, {}};
    c.say(cause, [&] {
      return fmt::format(
          "{} ignored other clients' final ACKs within 10 s (re-sent SYN-ACKs after the ACK): its accept queue "
          "was full, and a SYN arriving on a full accept queue is dropped",
          c.ep(a.server));
    });
    c.say(cause, "counted as ListenOverflows and ListenDrops; ss -lnt shows Recv-Q > Send-Q");
    out.push_back(std::move(cause));
  } else if (a.port_cookies_near) {
    Cause cause{CauseKind::AcceptQueueFull, 0.7, {}};
    c.say(cause, [&] {
      return fmt::format(
          "{} was answering with SYN cookies within 10 s, yet this SYN got nothing: cookies do not bypass the "
          "accept-queue check (§10), so the accept queue was full",
          c.ep(a.server));
    });
    out.push_back(std::move(cause));
  } else if (a.idle_children_at_syn >= 1 && a.port_quiet_at_syn >= 1.0 && a.half_open_at_syn < 8) {
    // Circumstantial: a server that stalls for other reasons looks the same from the wire.
    Cause cause{CauseKind::AcceptQueueFull, 0.5, {}};
    c.say(cause, [&] {
      return fmt::format(
          "{} had answered SYNs before but none for {:.1f} s, while {} connection(s) on it had completed their "
          "handshake without a word from the server since: an application that stopped calling accept(), with the "
          "SYN dropped on the full accept queue",
          c.ep(a.server), a.port_quiet_at_syn, a.idle_children_at_syn);
    });
    c.say(cause, "counted as ListenOverflows and ListenDrops; ss -lnt shows Recv-Q > Send-Q");
    out.push_back(std::move(cause));
  }
  if (a.half_open_at_syn >= 8 && !a.port_cookies_near) {
    Cause cause{CauseKind::SynQueueFull, a.half_open_at_syn >= 32 ? 0.85 : 0.6, {}};
    c.say(cause, [&] {
      return fmt::format(
          "{} half-open handshakes on {} when the SYN came (SYN-ACK sent, no final ACK): the SYN queue was full or "
          "3/4 full for an unproven peer",
          a.half_open_at_syn, c.ep(a.server));
    });
    c.say(cause,
          "no SYN cookie seen on the port (tcp_syncookies=0?); counted as ListenDrops (and TCPReqQFullDrop on 4.x+)");
    out.push_back(std::move(cause));
  }
  (void)delayed;
}

}  // namespace

std::string endpoint_text(const PacketEndpoint& e, const AddressNamer& name) {
  std::string host = name(e.addr);
  if (e.addr.v6 && host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, e.port);
  return fmt::format("{}:{}", host, e.port);
}

void diagnose(Attempt& a, const AddressNamer& name, Evidence evidence) {
  a.causes.clear();
  const Ctx c{a, name, evidence == Evidence::Full};
  std::vector<Cause>& out = a.causes;
  const bool failed = is_failure(a.outcome);
  if (!failed && !a.delayed()) return;

  switch (a.outcome) {
    case Outcome::ResetAfterAck: {
      // An application that accepts and resets at once looks the same; overload signs on the port
      // (ignored final ACKs) make the accept-queue reading likely.
      Cause cause{CauseKind::AbortOnOverflow, a.port_ack_ignored_near ? 0.85 : 0.5, {}};
      c.say(cause, [&] {
        return fmt::format(
            "the client ACKed the SYN-ACK at {} and {} answered that ACK with RST before "
            "any data: with tcp_abort_on_overflow=1 a full accept queue does this",
            clock(*a.client_ack_at), c.ep(a.server));
      });
      if (!a.port_ack_ignored_near)
        c.say(cause,
              "no other sign of a full accept queue on the port: an application that accepts and resets at once "
              "looks the same");
      out.push_back(std::move(cause));
      return;
    }
    case Outcome::AckIgnored:
      c.add(out, CauseKind::AcceptQueueFull, 0.9, [&] {
        return fmt::format(
            "the client ACKed at {}, then {} re-sent its SYN-ACK {} time(s): the final ACK was "
            "dropped because the accept queue was full (ListenOverflows)",
            clock(*a.client_ack_at), c.ep(a.server), a.synacks_after_ack);
      });
      return;
    case Outcome::Refused:
      c.add(out, CauseKind::NoListener, 0.9, [&] {
        return fmt::format(
            "{} answered the SYN with RST{}: no socket listens there (or a firewall rejects with "
            "tcp-reset)",
            c.ep(a.server), a.syn_count > 1 ? fmt::format(" ({} SYNs, RST each time)", a.syn_count) : "");
      });
      return;
    case Outcome::Unreachable:
      c.add(out, CauseKind::Filtered, 0.9, [&] { return fmt::format("ICMP {} in answer to the SYN", *a.icmp); });
      return;
    default:
      break;
  }
  if (a.outcome == Outcome::Established && a.synacks_after_ack > 0) {
    c.add(out, CauseKind::AcceptQueueFull, 0.85, [&] {
      return fmt::format(
          "the client ACKed at {}, {} re-sent its SYN-ACK {} time(s) before taking the connection "
          "at {}: the accept queue was full",
          clock(*a.client_ack_at), c.ep(a.server), a.synacks_after_ack, clock(*a.established_at));
    });
    return;
  }

  if (a.delayed() && a.rsts > 0) {
    c.add(out, CauseKind::NoListener, 0.6, [&] {
      return fmt::format(
          "{} answered {} with RST before a retry got its SYN-ACK at {}: nothing listened yet, or "
          "a stack that resets instead of dropping when its backlog is full (Windows)",
          c.ep(a.server), a.rsts == 1 ? std::string("a SYN") : fmt::format("{} SYNs", a.rsts), clock(a.synack->at));
    });
    return;
  }
  // SYNs that got no answer (all of them, or the ones before a late answer).
  const auto lost = unanswered_syns(a);
  per_host_paws(c, lost, out);
  queue_overflow(c, a.delayed(), out);
  if (out.empty() && a.outcome == Outcome::Unanswered) {
    if (!a.host_ever_spoke)
      c.add(out, CauseKind::SilentHost, 0.6, [&] {
        return fmt::format(
            "{} sent no packet at all in the capture: the SYNs never reached a listening "
            "stack (host down, routing, or a firewall that drops)",
            c.addr(a.server.addr));
      });
    else if (!a.port_ever_answered)
      c.add(out, CauseKind::SilentPort, 0.5, [&] {
        return fmt::format(
            "{} answered on other connections but never on port {}: a firewall drop rule "
            "is likely (a closed port would send RST)",
            c.addr(a.server.addr), a.server.port);
      });
  }
  if (out.empty() && a.delayed() && lost.size() == 1 && lost.front() == a.syns_begin())
    c.add(out, CauseKind::PacketLoss, 0.4, [&] {
      return fmt::format(
          "only the first SYN went unanswered and its retransmission at {} worked: a one-off "
          "loss, or a queue that was full for a moment",
          clock(a.syns_begin()[1].at));
    });
  if (out.empty()) {
    Cause u{CauseKind::Unexplained, 0, {}};
    c.say(u, [&] {
      return fmt::format("{} SYN(s) without answer over {:.1f} s", lost.size(),
                         secs(a.last_syn().at.unix_ns - a.first_syn().unix_ns));
    });
    if (a.port_ever_answered) c.say(u, [&] { return fmt::format("{} answered other attempts", c.ep(a.server)); });
    if (a.server_memory)
      c.say(u, [&] {
        return fmt::format("{} closed a connection with {} first at {}, but the SYN TSvals are not behind {}",
                           c.addr(a.server.addr), c.addr(a.client.addr), clock(a.server_memory->closed_at),
                           a.server_memory->peer_tsval);
      });
    out.push_back(std::move(u));
  }
  std::stable_sort(out.begin(), out.end(), [](const Cause& x, const Cause& y) { return x.confidence > y.confidence; });
}

}  // namespace synscope::analyze
