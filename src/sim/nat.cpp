#include "sim/nat.h"

#include <algorithm>
#include <cassert>

namespace synscope::sim {

const char* to_string(CtState s) {
  switch (s) {
    case CtState::SynSent: return "SYN_SENT";
    case CtState::SynRecv: return "SYN_RECV";
    case CtState::Established: return "ESTABLISHED";
    case CtState::FinWait: return "FIN_WAIT";
    case CtState::CloseWait: return "CLOSE_WAIT";
    case CtState::LastAck: return "LAST_ACK";
    case CtState::TimeWait: return "TIME_WAIT";
    case CtState::Close: return "CLOSE";
    case CtState::SynSent2: return "SYN_SENT2";
  }
  return "?";
}

Duration NatTimeouts::for_state(CtState s) const {
  switch (s) {
    case CtState::SynSent: return syn_sent;
    case CtState::SynRecv: return syn_recv;
    case CtState::Established: return established;
    case CtState::FinWait: return fin_wait;
    case CtState::CloseWait: return close_wait;
    case CtState::LastAck: return last_ack;
    case CtState::TimeWait: return time_wait;
    case CtState::Close: return close;
    case CtState::SynSent2: return syn_sent2;
  }
  return close;
}

// ---------------------------------------------------------------------------------------------
// TupleMap

NatTable::TupleMap::TupleMap() : slots_(1024), mask_(1023) {}

std::uint32_t NatTable::TupleMap::find(Endpoint src, Endpoint dst) const {
  const std::uint64_t a = pack_addrs(src, dst);
  const std::uint32_t p = pack_ports(src, dst);
  for (std::size_t i = home(a, p);; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.value == kNil) return kNil;
    if (s.addrs == a && s.ports == p) return s.value;
  }
}

void NatTable::TupleMap::insert(Endpoint src, Endpoint dst, std::uint32_t value) {
  // Keep the load factor at or below 1/2 so probe runs stay short.
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const std::uint64_t a = pack_addrs(src, dst);
  const std::uint32_t p = pack_ports(src, dst);
  std::size_t i = home(a, p);
  while (slots_[i].value != kNil) {
    assert(!(slots_[i].addrs == a && slots_[i].ports == p));
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{a, p, value};
  ++count_;
}

void NatTable::TupleMap::erase(Endpoint src, Endpoint dst) {
  const std::uint64_t a = pack_addrs(src, dst);
  const std::uint32_t p = pack_ports(src, dst);
  std::size_t i = home(a, p);
  while (true) {
    if (slots_[i].value == kNil) return;
    if (slots_[i].addrs == a && slots_[i].ports == p) break;
    i = (i + 1) & mask_;
  }
  // Backward-shift deletion: pull later members of the probe run into the hole so lookups never
  // need tombstones and the table does not degrade under constant churn.
  std::size_t hole = i;
  for (std::size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
    if (slots_[j].value == kNil) break;
    const std::size_t h = home(slots_[j].addrs, slots_[j].ports);
    // Move slot j back iff its home is not within (hole, j] cyclically.
    const bool home_in_range = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (!home_in_range) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --count_;
}

void NatTable::TupleMap::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.value == kNil) continue;
    std::size_t i = home(s.addrs, s.ports);
    while (slots_[i].value != kNil) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

// ---------------------------------------------------------------------------------------------
// NatTable

NatTable::NatTable(const NatSpec& spec, Ipv4Addr box_addr, NatTimeouts timeouts)
    : spec_(spec), box_(box_addr), timeouts_(timeouts) {
  std::fill(std::begin(head_), std::end(head_), kNil);
  std::fill(std::begin(tail_), std::end(tail_), kNil);
  std::fill(std::begin(ahead_), std::end(ahead_), kNil);
}

void NatTable::prefetch(const Segment& in) const {
  map_.prefetch(in.src, in.dst);
  if (!in.is_syn()) return;
  const Rewrite r = apply_rules(in);
  if (r.dnat || r.snat) map_.prefetch(r.dst, r.src);
}

std::optional<Segment> NatTable::translate(const Segment& in, SimTime now) {
  Segment out;
  if (process(in, now, out) == NatAction::Forward) return out;
  return std::nullopt;
}

NatAction NatTable::process(const Segment& in, SimTime now, Segment& out) {
  Segment seg = in;
  const NatAction action = rewrite(seg, now);
  if (action == NatAction::Forward) out = seg;
  return action;
}

NatAction NatTable::rewrite(Segment& seg, SimTime now) {
  expire(now);
  const std::uint32_t hit = map_.find(seg.src, seg.dst);
  if (hit != kNil) {
    const std::uint32_t idx = hit >> 1;
    const int dir = static_cast<int>(hit & 1);
    Entry& e = entries_[idx];
    if (dir == 0 && seg.is_syn() && (e.state == CtState::TimeWait || e.state == CtState::Close)) {
      // Reopened connection: conntrack kills the old entry and treats the SYN as new, so the
      // rules (and port choice) are evaluated afresh.
      remove(idx);
      ++stats_.reopened;
      return create(seg);
    }
    step_state(e, seg.flags, dir);
    touch(idx);
    if (dir == 0) {
      seg.src = e.reply_dst;
      seg.dst = e.reply_src;
    } else {
      seg.src = e.orig_dst;
      seg.dst = e.orig_src;
    }
    return NatAction::Forward;
  }
  return create(seg);
}

NatTable::Rewrite NatTable::apply_rules(const Segment& in) const {
  Rewrite w{in.dst, in.src};
  for (const DnatRule& r : spec_.dnat) {
    if (r.match_dport != in.dst.port) continue;
    if (r.match_daddr && *r.match_daddr != in.dst.addr) continue;
    w.dst = Endpoint{r.to.addr, r.to.port != 0 ? r.to.port : in.dst.port};
    w.dnat = true;
    break;
  }
  // POSTROUTING is only traversed by forwarded packets, not ones DNATed to the box itself.
  if (w.dst.addr != box_) {
    for (const SnatRule& r : spec_.snat) {
      if (r.match_daddr && *r.match_daddr != w.dst.addr) continue;
      if (r.match_dport != 0 && r.match_dport != w.dst.port) continue;
      w.src.addr = r.to;
      w.snat = true;
      break;
    }
  }
  return w;
}

NatAction NatTable::create(Segment& in) {
  if (!in.is_syn()) return NatAction::NotNat;

  const Rewrite w = apply_rules(in);
  Endpoint dst = w.dst, src = w.src;
  const bool snat = w.snat;
  if (!w.dnat && !snat) return NatAction::NotNat;

  // The reply tuple (dst -> src) must be unique among all tuples in the table.
  if (map_.find(dst, src) != kNil) {
    if (!snat) {  // DNAT alone cannot change ports; conntrack would fail to confirm the entry
      ++stats_.dropped;
      return NatAction::Drop;
    }
    auto port = choose_port(dst, src.addr, src.port);
    if (!port) {
      ++stats_.dropped;
      return NatAction::Drop;
    }
    src.port = *port;
    ++stats_.port_changed;
  }
  // A degenerate rule set could make the reply tuple equal the original one.
  if (dst == in.src && src == in.dst) {
    ++stats_.dropped;
    return NatAction::Drop;
  }

  const std::uint32_t idx = allocate();
  Entry& e = entries_[idx];
  e.orig_src = in.src;
  e.orig_dst = in.dst;
  e.reply_src = dst;
  e.reply_dst = src;
  e.state = CtState::SynSent;
  e.fin_dirs = 0;
  e.first_fin_dir = 0;
  e.prev = e.next = kNil;
  e.list = kNoList;
  map_.insert(e.orig_src, e.orig_dst, idx << 1);
  map_.insert(e.reply_src, e.reply_dst, (idx << 1) | 1);
  ++live_;
  ++stats_.created;
  touch(idx);

  in.src = src;
  in.dst = dst;
  return NatAction::Forward;
}

// Netfilter's SNAT port search: privileged source ports stay privileged (1-511, or 600-1023),
// others move within 1024-65535. The first round walks up to 128 consecutive ports from a rover
// remembering the last success (as 3.10's tcp_port_rover did, which is deterministic), later rounds
// halve the count and start at scattered offsets, as newer kernels do to bound the work when the
// port space is nearly full. Returns nullopt when nothing free was found.
std::pair<std::uint32_t, std::uint32_t> NatTable::port_range(std::uint16_t original_port) {
  if (original_port < 512) return {1, 511};
  if (original_port < 1024) return {600, 1023 - 600 + 1};
  return {1024, 65535 - 1024 + 1};
}

std::optional<std::uint16_t> NatTable::choose_port(Endpoint server, Ipv4Addr nat_addr,
                                                   std::uint16_t original_port) {
  const auto [min, range] = port_range(original_port);
  std::uint32_t attempts = std::min<std::uint32_t>(range, 128);
  std::uint32_t off = rover_;
  bool first_round = true;
  while (true) {
    for (std::uint32_t i = 0; i < attempts; ++i, ++off) {
      const auto port = static_cast<std::uint16_t>(min + off % range);
      if (map_.find(server, Endpoint{nat_addr, port}) == kNil) {
        if (first_round) rover_ = off;
        return port;
      }
    }
    if (attempts >= range || attempts < 16) return std::nullopt;
    attempts /= 2;
    off = static_cast<std::uint32_t>(mix64(0x6e61745f706f7274ULL ^ ++search_count_));
    first_round = false;
  }
}

// A reduced form of nf_conntrack_proto_tcp's state table. Flag priority follows the kernel's
// get_conntrack_index(): RST, then SYN(/ACK), then FIN, then ACK.
void NatTable::step_state(Entry& e, std::uint8_t flags, int dir) {
  using namespace tcp_flag;
  const std::uint8_t bit = static_cast<std::uint8_t>(1u << dir);
  if (flags & RST) {
    e.state = CtState::Close;
  } else if (flags & SYN) {
    if (flags & ACK) {
      if (dir == 1 && (e.state == CtState::SynSent || e.state == CtState::SynSent2)) e.state = CtState::SynRecv;
    } else if (dir == 1 && e.state == CtState::SynSent) {
      e.state = CtState::SynSent2;  // simultaneous open
    }
  } else if (flags & FIN) {
    switch (e.state) {
      case CtState::SynRecv:
      case CtState::Established:
        e.fin_dirs = bit;
        e.first_fin_dir = static_cast<std::uint8_t>(dir);
        e.state = CtState::FinWait;
        break;
      case CtState::FinWait:
      case CtState::CloseWait:
        if (!(e.fin_dirs & bit)) {  // the other side closes too
          e.fin_dirs |= bit;
          e.state = CtState::LastAck;
        }
        break;
      default: break;
    }
  } else if (flags & ACK) {
    switch (e.state) {
      case CtState::SynRecv:
        if (dir == 0) e.state = CtState::Established;
        break;
      case CtState::FinWait:
        if (!(e.fin_dirs & bit)) e.state = CtState::CloseWait;  // the first FIN is acknowledged
        break;
      case CtState::LastAck:
        if (dir == e.first_fin_dir) e.state = CtState::TimeWait;  // the second FIN is acknowledged
        break;
      default: break;
    }
  }
}

// Every packet refreshes the entry's timeout for its (possibly new) state. Entries of one state
// share one timeout and are appended in time order, so each list stays sorted by expiry.
void NatTable::touch(std::uint32_t idx) {
  Entry& e = entries_[idx];
  unlink(idx);
  e.expires_ns = now_ns_ + timeouts_.for_state(e.state).count();
  const auto s = static_cast<std::uint8_t>(e.state);
  e.list = s;
  e.prev = tail_[s];
  e.next = kNil;
  if (tail_[s] != kNil) {
    entries_[tail_[s]].next = idx;
  } else {
    head_[s] = idx;
    next_expiry_ns_ = std::min(next_expiry_ns_, e.expires_ns);
  }
  tail_[s] = idx;
}

void NatTable::unlink(std::uint32_t idx) {
  Entry& e = entries_[idx];
  if (e.list == kNoList) return;
  if (e.prev != kNil)
    entries_[e.prev].next = e.next;
  else
    head_[e.list] = e.next;
  if (e.next != kNil)
    entries_[e.next].prev = e.prev;
  else
    tail_[e.list] = e.prev;
  e.prev = e.next = kNil;
  e.list = kNoList;
}

void NatTable::remove(std::uint32_t idx) {
  Entry& e = entries_[idx];
  unlink(idx);
  map_.erase(e.orig_src, e.orig_dst);
  map_.erase(e.reply_src, e.reply_dst);
  e.next = free_head_;
  free_head_ = idx;
  --live_;
}

std::uint32_t NatTable::allocate() {
  if (free_head_ != kNil) {
    const std::uint32_t idx = free_head_;
    free_head_ = entries_[idx].next;
    entries_[idx].next = kNil;
    return idx;
  }
  entries_.emplace_back();
  return static_cast<std::uint32_t>(entries_.size() - 1);
}

void NatTable::expire(SimTime now) {
  now_ns_ = std::max(now_ns_, now.count());
  if (now_ns_ < next_expiry_ns_) return;
  std::int64_t next = INT64_MAX;
  for (std::size_t s = 0; s < kCtStateCount; ++s) {
    if (head_[s] == kNil) continue;
    while (head_[s] != kNil && entries_[head_[s]].expires_ns <= now_ns_) {
      remove(head_[s]);
      ++stats_.expired;
      --ahead_lead_[s];
    }
    if (head_[s] == kNil) continue;
    next = std::min(next, entries_[head_[s]].expires_ns);
    prefetch_next_expiries(s);
  }
  next_expiry_ns_ = next;
}

// Entries expire from the head of their list long after they were last touched (120 s for
// TIME_WAIT), so the entry, its successor (unlinking writes to it) and its two table slots are
// cold: several cache misses per connection. Each list keeps a cursor that walks up to
// kExpiryLookahead entries behind the head, requesting those lines, so they are cached by the time
// the entry expires. expire() steps it after each round of expiries (usually one entry), which
// keeps it that many expiries ahead. The cursor is only a hint: when it has fallen behind the
// head or its entry left the list it restarts at the head.
void NatTable::prefetch_next_expiries(std::size_t s) {
  for (int step = 0; step < 2; ++step) {  // at most two: the entry a step reads was requested by the step before
    std::uint32_t c = ahead_[s];
    if (c == kNil || ahead_lead_[s] <= 0 || entries_[c].list != s) {
      c = head_[s];
      ahead_lead_[s] = 0;
    } else if (ahead_lead_[s] >= kExpiryLookahead || entries_[c].next == kNil) {
      return;
    } else {
      c = entries_[c].next;
    }
    ahead_[s] = c;
    ++ahead_lead_[s];
    const Entry& e = entries_[c];
    map_.prefetch(e.orig_src, e.orig_dst);
    map_.prefetch(e.reply_src, e.reply_dst);
    if (e.next != kNil) __builtin_prefetch(&entries_[e.next]);
  }
}

std::optional<CtState> NatTable::state_of(Endpoint src, Endpoint dst) const {
  const std::uint32_t hit = map_.find(src, dst);
  if (hit == kNil) return std::nullopt;
  const Entry& e = entries_[hit >> 1];
  if (e.expires_ns <= now_ns_) return std::nullopt;
  return e.state;
}

}  // namespace synscope::sim
