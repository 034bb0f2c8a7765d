#include "analyze/attempt_tracker.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <deque>
#include <new>

#include "analyze/hash_index.h"
#include "analyze/schedule.h"
#include "core/ipv4.h"
#include "core/seq.h"

namespace synscope::analyze {

namespace {

using capture::CaptureItem;
using capture::IcmpKind;
using capture::PacketRecord;

// The core's splitmix64 finaliser (core/ipv4.h) hashes keys here too.
constexpr auto mix = [](std::uint64_t x) { return mix64(x); };

std::uint64_t addr_hash(const IpAddress& a) {
  std::uint64_t hi, lo;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  return mix(hi * 0x9e3779b97f4a7c15ULL ^ lo);
}
std::uint64_t endpoint_hash(const PacketEndpoint& e) {
  std::uint64_t hi, lo;
  std::memcpy(&hi, e.addr.bytes.data(), 8);
  std::memcpy(&lo, e.addr.bytes.data() + 8, 8);
  return mix(hi * 0x9e3779b97f4a7c15ULL ^ lo * 0xbf58476d1ce4e5b9ULL ^ e.port);
}

// Endpoint equality without the byte-wise compare of the defaulted operator (hot in flow look-up).
bool same(const PacketEndpoint& x, const PacketEndpoint& y) {
  std::uint64_t a[2], b[2];
  std::memcpy(a, x.addr.bytes.data(), 16);
  std::memcpy(b, y.addr.bytes.data(), 16);
  return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0 && x.port == y.port && x.addr.v6 == y.addr.v6;
}

std::uint64_t pair_hash(const IpAddress& a, const IpAddress& b) { return mix(addr_hash(a) * 31 ^ addr_hash(b)); }

std::int64_t ns(WallTime t) { return t.unix_ns; }

std::string icmp_text(IcmpKind k) {
  switch (k) {
    case IcmpKind::HostUnreachable: return "host unreachable";
    case IcmpKind::PortUnreachable: return "port unreachable";
    case IcmpKind::NetUnreachable: return "network unreachable";
    case IcmpKind::AdminProhibited: return "administratively prohibited";
    case IcmpKind::OtherUnreachable: return "destination unreachable";
  }
  return "destination unreachable";
}

// Per server port (the listener as the capture sees it).
struct Port {
  std::uint32_t half_open = 0;         // SYN-ACK'd (not as a cookie), not yet ACKed/reset/expired
  std::int64_t last_ack_ignored = INT64_MIN;
  std::int64_t last_cookie = INT64_MIN;  // a SYN-ACK confirmed as a cookie (§10)
  std::uint16_t ts_bits_history = 0;   // last 16 TS-carrying SYN-ACKs: 1 = low bits encode the SYN's options
  bool answered = false;
  std::uint32_t idle_children = 0;      // handshakes completed, server silent on them since
  std::int64_t last_unresent = INT64_MIN;  // a never-ACKed SYN-ACK the server never re-sent
  std::uint32_t unresent_run = 0;       // how many of those in a row, each within 10 s of the last
  std::int64_t last_new_synack = INT64_MIN;
};

// Per server address.
struct Host {
  bool spoke = false;
};

enum class Side : std::uint8_t { None, Client, Server };

// One per connection the capture shows (a 4-tuple), kept until it goes quiet; every packet touches it.
// Exactly two cache lines, aligned: the look-ahead in analyze_source prefetches both.
struct alignas(64) Flow {
  std::uint64_t hash = 0;
  std::int64_t last_seen = 0;
  std::uint32_t gen = 0;
  std::uint32_t slot = 0;        // its index in the flow store
  std::uint32_t port = 0;        // index into ports
  std::uint32_t client_tsval = 0, server_tsval = 0;
  std::uint64_t closer_fin_frame = 0;
  std::int64_t last_synack = INT64_MIN / 2;
  bool live = false;
  std::uint8_t lanes_queued = 0;  // bit per expiry lane the flow waits in
  bool syn_seen = false;
  bool client_ts = false, server_ts = false;
  bool client_fin = false, server_fin = false, reset = false;
  bool server_sent = false;
  bool server_sent_data = false;  // anything beyond the handshake
  bool host_recorded = false;     // server_sent, and its address is in `hosts` (entries stay)
  Side active_closer = Side::None;
  bool refused = false, client_reset = false, rst_after_ack = false, completed_unseen = false;
  bool half_open_counted = false;
  bool idle_child = false;
  bool ts_bits_match = false;
  bool syn_has_ts = false, syn_sack = false, syn_ecn = false;
  std::int8_t syn_wscale = -1;
  PacketEndpoint client, server;  // the flow's ends (roles settle with its first handshake packet)
  // The attempt being collected, until it goes to the sink; null when none is open. Attempts live
  // apart from flows (AttemptPool), so that the many packets of a connection after its handshake
  // touch a flow of two cache lines, not one carrying ~500 bytes of attempt.
  Attempt* a = nullptr;

  bool attempt_open() const { return a != nullptr; }
  bool closed() const { return reset || (client_fin && server_fin); }
};
static_assert(sizeof(Flow) == 128, "a flow is two cache lines: the look-ahead prefetches exactly those");

// Flows in fixed blocks: a flow keeps its address, growing never copies the table or holds it twice
// (a vector's doubling did, and a SYN flood's half-open flows made that the RSS peak), and finding
// a flow is one look-up in a small block table (a std::deque of flows this large allocated each
// flow on its own and needed a second cache miss to find it).
class FlowStore {
 public:
  Flow& operator[](std::size_t i) { return blocks_[i >> kShift][i & (kBlock - 1)]; }
  const Flow& operator[](std::size_t i) const { return blocks_[i >> kShift][i & (kBlock - 1)]; }
  std::size_t size() const { return size_; }
  void emplace_back() {
    if ((size_ & (kBlock - 1)) == 0) blocks_.push_back(std::make_unique<Flow[]>(kBlock));
    ++size_;
  }

 private:
  static constexpr std::size_t kShift = 6, kBlock = std::size_t{1} << kShift;
  std::vector<std::unique_ptr<Flow[]>> blocks_;
  std::size_t size_ = 0;
};

// Attempts still being collected, in fixed blocks (stable addresses) with a free list: only open
// attempts take room, a few thousand at most outside SYN floods, so they stay in the caches.
class AttemptPool {
 public:
  // A fresh attempt (as default-constructed).
  Attempt* take() {
    Attempt* a;
    if (!free_.empty()) {
      a = free_.back();
      free_.pop_back();
      a->~Attempt();  // in place: assigning Attempt{} would build a temporary and copy it over
      new (a) Attempt();
    } else {
      if ((size_ & (kBlock - 1)) == 0) blocks_.push_back(std::make_unique<Attempt[]>(kBlock));
      a = &blocks_.back()[size_ & (kBlock - 1)];
      ++size_;
    }
    return a;
  }
  void give_back(Attempt* a) { free_.push_back(a); }

 private:
  static constexpr std::size_t kBlock = 64;
  std::vector<std::unique_ptr<Attempt[]>> blocks_;
  std::vector<Attempt*> free_;
  std::size_t size_ = 0;
};

struct ClientClocks {
  IpAddress addr;
  std::vector<TsClock> clocks;
  std::uint32_t clock_count = 0;
  std::uint32_t attempts = 0;
  std::int64_t last_at = 0;
};

}  // namespace

struct AttemptTracker::Impl {
  TrackerOptions opt;
  Sink sink;
  TrackerStats stats;
  std::int64_t now = INT64_MIN;  // newest capture time seen

  // Flows: a slot vector plus an open-addressing index keyed by a symmetric hash of both endpoints.
  FlowStore flows;
  AttemptPool attempts;
  std::vector<std::uint32_t> free_flows;
  std::size_t live_flows = 0;
  // Entries: (high 32 bits of the flow hash) << 32 | (flow slot + 1); 0 = empty. The stored hash
  // bits decide the home slot and filter probes, so only a likely match touches the flow itself.
  std::vector<std::uint64_t> index;
  std::int64_t next_expiry_check = INT64_MIN;
  // Expiry: one FIFO per waiting time, so each stays in deadline order (a single FIFO would keep a
  // 5 s deadline waiting behind a 120 s one). A flow whose state changes is queued in its new lane
  // too; the stale entry is recognised when it comes up.
  struct Expiry {
    std::int64_t at;
    std::uint32_t flow, gen;
  };
  enum Lane : std::uint8_t { Unanswered, SynAcked, Acked, Idle, Closed, kLanes };
  std::array<std::deque<Expiry>, kLanes> lanes;

  HashIndex<std::uint32_t> port_index;  // endpoint hash -> port slot + 1
  std::vector<Port> ports;
  std::uint32_t overflow_port = UINT32_MAX;
  HashIndex<Host> hosts;

  struct Memory {
    PeerMemory m;
    std::int64_t updated = 0;
  };
  HashIndex<Memory> memory;  // pair_hash(closer, peer)
  std::deque<std::pair<std::int64_t, std::uint64_t>> memory_expiry;

  HashIndex<ClientClocks> clocks;  // addr_hash
  std::deque<std::pair<std::int64_t, std::uint64_t>> clock_expiry;
  std::vector<ClockFinding> retired_findings;  // addresses with ≥ 2 clocks that went quiet
  static constexpr std::size_t kMaxRetiredFindings = 1000;

  HashKeySet finished;  // (client, server, ISN) of recent finished attempts
  std::deque<std::pair<std::int64_t, std::uint64_t>> finished_expiry;

  Impl(TrackerOptions o, Sink s) : opt(o), sink(std::move(s)) {
    index.assign(1024, 0);
    if (opt.max_flows == 0) opt.max_flows = 1;  // the flow being added needs a place
    stats.max_flows = opt.max_flows;
  }

  // ---- flow index -------------------------------------------------------------------------------

  static std::uint64_t flow_hash(const PacketEndpoint& x, const PacketEndpoint& y) {
    return endpoint_hash(x) + endpoint_hash(y);  // symmetric: both directions find the flow
  }
  std::size_t mask() const { return index.size() - 1; }

  static std::uint32_t tag_of(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 32); }

  Flow* find(const PacketEndpoint& src, const PacketEndpoint& dst, std::uint64_t h) {
    const std::uint32_t tag = tag_of(h);
    for (std::size_t i = tag & mask();; i = (i + 1) & mask()) {
      const std::uint64_t v = index[i];
      if (v == 0) return nullptr;
      if (static_cast<std::uint32_t>(v >> 32) != tag) continue;
      Flow& f = flows[static_cast<std::uint32_t>(v) - 1];
      if (f.hash == h && ((same(f.client, src) && same(f.server, dst)) || (same(f.client, dst) && same(f.server, src))))
        return &f;
    }
  }

  void index_insert(std::uint32_t slot, std::uint64_t h) {
    if ((live_flows + 1) * 2 > index.size()) grow_index();  // at most half full: short probes
    const std::uint32_t tag = tag_of(h);
    for (std::size_t i = tag & mask();; i = (i + 1) & mask())
      if (index[i] == 0) {
        index[i] = (std::uint64_t{tag} << 32) | (slot + 1);
        return;
      }
  }
  void grow_index() {
    std::vector<std::uint64_t> old;
    old.swap(index);
    index.assign(old.size() * 2, 0);
    for (std::uint64_t v : old)
      if (v)
        for (std::size_t i = (v >> 32) & mask();; i = (i + 1) & mask())
          if (index[i] == 0) {
            index[i] = v;
            break;
          }
  }
  void index_erase(std::uint32_t slot) {
    const std::uint64_t entry = (std::uint64_t{tag_of(flows[slot].hash)} << 32) | (slot + 1);
    std::size_t i = (entry >> 32) & mask();
    while (index[i] != entry) i = (i + 1) & mask();
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask();; j = (j + 1) & mask()) {
      const std::uint64_t v = index[j];
      if (v == 0) break;
      const std::size_t want = (v >> 32) & mask();
      const bool stays = hole <= j ? (want > hole && want <= j) : (want > hole || want <= j);
      if (!stays) {
        index[hole] = v;
        hole = j;
      }
    }
    index[hole] = 0;
  }

  // At max_flows: finishes the open flow whose expiry is nearest (the front of the lane whose front
  // comes first), as expire() would have later. A flood's spoofed SYNs go first: theirs is the
  // unanswered lane, and every one of them is in it in arrival order.
  void evict_one() {
    std::size_t best = kLanes;
    for (std::size_t l = 0; l < kLanes; ++l) {
      auto& q = lanes[l];
      while (!q.empty() && (!flows[q.front().flow].live || flows[q.front().flow].gen != q.front().gen)) q.pop_front();
      if (!q.empty() && (best == kLanes || q.front().at < lanes[best].front().at)) best = l;
    }
    if (best == kLanes) return;  // nothing scheduled yet: let the table grow by one
    const Expiry e = lanes[best].front();
    lanes[best].pop_front();
    Flow& f = flows[e.flow];
    f.lanes_queued &= static_cast<std::uint8_t>(~(1u << best));
    if (f.attempt_open()) finish_attempt(f, false);
    remove_flow(f);
    ++stats.evicted_flows;
  }

  Flow& new_flow(const PacketEndpoint& client, const PacketEndpoint& server, std::uint64_t h) {
    if (live_flows >= opt.max_flows) evict_one();
    std::uint32_t slot;
    if (!free_flows.empty()) {
      slot = free_flows.back();
      free_flows.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(flows.size());
      flows.emplace_back();
    }
    Flow& f = flows[slot];
    const std::uint32_t gen = f.gen + 1;
    f.~Flow();  // in place: assigning a Flow{} would build a temporary and copy it over
    new (&f) Flow();
    f.gen = gen;
    f.slot = slot;
    f.live = true;
    f.hash = h;
    f.client = client;
    f.server = server;
    f.port = port_of(server);
    index_insert(slot, h);
    ++live_flows;
    stats.open_flows_peak = std::max<std::uint64_t>(stats.open_flows_peak, live_flows);
    return f;
  }

  void remove_flow(Flow& f) {
    const std::uint32_t slot = f.slot;
    if (f.a) {  // callers finish an open attempt first; this only keeps the pool whole if one did not
      attempts.give_back(f.a);
      f.a = nullptr;
    }
    release_half_open(f);
    release_idle_child(f);
    index_erase(slot);
    f.live = false;
    ++f.gen;
    free_flows.push_back(slot);
    --live_flows;
  }

  std::uint32_t port_of(const PacketEndpoint& server) {
    // Past max_flows server endpoints (a flood to random addresses and ports), new ones share one
    // overflow slot: their port-level signs merge, and state_limited counts them.
    if (ports.size() >= opt.max_flows) {
      if (const std::uint32_t* known = port_index.find(endpoint_hash(server))) return *known - 1;
      ++stats.state_limited;
      if (overflow_port == UINT32_MAX) {
        overflow_port = static_cast<std::uint32_t>(ports.size());
        ports.emplace_back();
      }
      return overflow_port;
    }
    bool inserted;
    std::uint32_t& slot = port_index.get(endpoint_hash(server), inserted);
    if (inserted) {
      ports.emplace_back();
      slot = static_cast<std::uint32_t>(ports.size());
    }
    return slot - 1;
  }

  void swap_roles(Flow& f) {
    std::swap(f.client, f.server);
    std::swap(f.client_tsval, f.server_tsval);
    std::swap(f.client_ts, f.server_ts);
    std::swap(f.client_fin, f.server_fin);
    if (f.active_closer != Side::None) f.active_closer = f.active_closer == Side::Client ? Side::Server : Side::Client;
    f.port = port_of(f.server);
    f.host_recorded = false;  // that was the other address
  }

  // ---- expiry ------------------------------------------------------------------------------------

  Lane lane_of(const Flow& f) const {
    if (f.attempt_open()) {
      // After an ignored final ACK the server may still take the connection once its queue drains:
      // wait as for any SYN-ACK'd handshake.
      if (f.a->client_ack_at && f.a->synacks_after_ack == 0) return Acked;
      if (f.a->synack) return SynAcked;
      return Unanswered;
    }
    return f.closed() ? Closed : Idle;
  }

  // When the flow (or its open attempt) needs looking at again.
  std::int64_t deadline(const Flow& f) const {
    switch (lane_of(f)) {
      case Acked: return ns(*f.a->client_ack_at) + opt.ack_wait.count();
      case SynAcked: return f.last_seen + opt.synack_wait.count();
      case Unanswered: return f.last_seen + opt.unanswered_wait.count();
      case Closed: return f.last_seen + opt.closed_linger.count();
      default: return f.last_seen + opt.idle_timeout.count();
    }
  }

  void schedule(Flow& f) {
    const Lane lane = lane_of(f);
    const auto bit = static_cast<std::uint8_t>(1u << lane);
    if (f.lanes_queued & bit) return;
    f.lanes_queued |= bit;
    lanes[lane].push_back({deadline(f), f.slot, f.gen});
  }

  void expire(std::int64_t t) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      auto& q = lanes[l];
      while (!q.empty() && q.front().at <= t) {
        // The flows due are cold: start loading a few ahead.
        if (q.size() > 4 && q[4].at <= t) prefetch_line(&flows[q[4].flow]);
        const Expiry e = q.front();
        q.pop_front();
        Flow& f = flows[e.flow];
        if (!f.live || f.gen != e.gen) continue;
        f.lanes_queued &= static_cast<std::uint8_t>(~(1u << l));
        if (f.attempt_open() && deadline(f) <= t) {
          const bool answered = f.a->synack || f.completed_unseen;
          finish_attempt(f, false);
          // A handshake nobody answered leaves nothing worth tracking.
          if (!answered) {
            remove_flow(f);
            continue;
          }
        }
        if (!f.attempt_open() && deadline(f) <= t) {
          remove_flow(f);
          continue;
        }
        schedule(f);
      }
    }
    while (!memory_expiry.empty() && memory_expiry.front().first <= t) {
      const std::uint64_t key = memory_expiry.front().second;
      memory_expiry.pop_front();
      Memory* m = memory.find(key);
      if (!m) continue;
      if (m->updated + opt.memory_window.count() <= t) memory.erase(key);
      else memory_expiry.push_back({m->updated + opt.memory_window.count(), key});
    }
    while (!finished_expiry.empty() && finished_expiry.front().first <= t) {
      finished.erase(finished_expiry.front().second);
      finished_expiry.pop_front();
    }
    while (!clock_expiry.empty() && clock_expiry.front().first <= t) {
      const std::uint64_t key = clock_expiry.front().second;
      clock_expiry.pop_front();
      ClientClocks* cc = clocks.find(key);
      if (!cc) continue;
      if (cc->last_at + 2 * opt.dedupe_window.count() > t) {
        clock_expiry.push_back({cc->last_at + 2 * opt.dedupe_window.count(), key});
        continue;
      }
      if (cc->clock_count >= 2 && retired_findings.size() < kMaxRetiredFindings) retired_findings.push_back(finding(*cc));
      clocks.erase(key);
    }
  }

  // ---- attempts ----------------------------------------------------------------------------------

  static std::uint64_t attempt_key(const PacketEndpoint& client, const PacketEndpoint& server, std::uint32_t isn) {
    return mix(endpoint_hash(client) * 0x9e3779b97f4a7c15ULL ^ endpoint_hash(server) ^ (std::uint64_t{isn} << 7));
  }

  void start_attempt(Flow& f, const PacketRecord& p) {
    if (f.half_open_counted) {
      --ports[f.port].half_open;
      f.half_open_counted = false;
    }
    f.a = attempts.take();
    f.a->client = f.client;
    f.a->server = f.server;
    f.a->isn = p.seq;
    f.a->id = ++stats.attempts;
    f.syn_seen = true;
    f.refused = f.client_reset = f.rst_after_ack = f.completed_unseen = false;
    f.ts_bits_match = false;
    f.client_fin = f.server_fin = f.reset = false;
    f.active_closer = Side::None;
    f.server_sent = false;
    const auto ts = p.options.ts();
    f.syn_has_ts = ts.has_value();
    f.syn_sack = p.options.has_sack_ok();
    const auto ws = p.options.wscale_value();
    f.syn_wscale = ws ? static_cast<std::int8_t>(*ws & 0xf) : -1;
    f.syn_ecn = (p.flags & (tcp_flag::ECE | tcp_flag::CWR)) == (tcp_flag::ECE | tcp_flag::CWR);
  }

  void on_syn(Flow& f, const PacketRecord& p, std::int64_t t) {
    const auto ts = p.options.ts();
    if (f.attempt_open() && p.seq == f.a->isn) {
      Attempt& a = *f.a;
      const SynSend& prev = a.last_syn();
      const bool same_ts = ts && prev.has_ts && prev.ts == ts->val;
      const bool instant = !ts && !prev.has_ts && std::llabs(t - ns(prev.at)) < 5'000'000;
      if (same_ts || instant || t + 1'000'000 < ns(prev.at)) {
        ++a.duplicate_syns;
        ++stats.duplicate_syns;
        return;
      }
      a.retried = true;
    } else {
      if (f.attempt_open()) finish_attempt(f, false);
      if (finished.contains(attempt_key(f.client, f.server, p.seq))) {  // a copy of a SYN whose attempt is already over
        ++stats.duplicate_syns;
        return;
      }
      start_attempt(f, p);
    }
    Attempt& a = *f.a;
    if (a.syn_count < Attempt::kMaxSyns) {
      SynSend& s = a.syn_buf[a.syn_count];
      s.at = p.ts;
      s.frame = p.frame;
      if (ts) {
        s.ts = ts->val;
        s.has_ts = true;
      }
    }
    ++a.syn_count;
    const Port& port = ports[f.port];
    a.half_open_at_syn = std::max(a.half_open_at_syn, port.half_open);
    a.idle_children_at_syn = port.idle_children;
    a.port_quiet_at_syn = port.last_new_synack == INT64_MIN ? -1 : static_cast<double>(t - port.last_new_synack) / 1e9;
    if (const Memory* mem = memory.find(pair_hash(a.server.addr, a.client.addr));
        mem && t - mem->updated <= opt.memory_window.count())
      a.server_memory = mem->m;
    if (ts) {
      const std::uint32_t clock = feed_clock(a.client.addr, t, ts->val, a.syn_count == 1);
      if (a.syn_count == 1) a.ts_clock = static_cast<std::uint16_t>(std::min<std::uint32_t>(clock, 0xffff));
    }
  }

  bool synack_encodes_syn_options(const Flow& f, std::uint32_t tsval) const {
    // §10: a cookie SYN-ACK's TSval carries the SYN's wscale (low 4 bits, 0xF = none), SACK (bit 4)
    // and ECN (bit 5) in its low 6 bits.
    const std::uint32_t want = (f.syn_wscale >= 0 ? static_cast<std::uint32_t>(f.syn_wscale) : 0xfu) | (f.syn_sack ? 0x10u : 0u);
    if ((tsval & 0x1fu) != want) return false;
    return (tsval & 0x20u) == 0 || f.syn_ecn;
  }

  void on_synack(Flow& f, const PacketRecord& p, std::int64_t t) {
    ++stats.synacks;
    server_spoke(f);
    Port& port = ports[f.port];
    port.answered = true;
    if (!f.attempt_open() || p.ack != f.a->isn + 1) {
      if (!f.syn_seen) ++stats.synack_without_syn;
      return;
    }
    Attempt& a = *f.a;
    ++a.synack_count;
    // §5.2/§5.3: a request whose final ACK was dropped re-sends its SYN-ACK on its timer (≥ 1 s
    // after the previous one). A SYN-ACK hard on the heels of another answers a late copy of the SYN
    // instead; one older than the ACK comes from a capture replayed into itself.
    if (a.client_ack_at && t > ns(*a.client_ack_at) && t - f.last_synack >= 500'000'000) {
      ++a.synacks_after_ack;
      port.last_ack_ignored = t;
    }
    f.last_synack = t;
    if (a.syn_count <= Attempt::kMaxSyns) a.syn_buf[a.kept_syns() - 1].answered = true;
    if (!a.answer_at) a.answer_at = p.ts;
    const auto ts = p.options.ts();
    if (a.synack) return;
    port.last_new_synack = t;
    SynAckInfo info;
    info.at = p.ts;
    info.frame = p.frame;
    info.isn = p.seq;
    info.mss = p.options.mss_value();
    info.wscale = p.options.wscale_value();
    info.sack_ok = p.options.has_sack_ok();
    if (ts) info.tsval = ts->val;
    bool cookie_like = false;
    if (ts && f.syn_has_ts) {
      f.ts_bits_match = synack_encodes_syn_options(f, ts->val);
      port.ts_bits_history = static_cast<std::uint16_t>((port.ts_bits_history << 1) | (f.ts_bits_match ? 1 : 0));
      // One match in 32 is chance; four of the port's last eight SYN-ACKs matching is not.
      if (f.ts_bits_match && std::popcount(static_cast<unsigned>(port.ts_bits_history & 0xff)) >= 4) {
        port.last_cookie = t;
        cookie_like = true;
        info.cookie_by_ts_bits = true;
      }
    }
    // Without timestamps a cookie SYN-ACK only lacks wscale and SACK (§10), which a server with those
    // turned off also does: not enough to call it a cookie.
    info.cookie = cookie_like;
    a.synack = info;
    if (!cookie_like) {
      ++port.half_open;
      f.half_open_counted = true;
    } else {
      port.last_cookie = t;
    }
  }

  void release_idle_child(Flow& f) {
    if (f.idle_child) {
      --ports[f.port].idle_children;
      f.idle_child = false;
    }
  }
  void mark_idle_child(Flow& f) {
    if (!f.idle_child && !f.server_sent_data) {
      f.idle_child = true;
      ++ports[f.port].idle_children;
    }
  }

  void release_half_open(Flow& f) {
    if (f.half_open_counted) {
      --ports[f.port].half_open;
      f.half_open_counted = false;
    }
  }

  void on_rst(Flow& f, const PacketRecord& p, bool from_client, std::int64_t t) {
    Attempt* const a = f.a;  // null unless f.attempt_open()
    (void)t;
    f.reset = true;
    if (!from_client) {
      server_spoke(f);
      if (f.attempt_open()) {
        if (a->client_ack_at) {
          f.rst_after_ack = true;
        } else if (!a->synack) {
          f.refused = true;
          ++a->rsts;
          ports[f.port].answered = true;
          if (a->syn_count <= Attempt::kMaxSyns && a->syn_count > 0) a->syn_buf[a->kept_syns() - 1].answered = true;
          if (!a->answer_at) a->answer_at = p.ts;
        }
      }
    } else if (f.attempt_open() && a->synack && !a->client_ack_at) {
      f.client_reset = true;
    }
    release_half_open(f);
    release_idle_child(f);
    if (!from_client) f.server_sent_data = true;
  }

  void on_segment(Flow& f, const PacketRecord& p, bool from_client, std::int64_t t) {
    Attempt* const a = f.a;  // null unless f.attempt_open()
    if (from_client) {
      if (f.attempt_open() && (p.flags & tcp_flag::ACK) && !a->client_ack_at) {
        if (a->synack && p.ack == a->synack->isn + 1) {
          a->client_ack_at = p.ts;
          release_half_open(f);
          mark_idle_child(f);
        } else if (!a->synack && p.seq == a->isn + 1 && !f.refused) {
          // The client acts on a SYN-ACK the capture does not hold.
          f.completed_unseen = true;
          a->client_ack_at = p.ts;
        }
      }
    } else {
      server_spoke(f);
      f.server_sent_data = true;
      release_idle_child(f);
      if (f.attempt_open() && !f.completed_unseen) {
        const bool acks_syn = (p.flags & tcp_flag::ACK) && a->synack && seq_after(p.ack, a->isn);
        if (acks_syn && (a->client_ack_at || p.payload_len > 0 || (p.flags & tcp_flag::FIN))) {
          if (!a->client_ack_at) a->client_ack_at = p.ts;  // the client's ACK is missing from the capture
          a->established_at = a->client_ack_at;
          if (a->synacks_after_ack) a->established_at = p.ts;  // accepted only once the queue had room
          finish_attempt(f, false);
        }
      }
    }
    if (p.flags & tcp_flag::FIN) {
      const Side side = from_client ? Side::Client : Side::Server;
      if (f.active_closer == Side::None) {
        f.active_closer = side;
        f.closer_fin_frame = p.frame;
      }
      (from_client ? f.client_fin : f.server_fin) = true;
      release_idle_child(f);
    }
    // §7.1/§7.2: the active closer keeps the peer's latest TSval until TIME_WAIT (then tcp_metrics).
    if (f.active_closer != Side::None) {
      const bool closer_is_client = f.active_closer == Side::Client;
      const bool peer_ts = closer_is_client ? f.server_ts : f.client_ts;
      if (peer_ts) {
        const PacketEndpoint& closer = closer_is_client ? f.client : f.server;
        const PacketEndpoint& peer = closer_is_client ? f.server : f.client;
        remember(closer, peer, closer_is_client ? f.server_tsval : f.client_tsval, f.closer_fin_frame, t);
      }
    }
  }

  void remember(const PacketEndpoint& closer, const PacketEndpoint& peer, std::uint32_t tsval, std::uint64_t frame,
                std::int64_t t) {
    const std::uint64_t key = pair_hash(closer.addr, peer.addr);
    if (memory.size() >= opt.max_flows && !memory.find(key)) {
      ++stats.state_limited;
      return;
    }
    bool inserted;
    Memory& m = memory.get(key, inserted);
    m.m.closed_at = WallTime{t};
    m.m.frame = frame;
    m.m.server_side = closer;
    m.m.peer_side = peer;
    m.m.peer_tsval = tsval;
    m.updated = t;
    if (inserted) memory_expiry.push_back({t + opt.memory_window.count(), key});
  }

  void server_spoke(Flow& f) {
    if (f.server_sent) return;
    f.server_sent = true;
    if (hosts.size() >= opt.max_flows && !hosts.find(addr_hash(f.server.addr))) {
      ++stats.state_limited;
      return;
    }
    bool inserted;
    hosts.get(addr_hash(f.server.addr), inserted).spoke = true;
    f.host_recorded = true;
  }

  void on_icmp(const capture::IcmpRecord& r) {
    const std::uint64_t h = flow_hash(r.quoted_src, r.quoted_dst) | 1;
    Flow* f = find(r.quoted_src, r.quoted_dst, h);
    if (!f || !f->attempt_open() || !(f->client == r.quoted_src)) return;
    Attempt& a = *f->a;
    if (a.synack || f->refused) return;
    if (!a.icmp) a.icmp = icmp_text(r.kind) + " from " + r.reporter.str();
    if (a.syn_count <= Attempt::kMaxSyns && a.syn_count > 0) a.syn_buf[a.kept_syns() - 1].answered = true;
    if (!a.answer_at) a.answer_at = r.ts;
  }

  void finish_attempt(Flow& f, bool at_end) {
    Attempt& a = *f.a;
    if (f.rst_after_ack) a.outcome = Outcome::ResetAfterAck;
    else if (a.established_at) a.outcome = Outcome::Established;
    else if (f.completed_unseen) a.outcome = Outcome::CompletedUnseen;
    else if (a.synack && a.client_ack_at) {
      if (a.synacks_after_ack) a.outcome = Outcome::AckIgnored;
      else {
        a.outcome = Outcome::Established;
        a.established_at = a.client_ack_at;
      }
    } else if (a.synack) a.outcome = Outcome::SynAckUnacked;
    else if (f.refused) a.outcome = Outcome::Refused;
    else if (a.icmp) a.outcome = Outcome::Unreachable;
    else if (at_end && a.syn_count == 1 && now - ns(a.last_syn().at) < 1'000'000'000LL) a.outcome = Outcome::CaptureEnded;
    else a.outcome = Outcome::Unanswered;
    a.schedule = classify_schedule(a);
    const Port& port = ports[f.port];
    const std::int64_t lo = ns(a.first_syn()) - opt.near.count(), hi = ns(a.last_syn().at) + opt.near.count();
    a.port_ack_ignored_near = port.last_ack_ignored >= lo && port.last_ack_ignored <= hi + opt.near.count();
    a.port_cookies_near = port.last_cookie >= lo && port.last_cookie <= hi + opt.near.count();
    a.port_ever_answered = port.answered;
    if (f.host_recorded) {
      a.host_ever_spoke = true;
    } else {
      const Host* host = hosts.find(addr_hash(a.server.addr));
      a.host_ever_spoke = host && host->spoke;
    }
    const ClientClocks* cc = clocks.find(addr_hash(a.client.addr));
    a.client_ts_clocks = cc ? cc->clock_count : 0;
    if (a.synack && a.synack->cookie_by_ts_bits == false && f.ts_bits_match && a.port_cookies_near) {
      a.synack->cookie = true;
      a.synack->cookie_by_ts_bits = true;
    }
    // §10 / §5.3: a request re-sends its SYN-ACK until ACKed (after 1 s, 3 s, …); a cookie has no request,
    // so its SYN-ACK goes out once. One such is a lost request or synack_retries=0; four in a row on a
    // port, each within 10 s of the last, is a port sending cookies (the sign that still works on
    // 4.12+, where the TS offset hides the TSval bits: docs/kernel-notes.md #6).
    if (a.outcome == Outcome::SynAckUnacked && !f.client_reset && a.synack_count == 1 && !a.synack->cookie &&
        now - ns(a.synack->at) >= 1'500'000'000LL) {  // a request's first re-send is due after 1 s (§5.3)
      Port& p = ports[f.port];
      const std::int64_t at = ns(a.synack->at);
      // INT64_MIN: none before (the difference would overflow).
      p.unresent_run = p.last_unresent != INT64_MIN && at - p.last_unresent <= opt.near.count() ? p.unresent_run + 1 : 1;
      p.last_unresent = std::max(p.last_unresent, at);
      if (p.unresent_run >= 4) {
        a.synack->cookie = true;
        p.last_cookie = std::max(p.last_cookie, at);
      }
    }
    const std::uint64_t key = attempt_key(a.client, a.server, a.isn);
    if (finished.size() >= opt.max_flows) ++stats.state_limited;
    else if (finished.insert(key)) finished_expiry.push_back({now + opt.dedupe_window.count(), key});
    sink(a);
    attempts.give_back(f.a);
    f.a = nullptr;
  }

  // ---- TS clocks (§8) -----------------------------------------------------------------------------

  // Every SYN transmission feeds its client address's clocks; `new_attempt` for an attempt's first.
  // Returns the id of the clock it fell on.
  std::uint32_t feed_clock(const IpAddress& addr, std::int64_t t, std::uint32_t tsval, bool new_attempt) {
    const std::uint64_t key = addr_hash(addr);
    if (clocks.size() >= opt.max_flows && !clocks.find(key)) {
      ++stats.state_limited;
      return 0;  // no clock: the attempt is not placed on one
    }
    bool inserted;
    ClientClocks& cc = clocks.get(key, inserted);
    cc.last_at = t;
    if (inserted) {
      cc.addr = addr;
      clock_expiry.push_back({t + 2 * opt.dedupe_window.count(), key});
    }
    if (new_attempt) ++cc.attempts;
    TsClock* match = nullptr;
    for (TsClock& c : cc.clocks) {
      if (on_clock(c, t, tsval)) {
        match = &c;
        break;
      }
    }
    if (!match) {
      TsClock fresh;
      fresh.first_at = fresh.last_at = WallTime{t};
      fresh.first_tsval = fresh.last_tsval = tsval;
      ++cc.clock_count;
      fresh.id = cc.clock_count;
      if (cc.clocks.size() < ClockFinding::kMaxClocks) {
        cc.clocks.push_back(fresh);
        match = &cc.clocks.back();
      } else {
        auto oldest = std::min_element(cc.clocks.begin(), cc.clocks.end(),
                                       [](const TsClock& x, const TsClock& y) { return x.last_at.unix_ns < y.last_at.unix_ns; });
        *oldest = fresh;
        match = &*oldest;
      }
    } else {
      TsClock& c = *match;
      const double span = static_cast<double>(t - c.first_at.unix_ns) / 1e9;
      if (span >= 0.5) c.rate_hz = static_cast<double>(s32_diff(tsval, c.first_tsval)) / span;
      if (t >= c.last_at.unix_ns) {
        c.last_at = WallTime{t};
        c.last_tsval = tsval;
      }
    }
    if (new_attempt) ++match->attempts;
    return match->id;
  }

  static bool on_clock(const TsClock& c, std::int64_t t, std::uint32_t tsval) { return continues_ts_clock(c, t, tsval); }

  static ClockFinding finding(const ClientClocks& cc) {
    ClockFinding f;
    f.addr = cc.addr;
    f.attempts = cc.attempts;
    f.clock_count = cc.clock_count;
    f.clocks = cc.clocks;
    std::sort(f.clocks.begin(), f.clocks.end(),
              [](const TsClock& x, const TsClock& y) { return x.first_at.unix_ns < y.first_at.unix_ns; });
    return f;
  }

  // ---- input -------------------------------------------------------------------------------------

  void add(const CaptureItem& item, std::uint64_t key) {
    const WallTime ts = item.kind == CaptureItem::Kind::Tcp ? item.tcp.ts : item.icmp.ts;
    const std::int64_t t = ts.unix_ns;
    if (!stats.any) {
      stats.any = true;
      stats.first = stats.last = ts;
      now = t;
    }
    if (t + 1'000'000'000LL < now) {
      if (!stats.time_backwards++) stats.first_backwards_frame = item.frame;
    }
    if (t > now) {
      now = t;
      stats.last = ts;
      // Eviction to the nearest 10 ms is plenty, and checking every packet is not free.
      if (now >= next_expiry_check) {
        expire(now);
        next_expiry_check = now + 10'000'000;
      }
    }
    if (item.kind == CaptureItem::Kind::Icmp) {
      ++stats.icmp;
      on_icmp(item.icmp);
      return;
    }
    ++stats.tcp;
    if (item.encapsulation == capture::Encapsulation::Tunnel) ++stats.tunnelled;
    const PacketRecord& p = item.tcp;
    const std::uint64_t h = key;
    Flow* fp = find(p.src, p.dst, h);
    const std::uint8_t syn_ack_rst = p.flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST);
    const bool syn = syn_ack_rst == tcp_flag::SYN;
    const bool synack = syn_ack_rst == (tcp_flag::SYN | tcp_flag::ACK);
    if (syn) ++stats.syns;
    if (!fp) {
      if (p.flags & tcp_flag::RST) return;
      if (syn) {
        fp = &new_flow(p.src, p.dst, h);
      } else if (synack) {
        fp = &new_flow(p.dst, p.src, h);
      } else {
        ++stats.midstream_flows;
        fp = &new_flow(p.src, p.dst, h);
      }
    }
    Flow& f = *fp;
    bool from_client = same(f.client, p.src);
    if (!f.syn_seen && ((syn && !from_client) || (synack && from_client))) {
      swap_roles(f);
      from_client = !from_client;
    }
    f.last_seen = std::max(f.last_seen, t);
    if (!p.options.empty()) {
      if (auto tsopt = p.options.ts()) {
        if (from_client) {
          f.client_tsval = tsopt->val;
          f.client_ts = true;
        } else {
          f.server_tsval = tsopt->val;
          f.server_ts = true;
        }
      }
    }
    if (syn) {
      if (from_client) on_syn(f, p, t);
    } else if (synack) {
      if (!from_client) on_synack(f, p, t);
    } else if (p.flags & tcp_flag::RST) {
      on_rst(f, p, from_client, t);
    } else {
      on_segment(f, p, from_client, t);
    }
    if (f.live) schedule(f);
  }

  // Two stages, a few packets apart: first the index slot, then (once that line is in) the flow.
  void prefetch(std::uint64_t h, bool flow_stage) const {
    if (h == 0) return;
    const std::uint32_t tag = tag_of(h);
    const std::uint64_t* slot = &index[tag & mask()];
    if (!flow_stage) {
      prefetch_line(slot);
      return;
    }
    // The home slot usually holds the flow at this load factor.
    const std::uint64_t v = *slot;
    if (v && static_cast<std::uint32_t>(v >> 32) == tag) {
      const Flow* f = &flows[static_cast<std::uint32_t>(v) - 1];
      prefetch_line(f);
      prefetch_line(reinterpret_cast<const char*>(f) + 64);
    }
  }

  // A SYN also looks up its attempt key, its address pair and its client's TS clocks.
  void prefetch(const CaptureItem& item, std::uint64_t h, bool flow_stage) const {
    prefetch(h, flow_stage);
    if (item.kind != CaptureItem::Kind::Tcp) return;
    const PacketRecord& p = item.tcp;
    if ((p.flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST)) != tcp_flag::SYN) return;
    const std::uint64_t client = addr_hash(p.src.addr);
    if (!flow_stage) {
      finished.prefetch(attempt_key(p.src, p.dst, p.seq));
      memory.prefetch(pair_hash(p.dst.addr, p.src.addr));
      clocks.prefetch(client);
    } else if (!p.options.empty()) {
      if (const ClientClocks* cc = clocks.find(client))
        for (std::size_t i = 0; i < cc->clocks.size(); i += 64 / sizeof(TsClock)) prefetch_line(&cc->clocks[i]);
    }
  }

  void finish() {
    for (std::size_t i = 0; i < flows.size(); ++i)
      if (Flow& f = flows[i]; f.live && f.attempt_open()) finish_attempt(f, true);
  }
};

AttemptTracker::AttemptTracker(TrackerOptions options, Sink sink) : impl_(std::make_unique<Impl>(options, std::move(sink))) {}
AttemptTracker::~AttemptTracker() = default;
void AttemptTracker::add(const capture::CaptureItem& item) { impl_->add(item, flow_key(item)); }
void AttemptTracker::add(const capture::CaptureItem& item, std::uint64_t key) { impl_->add(item, key); }
std::uint64_t AttemptTracker::flow_key(const capture::CaptureItem& item) {
  return item.kind == capture::CaptureItem::Kind::Tcp ? Impl::flow_hash(item.tcp.src, item.tcp.dst) | 1 : 0;
}
void AttemptTracker::finish() { impl_->finish(); }
void AttemptTracker::prefetch(std::uint64_t key, bool flow_stage) const { impl_->prefetch(key, flow_stage); }
void AttemptTracker::prefetch(const capture::CaptureItem& item, std::uint64_t key, bool flow_stage) const {
  impl_->prefetch(item, key, flow_stage);
}
const TrackerStats& AttemptTracker::stats() const { return impl_->stats; }
std::size_t AttemptTracker::open_flows() const { return impl_->live_flows; }

std::vector<ClockFinding> AttemptTracker::clock_findings() const {
  std::vector<ClockFinding> out = impl_->retired_findings;
  impl_->clocks.for_each([&](std::uint64_t, const ClientClocks& cc) {
    if (cc.clock_count >= 2) out.push_back(Impl::finding(cc));
  });
  std::sort(out.begin(), out.end(), [](const ClockFinding& x, const ClockFinding& y) {
    if (x.clock_count != y.clock_count) return x.clock_count > y.clock_count;
    return x.addr < y.addr;
  });
  return out;
}

bool continues_ts_clock(const TsClock& c, std::int64_t t, std::uint32_t tsval) {
  // TSvals advance at 1 kHz (≥ 4.13 and HZ=1000), 250/100 Hz (jiffies at HZ=250/100, ≤ 4.12), or
  // whatever rate the clock has shown (§8).
  const double dt = static_cast<double>(t - c.last_at.unix_ns) / 1e9;
  const std::int32_t dv_ticks = s32_diff(tsval, c.last_tsval);
  // Quick no for the usual case behind a NAT (another clock, far off), before a rate is known: none
  // of the rates below fits a step back of more than 0.01 * 1024 + 4 ticks…
  const bool fixed_rates = !(c.rate_hz > 0);
  if (fixed_rates && dv_ticks < -15) return false;
  const double dv = static_cast<double>(dv_ticks);
  if (std::fabs(dt) < 0.002) return std::fabs(dv) <= 5;
  if (dt < 0) return false;
  // …nor a step forward of more than 1.03 * 1024 ticks a second plus that slack.
  if (fixed_rates && dv > 1055.0 * dt + 15) return false;
  auto fits = [&](double rate) {
    const double want = rate * dt;
    return std::fabs(dv - want) <= 0.03 * want + 0.01 * rate + 4;
  };
  if (c.rate_hz > 0) return fits(c.rate_hz);
  for (double rate : {1000.0, 250.0, 100.0, 300.0, 1024.0, 10.0})
    if (fits(rate)) return true;
  return false;
}

}  // namespace synscope::analyze
