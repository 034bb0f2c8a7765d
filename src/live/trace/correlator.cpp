#include "live/trace/correlator.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "live/proc_counters.h"
#include "model/listen_rules.h"

namespace synscope::live::trace {

std::string TraceAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string TraceEndpoint::str() const {
  return addr.family == 6 ? fmt::format("[{}]:{}", addr.str(), port) : fmt::format("{}:{}", addr.str(), port);
}

std::string_view to_string(SegmentKind k) {
  switch (k) {
    case SegmentKind::Syn: return "SYN";
    case SegmentKind::FinalAck: return "final ACK";
    case SegmentKind::CookieAck: return "cookie ACK";
  }
  return "?";
}

std::string_view to_string(Confirmation c) {
  switch (c) {
    case Confirmation::Pending: return "pending";
    case Confirmation::Confirmed: return "confirmed";
    case Confirmation::Contradicted: return "contradicted";
    case Confirmation::NotJudged: return "not judged";
  }
  return "?";
}

std::string_view to_string(Observed o) {
  switch (o) {
    case Observed::Nothing: return "nothing";
    case Observed::SynAck: return "SYN-ACK";
    case Observed::CookieSynAck: return "cookie SYN-ACK";
    case Observed::Rst: return "RST";
    case Observed::SynAckRetransmit: return "SYN-ACK retransmission";
  }
  return "?";
}

std::string_view TraceEvent::cause() const { return model::rule_info(predicted.rule).id; }

std::string TraceEvent::summary() const {
  const auto& v = predicted;
  const auto& e = v.evidence;
  switch (v.action) {
    case model::Action::Drop: return fmt::format("dropped: {}", model::describe(v));
    case model::Action::Rst: return fmt::format("RST: {}", model::describe(v));
    case model::Action::CookieSynAck: return fmt::format("cookie SYN-ACK: {}", model::describe(v));
    case model::Action::SynAck: return fmt::format("SYN-ACK (Q={}, A={} ≤ B={})", e.q, e.a, e.b);
    case model::Action::ChildCreated:
      return e.a >= 0 ? fmt::format("child created (A={} ≤ B={})", e.a, e.b) : std::string("child created");
    default: return std::string(model::rule_info(v.rule).title);
  }
}

namespace {

TraceAddr addr_of(const __u8* bytes, int family) {
  TraceAddr a;
  a.family = family == 6 ? 6 : 4;
  std::memcpy(a.bytes.data(), bytes, a.family == 6 ? 16 : 4);
  return a;
}

// What the wire should show after each predicted answer (see judge()).
bool answer_matches(const TraceEvent& e) {
  using model::Action;
  switch (e.predicted.action) {
    case Action::SynAck:
    case Action::SynAckRetransmit: return e.observed == Observed::SynAck;
    case Action::CookieSynAck: return e.observed == Observed::CookieSynAck;
    case Action::Rst: return e.observed == Observed::Rst;
    // A dropped final ACK leaves its request in place (§5.2): the timer's SYN-ACK may follow.
    case Action::Drop:
      return e.observed == Observed::Nothing ||
             (e.kind != SegmentKind::Syn && e.observed == Observed::SynAckRetransmit);
    case Action::ChildCreated: return e.observed == Observed::Nothing;
    default: return true;
  }
}

}  // namespace

Correlator::Correlator(const model::KernelProfile& profile, std::int64_t window_ns)
    : profile_(profile), window_ns_(window_ns), sysctls_(model::Sysctls::defaults_for(profile)) {}

TraceEvent Correlator::predict(const syn_trace_event& r) {
  using model::Action;
  using model::Counter;
  using model::Rule;
  TraceEvent e;
  e.id = next_id_++;
  e.at_ns = static_cast<std::int64_t>(r.ts_ns);
  e.peer = {addr_of(r.peer_addr, r.family), ntohs(r.peer_port)};
  e.local = {addr_of(r.local_addr, r.family), ntohs(r.local_port)};
  e.seq = r.seq;
  e.has_ts = r.has_ts != 0;
  e.tsval = r.tsval;
  if (r.listener_known) e.listener = TraceEndpoint{addr_of(r.listener_addr, r.family), r.listener_port};
  auto& v = e.predicted;
  auto not_judged = [&](Rule rule, std::string note) {
    v.action = Action::Ignored;
    v.rule = rule;
    e.confirmation = Confirmation::NotJudged;
    e.note = std::move(note);
  };

  if (r.kind == SYN_TRACE_SYN_IN) {
    e.kind = SegmentKind::Syn;
    switch (r.found) {
      case SYN_TRACE_FOUND_NONE:
        v.action = Action::Rst;  // §2 step 3
        v.rule = Rule::NoListener;
        return e;
      case SYN_TRACE_FOUND_NEW_SYN_RECV:
        v.action = Action::SynAckRetransmit;  // §2: a retransmitted SYN finds its request
        v.rule = Rule::RetransmittedSyn;
        if (r.listener_known) {
          v.evidence.a = r.accept_queue;
          v.evidence.b = r.backlog;
          v.evidence.q = r.syn_queue;
        }
        return e;
      case SYN_TRACE_FOUND_TIME_WAIT:
        not_judged(Rule::TimeWaitSynAccepted, "SYN met a TIME_WAIT socket (§7.5): accepted or answered with an ACK");
        return e;
      case SYN_TRACE_FOUND_LISTEN: break;
      default:
        not_judged(Rule::Established, "SYN to an existing connection (§2)");
        return e;
    }
    if (!r.listener_known) {
      not_judged(Rule::SynAckSent, "the listener's queues could not be read");
      return e;
    }
    // §3 via the model: the numbers the kernel is about to decide on, read just before it does.
    model::SynContext ctx;
    ctx.q = static_cast<int>(r.syn_queue);
    ctx.young = static_cast<int>(r.young);
    ctx.a = static_cast<int>(r.accept_queue);
    ctx.backlog = static_cast<int>(r.backlog);
    ctx.table_size = model::syn_table_size_310(ctx.backlog, sysctls_.tcp_max_syn_backlog);
    ctx.syn_has_ts = r.has_ts && sysctls_.tcp_timestamps != 0;
    ctx.syn_tsval = r.tsval;
    auto d = model::decide_syn(profile_, sysctls_, ctx);
    v = d.verdict;
    if (v.rule == Rule::UnprovenPeer)
      e.note = "tcp_metrics are not read: a peer with an RTT sample would be answered (§3.6)";
    return e;
  }

  // An ACK of a handshake whose SYN-ACK left: the request's (or, for a cookie, the listener's) queues.
  if (!r.listener_known) {
    e.kind = SegmentKind::FinalAck;
    not_judged(Rule::FinalAckChildCreated, "the listener's queues could not be read");
    return e;
  }
  const int a = static_cast<int>(r.accept_queue), b = static_cast<int>(r.backlog);
  v.evidence.a = a;
  v.evidence.b = b;
  v.evidence.q = r.syn_queue;
  const bool full = model::accept_queue_full_at_ack(a, b);
  if (r.found == SYN_TRACE_FOUND_LISTEN) {
    // §10: no request: the ACK must carry a valid cookie; the child still needs room (§5.1 step 7).
    e.kind = SegmentKind::CookieAck;
    v.count(Counter::SyncookiesRecv);
    if (full) {
      v.action = Action::Drop;
      v.rule = Rule::FinalAckQueueFull;
      v.count(Counter::ListenOverflows);
      v.count(Counter::ListenDrops);
    } else {
      v.action = Action::ChildCreated;
      v.rule = Rule::CookieAckValid;
      v.count(Counter::PassiveOpens);
    }
    return e;
  }
  e.kind = SegmentKind::FinalAck;
  if (full) {
    v.count(Counter::ListenOverflows);
    v.count(Counter::ListenDrops);
    if (sysctls_.tcp_abort_on_overflow) {  // §5.2
      v.action = Action::Rst;
      v.rule = Rule::FinalAckAbortOnOverflow;
      v.count(Counter::EmbryonicRsts);
    } else {
      v.action = Action::Drop;
      v.rule = Rule::FinalAckQueueFull;
    }
  } else {
    v.action = Action::ChildCreated;  // §5.1 step 8
    v.rule = Rule::FinalAckChildCreated;
    v.count(Counter::PassiveOpens);
  }
  return e;
}

void Correlator::add(const syn_trace_event& r) {
  switch (r.kind) {
    case SYN_TRACE_SYN_IN:
    case SYN_TRACE_ACK_IN: pending_.push_back(predict(r)); return;
    case SYN_TRACE_SYNACK_OUT:
    case SYN_TRACE_RST_OUT:
    case SYN_TRACE_SYNACK_RETRANS: {
      TraceEndpoint peer{addr_of(r.peer_addr, r.family), ntohs(r.peer_port)};
      TraceEndpoint local{addr_of(r.local_addr, r.family), ntohs(r.local_port)};
      Observed what = r.kind == SYN_TRACE_RST_OUT ? Observed::Rst
                      : r.kind == SYN_TRACE_SYNACK_RETRANS ? Observed::SynAckRetransmit
                      : r.found == SYN_TRACE_FOUND_NEW_SYN_RECV ? Observed::SynAck
                                                                : Observed::CookieSynAck;
      if (what == Observed::SynAckRetransmit) ++tally_.synack_retransmits;
      observe(peer, local, what, static_cast<std::int64_t>(r.ts_ns));
      return;
    }
    default: return;
  }
}

void Correlator::observe(const TraceEndpoint& peer, const TraceEndpoint& local, Observed what, std::int64_t at_ns) {
  // The newest segment of this 4-tuple that has no answer yet: answers follow their segment in
  // the same softirq, so an older unanswered one was not answered (a dropped SYN before its
  // retransmission, or a final ACK before the client's re-ACK).
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->peer != peer || it->local != local || it->at_ns > at_ns) continue;
    // Outside the segment's window the answer is not its answer (e.g. the SYN-ACK timer firing
    // a second after a dropped final ACK, §5.3), however late the records are read.
    if (at_ns - it->at_ns > window_ns_) return;
    if (it->observed != Observed::Nothing) return;  // already answered: a later duplicate answer
    // The SYN-ACK timer answers no segment; it belongs to a final ACK whose request stayed (§5.2).
    if (what == Observed::SynAckRetransmit && it->kind == SegmentKind::Syn) return;
    it->observed = what;
    return;
  }
}

void Correlator::judge(TraceEvent& e) {
  if (e.confirmation == Confirmation::NotJudged) {
    // counted, not judged
  } else if (answer_matches(e)) {
    e.confirmation = Confirmation::Confirmed;
  } else {
    e.confirmation = Confirmation::Contradicted;
    std::string what = fmt::format("predicted {}, the wire showed {}", model::to_string(e.predicted.action), to_string(e.observed));
    if (e.kind == SegmentKind::CookieAck && e.observed == Observed::Rst)
      what += " (an invalid or expired cookie is answered with RST, §10)";
    if (e.kind == SegmentKind::FinalAck && e.observed == Observed::Rst && e.predicted.action != model::Action::Rst)
      what += " (a final ACK with a wrong ack number is answered with RST, §5.1 step 3)";
    e.note = e.note.empty() ? what : e.note + "; " + what;
  }
  ++tally_.segments;
  ++tally_.by_action[e.predicted.action];
  auto& c = tally_.by_rule[e.predicted.rule];
  c.rule = e.predicted.rule;
  ++c.predicted;
  if (e.confirmation == Confirmation::Confirmed) ++c.confirmed;
  if (e.confirmation == Confirmation::Contradicted) {
    ++c.contradicted;
    ++tally_.contradicted;
  }
  for (std::size_t i = 0; i < e.predicted.counter_count; ++i) tally_.predicted_counters.add(e.predicted.counters[i]);
}

std::vector<TraceEvent> Correlator::settle(std::int64_t now_ns, bool flush) {
  std::vector<TraceEvent> out;
  while (!pending_.empty() && (flush || pending_.front().at_ns + window_ns_ <= now_ns)) {
    judge(pending_.front());
    out.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  return out;
}

model::CounterSet counters_from_proc(const std::string& snmp, const std::string& netstat) {
  model::CounterSet set;
  auto a = parse_counter_text(snmp, "/proc/net/snmp");
  auto b = parse_counter_text(netstat, "/proc/net/netstat");
  for (std::size_t i = 0; i < model::kCounterCount; ++i) {
    auto c = static_cast<model::Counter>(i);
    const auto field = model::counter_info(c).field;
    for (const auto* table : {&a, &b})
      for (const auto& f : table->fields)
        if ((f.group == "Tcp" || f.group == "TcpExt") && f.name == field && f.value > 0)
          set.add(c, static_cast<std::uint64_t>(f.value));
  }
  return set;
}

const std::vector<model::Counter>& checked_counters() {
  using model::Counter;
  static const std::vector<Counter> list = {Counter::ListenOverflows, Counter::ListenDrops, Counter::TCPReqQFullDrop,
                                            Counter::TCPReqQFullDoCookies, Counter::SyncookiesSent,
                                            Counter::EmbryonicRsts};
  return list;
}

}  // namespace synscope::live::trace
