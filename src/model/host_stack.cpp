#include "model/host_stack.h"

#include <algorithm>
#include <cassert>
#include <fmt/format.h>

#include "core/seq.h"

namespace synscope::model {
namespace {

using namespace tcp_flag;

constexpr Duration kRtoMin = millis(200);           // TCP_RTO_MIN (§7.4)
constexpr Duration kRtoMax = seconds(120);          // TCP_RTO_MAX
constexpr Duration kSynqInterval = millis(200);     // TCP_SYNQ_INTERVAL (§5.3, 3.10/EL7)
constexpr Duration kRecycleTick = millis(128);      // 2^(10+2-5) jiffies at HZ=1000 (§7.4)
constexpr Duration kTwWheelSlot = millis(7500);     // 60 s / 8 slots (§7.4)
constexpr Duration kOowRateLimit = millis(500);     // tcp_invalid_ratelimit (§2)
constexpr std::uint16_t kCookieMss[4] = {536, 1300, 1440, 1460};  // §10
constexpr int kMaxDataRetries = 15;                 // tcp_retries2

SimTime round_up(SimTime t, SimTime origin, Duration step) {
  auto rel = (t - origin).count();
  auto s = step.count();
  auto k = (rel + s - 1) / s;
  return origin + Duration{k * s};
}

void put_syn_options(TcpOptions& o, std::uint16_t mss, bool ts, std::uint32_t tsval, std::uint32_t tsecr, bool sack,
                     int wscale) {
  // Linux order: mss, then sackOK folded into the TS word when both are on, else nop,nop,sackOK.
  o.mss(mss);
  if (ts) {
    if (sack) o.sack_ok(); else { o.nop(); o.nop(); }
    o.timestamp(tsval, tsecr);
  } else if (sack) {
    o.nop();
    o.nop();
    o.sack_ok();
  }
  if (wscale >= 0) {
    o.nop();
    o.wscale(static_cast<std::uint8_t>(wscale));
  }
}

// §10: the largest table entry not above the peer's MSS (index 0 below 536).
int mss_index(std::uint16_t peer_mss) {
  for (int i = 3; i > 0; --i)
    if (kCookieMss[i] <= peer_mss) return i;
  return 0;
}

}  // namespace

std::string_view to_string(ConnectError e) {
  switch (e) {
    case ConnectError::TimedOut: return "ETIMEDOUT";
    case ConnectError::Refused: return "ECONNREFUSED";
    case ConnectError::Reset: return "ECONNRESET";
  }
  return "?";
}

std::string_view to_string(TcpState s) {
  switch (s) {
    case TcpState::Closed: return "CLOSED";
    case TcpState::SynSent: return "SYN_SENT";
    case TcpState::Established: return "ESTABLISHED";
    case TcpState::FinWait1: return "FIN_WAIT1";
    case TcpState::FinWait2: return "FIN_WAIT2";
    case TcpState::CloseWait: return "CLOSE_WAIT";
    case TcpState::LastAck: return "LAST_ACK";
    case TcpState::Closing: return "CLOSING";
  }
  return "?";
}

HostStack::HostStack(const KernelProfile& profile, const Sysctls& sysctls, const HostConfig& config, StackEnv& env)
    : profile_(profile),
      sysctls_(sysctls),
      config_(config),
      env_(env),
      clock_(profile, config.ts_clock_start, config.hz, mix64(config.secret ^ 0x7473)),
      metrics_(profile.metrics_key),
      rng_(config.secret) {
  if (config_.synack_window == 0) config_.synack_window = config_.syn_window;
}

// ---------------------------------------------------------------------------------------------
// Output

void HostStack::emit(Segment& seg) {
  seg.ip_id = ip_id_++;
  counters_.add(Counter::OutSegs);
  if (seg.flags & RST) counters_.add(Counter::OutRsts);
  env_.transmit(seg);
}

void HostStack::count_sk_drops(Listener& l, const Verdict& v, bool discarded_final_ack) {
  if (!profile_.tracks_sk_drops) return;
  for (std::size_t i = 0; i < v.counter_count; ++i)
    if (v.counters[i] == Counter::ListenDrops) ++l.drops;  // tcp_listendrop()
  if (discarded_final_ack) ++l.drops;                      // tcp_v4_rcv discard_and_relse (§17)
}

void HostStack::apply(const Verdict& v) {
  for (std::size_t i = 0; i < v.counter_count; ++i) counters_.add(v.counters[i]);
}

void HostStack::report(SimTime now, const FourTuple& t, const Segment* seg, const Verdict& v) {
  Decision d;
  d.at = now;
  d.tuple = t;
  d.verdict = v;
  if (seg) {
    d.seq = seg->seq;
    if (auto ts = seg->options.ts()) {
      d.has_ts = true;
      d.tsval = ts->val;
    }
  }
  env_.on_decision(d);
}

void HostStack::send_synack(const Request& r, SimTime now, bool retransmit) {
  Segment s;
  s.src = r.tuple.local;
  s.dst = r.tuple.remote;
  s.seq = r.snt_isn;
  s.ack = r.rcv_isn + 1;
  s.flags = SYN | ACK;
  s.window = config_.synack_window;
  put_syn_options(s.options, config_.mss, r.saw_ts, tsval(now, r.ts_off), r.ts_recent, r.sack_ok,
                  r.snd_wscale >= 0 ? config_.wscale : -1);
  if (retransmit) {
    counters_.add(Counter::RetransSegs);
    counters_.add(Counter::TCPSynRetrans);
  }
  emit(s);
}

Segment HostStack::established_segment(const FourTuple& t, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                                       bool ts, std::uint32_t ts_off, std::uint32_t ts_recent, SimTime now) const {
  Segment s;
  s.src = t.local;
  s.dst = t.remote;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.window = config_.window;
  if (ts) {  // Linux aligns the TS option with two NOPs on established segments
    s.options.nop();
    s.options.nop();
    s.options.timestamp(tsval(now, ts_off), ts_recent);
  }
  return s;
}

void HostStack::send_conn(Conn& c, std::uint8_t flags, SimTime now, std::string_view payload, std::uint32_t len) {
  Segment s = established_segment(c.tuple, c.snd_nxt, c.rcv_nxt, flags, c.ts_ok, c.ts_off, c.ts_recent, now);
  s.payload = payload;
  s.payload_len = len;
  emit(s);
}

void HostStack::send_syn(Conn& c, SimTime now) {
  Segment s;
  s.src = c.tuple.local;
  s.dst = c.tuple.remote;
  s.seq = c.iss;
  s.flags = SYN;
  s.window = config_.syn_window;
  std::uint32_t tv = tsval(now, c.ts_off);
  put_syn_options(s.options, config_.mss, timestamps_on(), tv, 0, true, config_.wscale);
  if (c.syn_retransmits == 0) c.first_syn_tsval = tv;
  c.syn_last = now;
  emit(s);
}

void HostStack::send_rst_for(const Segment& in) {
  // RFC 793 reset generation: answer an ACK with seq=ack, anything else with ack=seq+len.
  Segment s;
  s.src = in.dst;
  s.dst = in.src;
  if (in.flags & ACK) {
    s.seq = in.ack;
    s.flags = RST;
  } else {
    s.seq = 0;
    s.ack = in.seq + in.seq_len();
    s.flags = RST | ACK;
  }
  emit(s);
}

void HostStack::send_tw_ack(const TimeWait& tw, SimTime now) {
  Segment s = established_segment(tw.tuple, tw.snd_nxt, tw.rcv_nxt, ACK, tw.has_ts, tw.ts_off, tw.ts_recent, now);
  emit(s);
}

// ---------------------------------------------------------------------------------------------
// Socket calls

ListenerId HostStack::listen(std::uint16_t port, int backlog, std::uint64_t tag, SimTime now) {
  auto it = listener_by_port_.find(port);
  if (it != listener_by_port_.end()) {
    // §6.1: listen() again only updates B (the 3.10 table is not resized).
    listeners_[it->second].backlog = effective_backlog(backlog, sysctls_);
    return it->second;
  }
  Listener l;
  l.port = port;
  l.backlog = effective_backlog(backlog, sysctls_);
  l.table_size = syn_queue_cap(profile_, l.backlog, sysctls_.tcp_max_syn_backlog);
  l.created = now;
  l.tag = tag;
  listeners_.push_back(std::move(l));
  ListenerId id = static_cast<ListenerId>(listeners_.size() - 1);
  listener_by_port_[port] = id;
  return id;
}

std::optional<ConnId> HostStack::accept(ListenerId id) {
  auto& l = listeners_.at(id);
  while (!l.accept_queue.empty()) {
    ConnId c = l.accept_queue.front();
    l.accept_queue.pop_front();
    if (live_conn(c)) return c;
  }
  return std::nullopt;
}

std::uint16_t HostStack::pick_port(Endpoint remote) {
  // ip_local_port_range 32768–60999; start at a random point, walk until the 4-tuple is free.
  constexpr std::uint32_t lo = 32768, hi = 60999;
  std::uint32_t span = hi - lo + 1;
  std::uint32_t start = static_cast<std::uint32_t>(rng_.below(span));
  for (std::uint32_t i = 0; i < span; ++i) {
    std::uint16_t port = static_cast<std::uint16_t>(lo + (start + i) % span);
    if (!ehash_.contains(FourTuple{{config_.addr, port}, remote}) && !listener_by_port_.count(port)) return port;
  }
  return static_cast<std::uint16_t>(lo + start);
}

ConnId HostStack::connect(Endpoint remote, SimTime now, std::uint64_t tag, std::optional<std::uint16_t> sport,
                          std::optional<int> syn_retries) {
  std::uint32_t ci = new_conn();
  Conn& c = conns_[ci];
  std::uint16_t port = sport ? *sport : pick_port(remote);
  c.tuple = FourTuple{{config_.addr, port}, remote};
  c.state = TcpState::SynSent;
  c.iss = secure_isn(c.tuple, now);
  c.snd_una = c.iss;
  c.snd_nxt = c.iss + 1;
  c.ts_off = clock_.offset(c.tuple.local, remote, sysctls_.tcp_timestamps);
  c.syn_first = now;
  c.syn_retries = syn_retries.value_or(sysctls_.tcp_syn_retries);
  c.tag = tag;
  if (auto* old = ehash_.find(c.tuple); old && old->kind == SockKind::TimeWait) {
    // §7.6: the 4-tuple is reused from a TIME_WAIT bucket (outgoing side).
    kill_timewait(old->index);
    counters_.add(Counter::TWRecycled);
  }
  ehash_.set(c.tuple, SockRef{SockKind::Conn, ci});
  counters_.add(Counter::ActiveOpens);
  send_syn(c, now);
  arm_conn_timer(ci, TimerKind::ClientSyn, now + syn_rto(profile_, sysctls_, 0));
  return ConnId{ci, c.gen};
}

ConnId HostStack::adopt_established(const FourTuple& t, std::uint32_t local_next_seq, std::uint32_t peer_next_seq,
                                   std::optional<std::uint32_t> peer_tsval, SimTime now, std::uint64_t tag) {
  if (ehash_.find(t)) return ConnId{};
  bool ts_ok = peer_tsval.has_value() && timestamps_on();
  std::uint32_t off = ts_ok ? clock_.offset(t.local, t.remote, sysctls_.tcp_timestamps) : 0;
  std::uint32_t ci = child_from(t, local_next_seq - 1, peer_next_seq - 1, ts_ok, peer_tsval.value_or(0), off, false, now);
  Conn& c = conns_[ci];
  c.rto = kRtoMin;  // RTT unknown: assume a LAN (TCP_RTO_MIN)
  c.tag = tag;
  return ConnId{ci, c.gen};
}

void HostStack::set_tag(ConnId id, std::uint64_t tag) {
  if (Conn* c = live_conn(id)) c->tag = tag;
}

void HostStack::send(ConnId id, std::string_view payload, SimTime now) {
  if (!live_conn(id)) return;
  Conn& c = conns_[id.index];
  if (c.state != TcpState::Established && c.state != TcpState::CloseWait) return;
  auto len = static_cast<std::uint32_t>(payload.size());
  send_conn(c, PSH | ACK, now, payload, len);
  c.snd_nxt += len;
}

void HostStack::close(ConnId id, SimTime now) {
  if (!live_conn(id)) return;
  Conn& c = conns_[id.index];
  c.app_closed = true;
  switch (c.state) {
    case TcpState::SynSent:
      destroy_conn(id.index);
      return;
    case TcpState::Established:
    case TcpState::CloseWait: {
      c.state = c.state == TcpState::Established ? TcpState::FinWait1 : TcpState::LastAck;
      c.unacked_fin_seq = c.snd_nxt;
      send_conn(c, FIN | ACK, now);
      c.snd_nxt += 1;
      c.fin_sent = true;
      c.rexmit_count = 0;
      arm_conn_timer(id.index, TimerKind::Retransmit, now + c.rto);
      return;
    }
    default: return;
  }
}

// ---------------------------------------------------------------------------------------------
// Inspection

ListenerSnapshot HostStack::listener_snapshot(ListenerId id) const {
  const auto& l = listeners_.at(id);
  ListenerSnapshot s;
  s.port = l.port;
  s.backlog = l.backlog;
  s.table_size = l.table_size;
  s.q = l.q;
  s.young = l.young;
  s.a = static_cast<int>(l.accept_queue.size());
  s.drops = l.drops;
  return s;
}

std::optional<TcpState> HostStack::state_of(ConnId id) const {
  if (const Conn* c = conns_.live_at(id.index, id.gen)) return c->state;
  return std::nullopt;
}

std::optional<FourTuple> HostStack::tuple_of(ConnId id) const {
  if (id.index >= conns_.size() || conns_[id.index].gen != id.gen) return std::nullopt;
  return conns_[id.index].tuple;
}

// ---------------------------------------------------------------------------------------------
// Allocation

std::uint32_t HostStack::new_conn() { return conns_.acquire(); }

void HostStack::destroy_conn(std::uint32_t ci) {
  Conn& c = conns_[ci];
  if (!c.live) return;
  auto* ref = ehash_.find(c.tuple);
  if (ref && ref->kind == SockKind::Conn && ref->index == ci) ehash_.erase(c.tuple);
  c.state = TcpState::Closed;
  disarm(c.timer);
  conns_.release(ci);
}

void HostStack::kill_timewait(std::uint32_t ti) {
  ehash_.erase(tws_[ti].tuple);
  disarm(tws_[ti].timer);
  tws_.release(ti);
}

void HostStack::remove_request(std::uint32_t ri) {
  Request& r = requests_[ri];
  if (!r.live) return;
  Listener& l = listeners_[r.listener];
  --l.q;
  if (r.num_timeout == 0) --l.young;
  ehash_.erase(r.tuple);
  disarm(r.timer);
  requests_.release(ri);
}

void HostStack::arm_conn_timer(std::uint32_t ci, TimerKind kind, SimTime at) {
  Conn& c = conns_[ci];
  ++c.timer_gen;
  rearm(c.timer, at, TimerRef{kind, ci, c.timer_gen});
}

void HostStack::rearm(std::uint64_t& handle, SimTime at, TimerRef ref) {
  disarm(handle);
  handle = env_.arm_timer(at, ref);
}

void HostStack::disarm(std::uint64_t& handle) {
  if (handle != 0) env_.cancel_timer(handle);
  handle = 0;
}

std::uint32_t HostStack::secure_isn(const FourTuple& t, SimTime now) const {
  // §9: keyed hash of the 4-tuple plus a 64 ns clock.
  auto h = keyed_hash(config_.secret, endpoint_key(t.local), endpoint_key(t.remote));
  auto clock = static_cast<std::uint64_t>((config_.epoch + now).unix_ns) >> 6;
  return static_cast<std::uint32_t>(h + clock);
}

std::uint32_t HostStack::cookie_isn(const FourTuple& t, std::uint32_t client_isn, std::uint32_t minute,
                                    int mss_idx) const {
  // §10: hash of the 4-tuple + client ISN + minute counter in the top 8 bits + a second hash that
  // carries the 2-bit MSS index in the low 24 bits. (Structure after the kernel; the hash is ours.)
  auto key = mix64(config_.secret ^ 0x636f6f6b6965ULL);
  auto h1 = static_cast<std::uint32_t>(keyed_hash(key, endpoint_key(t.local), endpoint_key(t.remote), 1));
  auto h2 = static_cast<std::uint32_t>(keyed_hash(key, endpoint_key(t.local), endpoint_key(t.remote), 2 + minute));
  return h1 + client_isn + (minute << 24) + ((h2 + static_cast<std::uint32_t>(mss_idx)) & 0xffffffu);
}

std::optional<int> HostStack::cookie_check(const FourTuple& t, std::uint32_t client_isn, std::uint32_t cookie,
                                           std::uint32_t minute) const {
  auto key = mix64(config_.secret ^ 0x636f6f6b6965ULL);
  auto h1 = static_cast<std::uint32_t>(keyed_hash(key, endpoint_key(t.local), endpoint_key(t.remote), 1));
  std::uint32_t diff = cookie - h1 - client_isn;
  std::uint32_t age = (minute - (diff >> 24)) & 0xffu;
  if (age >= 2) return std::nullopt;  // MAX_SYNCOOKIE_AGE
  std::uint32_t when = minute - age;
  auto h2 = static_cast<std::uint32_t>(keyed_hash(key, endpoint_key(t.local), endpoint_key(t.remote), 2 + when));
  std::uint32_t idx = (diff - (when << 24) - h2) & 0xffffffu;
  if (idx >= 4) return std::nullopt;
  return static_cast<int>(idx);
}

// ---------------------------------------------------------------------------------------------
// Receive

void HostStack::receive(const Segment& seg, SimTime now) {
  counters_.add(Counter::InSegs);
  FourTuple t{seg.dst, seg.src};
  if (auto* found = ehash_.find(t)) {
    SockRef ref = *found;
    switch (ref.kind) {
      case SockKind::Conn: receive_conn(ref.index, seg, now); return;
      case SockKind::Request: receive_request(ref.index, seg, now); return;
      case SockKind::TimeWait: receive_timewait(ref.index, seg, now); return;
    }
  }
  auto lit = listener_by_port_.find(seg.dst.port);
  if (lit == listener_by_port_.end()) {
    // §2 step 3: no socket at all → RST (never in answer to a RST).
    if (!(seg.flags & RST)) {
      Verdict v;
      v.action = Action::Rst;
      v.rule = Rule::NoListener;
      v.count(Counter::OutRsts);
      if (seg.is_syn()) report(now, t, &seg, v);
      send_rst_for(seg);
    }
    return;
  }
  receive_listener(listeners_[lit->second], lit->second, seg, now, 0);
}

void HostStack::receive_listener(Listener& l, ListenerId lid, const Segment& seg, SimTime now, std::uint32_t tw_isn) {
  FourTuple t{seg.dst, seg.src};
  if (seg.flags & RST) return;  // §2 step 8
  if (seg.flags & ACK) {
    // §2 step 7 / §10: an ACK without a request may carry a SYN cookie.
    if (!(seg.flags & SYN) && cookie_ack(l, lid, seg, now)) return;
    Verdict v;
    v.action = Action::Rst;
    v.rule = Rule::AckToListener;
    report(now, t, &seg, v);
    send_rst_for(seg);
    return;
  }
  if (!(seg.flags & SYN)) return;
  if (seg.flags & FIN) {
    Verdict v;
    v.action = Action::Drop;
    v.rule = Rule::SynFinFlags;
    report(now, t, &seg, v);
    return;
  }
  conn_request(l, lid, seg, now, tw_isn);
}

void HostStack::conn_request(Listener& l, ListenerId lid, const Segment& seg, SimTime now, std::uint32_t tw_isn) {
  FourTuple t{seg.dst, seg.src};
  auto ts = timestamps_on() ? seg.options.ts() : std::nullopt;  // §7.3: tcp_timestamps=0 ignores the option

  SynContext ctx;
  ctx.q = l.q;
  ctx.young = l.young;
  ctx.a = static_cast<int>(l.accept_queue.size());
  ctx.backlog = l.backlog;
  ctx.table_size = l.table_size;
  ctx.syn_has_ts = ts.has_value();
  ctx.syn_tsval = ts ? ts->val : 0;
  ctx.via_timewait = tw_isn != 0;
  ctx.metrics = metrics_.find(t.local.addr, t.remote.addr);
  ctx.now_sec = now_sec(now);
  SynDecision d = decide_syn(profile_, sysctls_, ctx);
  Verdict& v = d.verdict;
  apply(v);

  bool flood = v.counter_count > 0 && (v.counters[0] == Counter::TCPReqQFullDrop ||
                                       v.counters[0] == Counter::TCPReqQFullDoCookies);
  if (flood && !l.synflood_warned && sysctls_.tcp_syncookies != 2) {
    // §3.1 step 2 / §3.3 / §3.7: logged once per listener.
    l.synflood_warned = true;
    const char* what = sysctls_.tcp_syncookies ? "Sending cookies" : "Dropping request";
    std::string line;
    switch (profile_.flood_log) {
      case FloodLogStyle::Tcp310:
        line = fmt::format("TCP: TCP: Possible SYN flooding on port {}. {}.  Check SNMP counters.", l.port, what);
        break;
      case FloodLogStyle::RequestSockWithCheck:
        line = fmt::format("TCP: request_sock_TCP: Possible SYN flooding on port {}. {}.  Check SNMP counters.", l.port,
                           what);
        break;
      case FloodLogStyle::RequestSockWithAddress:
        line = fmt::format("TCP: request_sock_TCP: Possible SYN flooding on port {}:{}. {}.", t.local.addr.str(),
                           l.port, what);
        break;
    }
    env_.on_kernel_log(now, line);
  }

  if (v.dropped()) {
    count_sk_drops(l, v, false);
    report(now, t, &seg, v);
    return;
  }

  std::uint16_t peer_mss = seg.options.mss_value().value_or(536);
  bool sack = seg.options.has_sack_ok();
  int wscale = seg.options.wscale_value() ? config_.wscale : -1;

  if (d.cookie) {
    // §10: cookie SYN-ACK, no request kept. Without timestamps the options are cleared.
    l.overflowed = true;
    l.last_overflow = now;
    count_sk_drops(l, v, false);
    auto minute = static_cast<std::uint32_t>(now_sec(now) / 60);
    Segment s;
    s.src = t.local;
    s.dst = t.remote;
    s.seq = cookie_isn(t, seg.seq, minute, mss_index(peer_mss));
    s.ack = seg.seq + 1;
    s.flags = SYN | ACK;
    s.window = config_.synack_window;
    if (ts) {
      // §10: the SYN's options go into the low 6 bits of the raw clock; 4.12+ then add the TS offset
      // on the wire (§7.7), so there the low bits no longer show them (docs/kernel-notes.md, measured
      // in the lab on 6.18). The cookie ACK's TSecr is decoded after subtracting the offset again.
      std::uint32_t off = profile_.cookie_ts_offset ? clock_.offset(t.local, t.remote, sysctls_.tcp_timestamps) : 0;
      std::uint32_t raw = tsval(now, 0);
      std::uint32_t opts = (wscale >= 0 ? (*seg.options.wscale_value() & 0xfu) : 0xfu) | (sack ? 0x10u : 0u);
      std::uint32_t cts = (raw & ~0x3fu) | opts;
      if (seq_after(cts, raw)) cts -= 64;
      put_syn_options(s.options, config_.mss, true, cts + off, ts->val, sack, wscale);
    } else {
      s.options.mss(config_.mss);
    }
    report(now, t, &seg, v);
    emit(s);
    return;
  }

  // §3.1 step 10: queue a request, arm its 1 s timer, send the SYN-ACK.
  std::uint32_t ri = requests_.acquire();
  Request& r = requests_[ri];
  r.tuple = t;
  r.listener = lid;
  r.rcv_isn = seg.seq;
  r.snt_isn = tw_isn ? tw_isn : secure_isn(t, now);
  r.saw_ts = ts.has_value();
  r.ts_recent = ts ? ts->val : 0;
  r.ts_off = ts ? clock_.offset(t.local, t.remote, sysctls_.tcp_timestamps) : 0;
  r.sack_ok = sack;
  r.snd_wscale = static_cast<std::int8_t>(seg.options.wscale_value() ? *seg.options.wscale_value() : -1);
  r.peer_mss = peer_mss;
  r.created = now;
  r.last_synack = now;
  ++l.q;
  ++l.young;
  ehash_.set(t, SockRef{SockKind::Request, ri});
  report(now, t, &seg, v);
  send_synack(r, now, false);
  rearm(r.timer, quantise_synack(l, now + synack_timeout(0)), TimerRef{TimerKind::SynAck, ri, r.gen});
}

bool HostStack::cookie_ack(Listener& l, ListenerId lid, const Segment& seg, SimTime now) {
  if (sysctls_.tcp_syncookies == 0) return false;
  FourTuple t{seg.dst, seg.src};
  bool recent = l.overflowed && now - l.last_overflow < profile_.cookie_overflow_window;
  std::optional<int> idx;
  if (recent) idx = cookie_check(t, seg.seq - 1, seg.ack - 1, static_cast<std::uint32_t>(now_sec(now) / 60));
  if (!idx) {
    // §10: 3.10/EL7 count a stray ACK as a failed cookie even without a recent overflow.
    if (recent || profile_.stray_ack_counts_cookie_failed) {
      counters_.add(Counter::SyncookiesFailed);
      Verdict v;
      v.action = Action::Rst;
      v.rule = Rule::CookieAckInvalid;
      v.count(Counter::SyncookiesFailed);
      report(now, t, &seg, v);
    }
    return false;
  }
  counters_.add(Counter::SyncookiesRecv);
  Verdict v;
  v.count(Counter::SyncookiesRecv);
  int a = static_cast<int>(l.accept_queue.size());
  if (accept_queue_full_at_ack(a, l.backlog)) {
    // syn_recv_sock fails: counted, ACK discarded (§5.1 step 7, §10).
    counters_.add(Counter::ListenOverflows);
    counters_.add(Counter::ListenDrops);
    v.count(Counter::ListenOverflows);
    v.count(Counter::ListenDrops);
    count_sk_drops(l, v, false);  // the listener path frees it without sk_drops_add
    v.action = Action::Drop;
    v.rule = Rule::FinalAckQueueFull;
    v.evidence.a = a;
    v.evidence.b = l.backlog;
    report(now, t, &seg, v);
    return true;
  }
  auto ts = timestamps_on() ? seg.options.ts() : std::nullopt;
  std::uint32_t off = (ts && profile_.cookie_ts_offset) ? clock_.offset(t.local, t.remote, sysctls_.tcp_timestamps) : 0;
  bool sack = ts && ((ts->ecr - off) & 0x10u);  // §10: decoded from TSecr minus the offset
  std::uint32_t ci = child_from(t, seg.ack - 1, seg.seq - 1, ts.has_value(), ts ? ts->val : 0, off, sack, now);
  counters_.add(Counter::PassiveOpens);
  v.action = Action::ChildCreated;
  v.rule = Rule::CookieAckValid;
  report(now, t, &seg, v);
  queue_child(l, lid, ci);
  if (seg.payload_len || (seg.flags & FIN)) receive_conn(ci, seg, now);
  return true;
}

std::uint32_t HostStack::child_from(const FourTuple& t, std::uint32_t iss, std::uint32_t irs, bool ts_ok,
                                    std::uint32_t ts_recent, std::uint32_t ts_off, bool sack, SimTime now) {
  std::uint32_t ci = new_conn();
  Conn& c = conns_[ci];
  c.tuple = t;
  c.state = TcpState::Established;
  c.iss = iss;
  c.snd_una = iss + 1;
  c.snd_nxt = iss + 1;
  c.irs = irs;
  c.rcv_nxt = irs + 1;
  c.ts_ok = ts_ok;
  c.ts_recent = ts_recent;
  c.ts_recent_stamp = ts_ok ? now_sec(now) : 0;
  c.ts_off = ts_off;
  c.sack_ok = sack;
  ehash_.set(t, SockRef{SockKind::Conn, ci});
  return ci;
}

void HostStack::queue_child(Listener& l, ListenerId lid, std::uint32_t ci) {
  l.accept_queue.push_back(ConnId{ci, conns_[ci].gen});
  env_.on_acceptable(lid, l.tag);
}

void HostStack::receive_request(std::uint32_t ri, const Segment& seg, SimTime now) {
  Request& r = requests_[ri];
  Listener& l = listeners_[r.listener];
  FourTuple t = r.tuple;
  auto ts = (timestamps_on() && r.saw_ts) ? seg.options.ts() : std::nullopt;

  // §5.1 step 2: a retransmitted SYN (same ISN) → SYN-ACK again, rate-limited, timer re-armed.
  if ((seg.flags & (SYN | ACK | RST | FIN)) == SYN && seg.seq == r.rcv_isn) {
    Verdict v;
    v.rule = Rule::RetransmittedSyn;
    if (r.last_oow_ack != SimTime{} && now - r.last_oow_ack < kOowRateLimit) {
      v.action = Action::Drop;
      v.count(Counter::TCPACKSkippedSynRecv);
      apply(v);
      report(now, t, &seg, v);
      return;
    }
    r.last_oow_ack = now;
    if (ts) r.ts_recent = ts->val;
    v.action = Action::SynAckRetransmit;
    v.count(Counter::TCPSynRetrans);
    v.count(Counter::RetransSegs);
    report(now, t, &seg, v);
    send_synack(r, now, true);
    ++r.gen;
    rearm(r.timer, quantise_synack(l, now + synack_timeout(r.num_timeout)), TimerRef{TimerKind::SynAck, ri, r.gen});
    return;
  }
  // §5.1 step 3: ACK for something we never sent → the listener answers RST.
  if ((seg.flags & ACK) && seg.ack != r.snt_isn + 1) {
    Verdict v;
    v.action = Action::Rst;
    v.rule = Rule::FinalAckBadAck;
    report(now, t, &seg, v);
    send_rst_for(seg);
    return;
  }
  // §5.1 step 5: RST or a new SYN kills the embryonic connection.
  if (seg.flags & (RST | SYN)) {
    counters_.add(Counter::AttemptFails);
    if (seg.flags & RST) counters_.add(Counter::EmbryonicRsts);
    remove_request(ri);
    return;
  }
  if (!(seg.flags & ACK)) return;

  // §5.1 step 7: syn_recv_sock tests the accept queue first.
  int a = static_cast<int>(l.accept_queue.size());
  if (accept_queue_full_at_ack(a, l.backlog)) {
    Verdict v;
    v.count(Counter::ListenOverflows);
    v.count(Counter::ListenDrops);
    v.evidence.a = a;
    v.evidence.b = l.backlog;
    count_sk_drops(l, v, !sysctls_.tcp_abort_on_overflow);
    if (sysctls_.tcp_abort_on_overflow) {
      // §5.2: RST to the client, request removed, EmbryonicRsts++.
      v.action = Action::Rst;
      v.rule = Rule::FinalAckAbortOnOverflow;
      v.count(Counter::EmbryonicRsts);
      apply(v);
      report(now, t, &seg, v);
      send_rst_for(seg);
      remove_request(ri);
      return;
    }
    // §5.2: acked = 1, the ACK is dropped, the request stays (SYN-ACKs keep being retransmitted).
    r.acked = true;
    v.action = Action::Drop;
    v.rule = Rule::FinalAckQueueFull;
    apply(v);
    report(now, t, &seg, v);
    return;
  }
  // §5.1 step 8: child created, request unlinked, child queued.
  std::uint32_t iss = r.snt_isn, irs = r.rcv_isn, ts_recent = ts ? ts->val : r.ts_recent, off = r.ts_off;
  bool ts_ok = r.saw_ts, sack = r.sack_ok;
  Duration rtt = now - r.last_synack;
  ListenerId lid = r.listener;
  remove_request(ri);
  std::uint32_t ci = child_from(t, iss, irs, ts_ok, ts_recent, off, sack, now);
  Conn& c = conns_[ci];
  c.srtt = rtt;
  c.rto = std::min(kRtoMin + rtt, kRtoMax);
  counters_.add(Counter::PassiveOpens);
  Verdict v;
  v.action = Action::ChildCreated;
  v.rule = Rule::FinalAckChildCreated;
  v.count(Counter::PassiveOpens);
  report(now, t, &seg, v);
  queue_child(l, lid, ci);
  if (seg.payload_len || (seg.flags & FIN)) receive_conn(ci, seg, now);
}

void HostStack::receive_syn_sent(std::uint32_t ci, const Segment& seg, SimTime now) {
  Conn& c = conns_[ci];
  FourTuple t = c.tuple;
  if (seg.flags & ACK) {
    if (seg.ack != c.iss + 1) {
      if (!(seg.flags & RST)) send_rst_for(seg);
      return;
    }
    if (seg.flags & RST) {
      // §9: RST in SYN_SENT → ECONNREFUSED.
      counters_.add(Counter::AttemptFails);
      Verdict v;
      v.action = Action::Accepted;
      v.rule = Rule::ClientRefused;
      v.count(Counter::AttemptFails);
      report(now, t, &seg, v);
      auto tag = c.tag;
      ConnId id{ci, c.gen};
      destroy_conn(ci);
      env_.on_connect_failed(id, tag, ConnectError::Refused);
      return;
    }
    if (!(seg.flags & SYN)) return;
    auto ts = timestamps_on() ? seg.options.ts() : std::nullopt;
    if (ts && ts->ecr != 0) {
      // §8: SYN_SENT rejects a SYN-ACK whose TSecr is not within [first SYN, now].
      std::uint32_t now_ts = tsval(now, c.ts_off);
      if (seq_after(ts->ecr, now_ts) || seq_before(ts->ecr, c.first_syn_tsval)) {
        counters_.add(Counter::PAWSActive);
        send_rst_for(seg);
        return;
      }
    }
    c.state = TcpState::Established;
    c.irs = seg.seq;
    c.rcv_nxt = seg.seq + 1;
    c.snd_una = seg.ack;
    c.ts_ok = ts.has_value();
    c.ts_recent = ts ? ts->val : 0;
    c.ts_recent_stamp = ts ? now_sec(now) : 0;
    c.sack_ok = seg.options.has_sack_ok();
    c.srtt = now - c.syn_last;
    c.rto = std::min(std::max(kRtoMin + c.srtt, kRtoMin), kRtoMax);
    ++c.timer_gen;  // cancel the SYN timer
    disarm(c.timer);
    Verdict v;
    v.action = Action::Accepted;
    v.rule = Rule::ClientEstablished;
    report(now, t, &seg, v);
    send_conn(c, ACK, now);
    env_.on_connected(ConnId{ci, c.gen}, c.tag);
  }
}

void HostStack::receive_conn(std::uint32_t ci, const Segment& seg, SimTime now) {
  Conn& c = conns_[ci];
  if (c.state == TcpState::SynSent) {
    receive_syn_sent(ci, seg, now);
    return;
  }
  ConnId id{ci, c.gen};
  if (seg.flags & RST) {
    if (c.state == TcpState::Established || c.state == TcpState::CloseWait) counters_.add(Counter::EstabResets);
    auto tag = c.tag;
    bool closing = c.app_closed;
    destroy_conn(ci);
    if (!closing) env_.on_reset(id, tag);
    return;
  }
  if (seg.flags & SYN) {
    // A retransmitted SYN-ACK (our final ACK was lost or dropped) or a stray SYN: answer with an ACK.
    send_conn(c, ACK, now);
    return;
  }
  auto ts = c.ts_ok ? seg.options.ts() : std::nullopt;
  if (ts && s32_diff(ts->val, c.ts_recent) >= 0) {
    c.ts_recent = ts->val;
    c.ts_recent_stamp = now_sec(now);
  }
  bool need_ack = false;
  if ((seg.flags & ACK) && seq_after(seg.ack, c.snd_una)) {
    c.snd_una = seg.ack;
    if (c.fin_sent && !seq_before(seg.ack, c.unacked_fin_seq + 1)) {
      ++c.timer_gen;  // FIN acknowledged: cancel retransmission
      disarm(c.timer);
      switch (c.state) {
        case TcpState::FinWait1:
          c.state = TcpState::FinWait2;
          // §7.1: an orphaned socket moving to FIN_WAIT2 becomes a TIME_WAIT bucket in the FIN_WAIT2
          // substate, which already remembers the peer's timestamp with tw_recycle.
          if (c.app_closed) remember_peer_stamp(c, now);
          break;
        case TcpState::Closing:
          enter_timewait(ci, now);
          return;
        case TcpState::LastAck:
          metrics_.note_rtt(c.tuple.local.addr, c.tuple.remote.addr);
          destroy_conn(ci);
          return;
        default: break;
      }
    }
  }
  if (seg.payload_len) {
    if (seg.seq == c.rcv_nxt) {
      c.rcv_nxt += seg.payload_len;
      env_.on_data(id, c.tag, seg.payload_len);
      if (!conns_[ci].live || conns_[ci].gen != id.gen) return;
    }
    need_ack = true;
  }
  if (seg.flags & FIN) {
    if (seg.seq + seg.payload_len == c.rcv_nxt) {
      c.rcv_nxt += 1;
      need_ack = true;
      switch (c.state) {
        case TcpState::Established:
          c.state = TcpState::CloseWait;
          send_conn(c, ACK, now);
          env_.on_peer_closed(id, c.tag);
          return;
        case TcpState::FinWait1:
          c.state = TcpState::Closing;
          break;
        case TcpState::FinWait2:
          send_conn(c, ACK, now);
          enter_timewait(ci, now);
          return;
        default: break;
      }
    } else {
      need_ack = true;  // duplicate FIN
    }
  }
  if (need_ack) send_conn(c, ACK, now);
}

void HostStack::remember_peer_stamp(const Conn& c, SimTime now) {
  // §7.1/§7.2: only with tw_recycle, only if the connection saw timestamps.
  if (!profile_.has_tw_recycle || !sysctls_.tcp_tw_recycle || c.ts_recent_stamp == 0) return;
  auto entry = metrics_.find(c.tuple.local.addr, c.tuple.remote.addr);
  TsMemory m = remember_stamp(entry, c.ts_recent, c.ts_recent_stamp, now_sec(now));
  if (entry) m.has_rtt = entry->has_rtt;
  metrics_.store(c.tuple.local.addr, c.tuple.remote.addr, m);
  env_.on_ts_remembered(now, c.tuple, m);
}

void HostStack::enter_timewait(std::uint32_t ci, SimTime now) {
  Conn& c = conns_[ci];
  // §7.1: the active closer records the peer's last timestamp (tw_recycle) and the RTT.
  bool recycle_ok = profile_.has_tw_recycle && sysctls_.tcp_tw_recycle && c.ts_recent_stamp != 0;
  remember_peer_stamp(c, now);
  metrics_.note_rtt(c.tuple.local.addr, c.tuple.remote.addr);
  std::uint32_t ti = tws_.acquire();
  TimeWait& tw = tws_[ti];
  tw.tuple = c.tuple;
  tw.snd_nxt = c.snd_nxt;
  tw.rcv_nxt = c.rcv_nxt;
  tw.ts_recent = c.ts_recent;
  tw.ts_recent_stamp = c.ts_recent_stamp;
  tw.has_ts = c.ts_ok;
  tw.ts_off = c.ts_off;
  tw.lifetime = timewait_lifetime(recycle_ok, c.rto);
  FourTuple t = c.tuple;
  destroy_conn(ci);
  ehash_.set(t, SockRef{SockKind::TimeWait, ti});
  SimTime due = now + tw.lifetime;
  if (profile_.tw_timer == TimeWaitTimer::CentralWheels)
    due = recycle_ok ? round_up(due, SimTime{}, kRecycleTick) : round_up(due, SimTime{}, kTwWheelSlot);
  rearm(tw.timer, due, TimerRef{TimerKind::TimeWait, ti, tw.gen});
}

void HostStack::receive_timewait(std::uint32_t ti, const Segment& seg, SimTime now) {
  TimeWait& tw = tws_[ti];
  auto ts = (tw.has_ts && timestamps_on()) ? seg.options.ts() : std::nullopt;
  bool paws_reject = ts && s32_diff(tw.ts_recent, ts->val) > 0 && !(seg.flags & RST);
  if (seg.flags & RST) {
    // RFC 1337 not applied (tcp_rfc1337=0): a RST ends TIME_WAIT.
    if (!paws_reject) {
      kill_timewait(ti);
    }
    return;
  }
  FourTuple t = tw.tuple;
  if (seg.is_syn() && !paws_reject && (seq_after(seg.seq, tw.rcv_nxt) || (ts && s32_diff(tw.ts_recent, ts->val) < 0))) {
    // §7.5: new incarnation: the listener takes the SYN with isn = snd_nxt + 65535 + 2.
    std::uint32_t isn = tw.snd_nxt + 65535 + 2;
    if (isn == 0) isn = 1;
    kill_timewait(ti);
    auto lit = listener_by_port_.find(seg.dst.port);
    if (lit != listener_by_port_.end()) {
      receive_listener(listeners_[lit->second], lit->second, seg, now, isn);
      return;
    }
    send_rst_for(seg);
    return;
  }
  Verdict v;
  v.action = Action::Ack;
  v.rule = Rule::TimeWaitSynRejected;
  if (paws_reject) {
    Counter c = profile_.has_paws_timewait_counter ? Counter::PAWSTimewait : Counter::PAWSEstab;
    counters_.add(c);
    v.count(c);
  }
  if (seg.is_syn()) report(now, t, &seg, v);
  send_tw_ack(tw, now);
  if (paws_reject || (seg.flags & ACK)) {
    ++tw.gen;
    tw.lifetime = seconds(60);
    rearm(tw.timer, now + tw.lifetime, TimerRef{TimerKind::TimeWait, ti, tw.gen});
  }
}

// ---------------------------------------------------------------------------------------------
// Timers

void HostStack::on_timer(TimerRef ref, SimTime now) {
  switch (ref.kind) {
    case TimerKind::SynAck:
      if (requests_.live_at(ref.index, ref.gen)) synack_timer(ref.index, now);
      return;
    case TimerKind::ClientSyn:
      if (ref.index < conns_.size() && conns_[ref.index].live && conns_[ref.index].timer_gen == ref.gen)
        client_syn_timer(ref.index, now);
      return;
    case TimerKind::Retransmit:
      if (ref.index < conns_.size() && conns_[ref.index].live && conns_[ref.index].timer_gen == ref.gen)
        retransmit_timer(ref.index, now);
      return;
    case TimerKind::TimeWait:
      if (tws_.live_at(ref.index, ref.gen)) timewait_timer(ref.index);
      return;
  }
}

SimTime HostStack::quantise_synack(const Listener& l, SimTime due) const {
  // §5.3: 3.10/EL7 scan the SYN table from one 200 ms listener timer.
  if (profile_.synack_timer == SynAckTimer::ListenerScan200ms) return round_up(due, l.created, kSynqInterval);
  return due;
}

void HostStack::synack_timer(std::uint32_t ri, SimTime now) {
  Request& r = requests_[ri];
  Listener& l = listeners_[r.listener];
  int thresh = synack_retry_threshold(profile_, sysctls_, l.q, l.young, l.backlog, l.table_size);
  counters_.add(Counter::TCPTimeouts);  // syn_ack_timeout, on every expiry (§5.3)
  if (r.num_timeout >= thresh) {
    Verdict v;
    v.action = Action::Drop;
    v.rule = Rule::SynAckTimeoutExpired;
    v.count(Counter::TCPTimeouts);
    v.evidence.retries = r.num_timeout;
    v.evidence.q = l.q;
    v.evidence.young = l.young;
    report(now, r.tuple, nullptr, v);
    remove_request(ri);
    return;
  }
  send_synack(r, now, true);
  r.last_synack = now;
  if (r.num_timeout++ == 0) --l.young;
  ++r.gen;
  rearm(r.timer, quantise_synack(l, now + synack_timeout(r.num_timeout)), TimerRef{TimerKind::SynAck, ri, r.gen});
  Verdict v;
  v.action = Action::SynAckRetransmit;
  v.rule = Rule::SynAckTimeoutRetransmit;
  v.count(Counter::TCPTimeouts);
  v.count(Counter::TCPSynRetrans);
  v.count(Counter::RetransSegs);
  v.evidence.retries = r.num_timeout;
  report(now, r.tuple, nullptr, v);
}

void HostStack::client_syn_timer(std::uint32_t ci, SimTime now) {
  Conn& c = conns_[ci];
  if (c.state != TcpState::SynSent) return;
  if (syn_gives_up(profile_, sysctls_, c.syn_retries, c.syn_retransmits, now - c.syn_first)) {
    // §9: ETIMEDOUT; tcp_done counts AttemptFails for SYN_SENT.
    counters_.add(Counter::AttemptFails);
    Verdict v;
    v.action = Action::Drop;
    v.rule = Rule::ClientSynTimeout;
    v.count(Counter::AttemptFails);
    v.evidence.retries = c.syn_retransmits;
    report(now, c.tuple, nullptr, v);
    auto tag = c.tag;
    ConnId id{ci, c.gen};
    destroy_conn(ci);
    env_.on_connect_failed(id, tag, ConnectError::TimedOut);
    return;
  }
  ++c.syn_retransmits;
  counters_.add(Counter::TCPTimeouts);
  counters_.add(Counter::TCPSynRetrans);
  counters_.add(Counter::RetransSegs);
  send_syn(c, now);
  arm_conn_timer(ci, TimerKind::ClientSyn, now + syn_rto(profile_, sysctls_, c.syn_retransmits));
}

void HostStack::retransmit_timer(std::uint32_t ci, SimTime now) {
  Conn& c = conns_[ci];
  if (!c.fin_sent || !seq_before(c.snd_una, c.unacked_fin_seq + 1)) return;
  if (++c.rexmit_count > kMaxDataRetries) {
    destroy_conn(ci);
    return;
  }
  counters_.add(Counter::TCPTimeouts);
  counters_.add(Counter::RetransSegs);
  std::uint32_t saved = c.snd_nxt;
  c.snd_nxt = c.unacked_fin_seq;
  send_conn(c, FIN | ACK, now);
  c.snd_nxt = saved;
  c.rto = std::min(c.rto * 2, kRtoMax);
  arm_conn_timer(ci, TimerKind::Retransmit, now + c.rto);
}

void HostStack::timewait_timer(std::uint32_t ti) {
  TimeWait& tw = tws_[ti];
  // §4 notes: the kernel counts short (recycled, ≤ 4 s) expiries as TWKilled, 60 s ones as TW.
  counters_.add(tw.lifetime <= seconds(4) ? Counter::TWKilled : Counter::TW);
  kill_timewait(ti);
}

}  // namespace synscope::model
