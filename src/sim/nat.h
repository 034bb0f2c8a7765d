#pragma once
// A conntrack-style NAT box: the iptables DNAT (PREROUTING) and SNAT (POSTROUTING) rules of a
// NatSpec, applied the way netfilter applies them.
//
//  * Rules are consulted only for the first packet of a connection, a TCP SYN without ACK (as with
//    nf_conntrack_tcp_loose=0). That packet creates a conntrack entry holding the original tuple
//    and the reply tuple; every later packet of either direction is rewritten from the entry.
//  * DNAT rewrites the destination (first matching rule wins). SNAT then matches on the
//    post-DNAT destination and rewrites the source address, keeping the source port unless the
//    resulting reply tuple is already used by another live entry, in which case another port is
//    chosen deterministically (see NatTable::choose_port).
//  * A SYN on the original tuple of an entry in TIME_WAIT or CLOSE replaces the entry ("reopened
//    connection", as conntrack does); in other states it is treated as a retransmission.
//  * TCP options, timestamps included, sequence numbers, TTL and payload pass untouched: a NAT that
//    does not rewrite TSvals is exactly what makes tcp_tw_recycle drop SYNs behind it. TTL
//    decrement is routing, left to the simulator.
//  * Entries time out per TCP state with the Linux defaults (NatTimeouts). Eviction uses one
//    expiry-ordered intrusive list per state, so each packet costs O(1) and memory is proportional
//    to live entries. `now` must not go backwards; an earlier value is treated as the latest seen.
//
// Not modelled: window/sequence tracking (out-of-window packets are translated, not marked
// INVALID), loose pick-up of mid-stream connections, and the box's own connections (they are not
// in the table, so SNAT could in theory pick a port one of them uses).
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/ipv4.h"
#include "core/segment.h"
#include "core/time.h"
#include "sim/scenario.h"

namespace synscope::sim {

// nf_conntrack's TCP states (SYN_SENT2 is simultaneous open).
enum class CtState : std::uint8_t { SynSent, SynRecv, Established, FinWait, CloseWait, LastAck, TimeWait, Close, SynSent2 };
inline constexpr std::size_t kCtStateCount = 9;
const char* to_string(CtState s);

// net.netfilter.nf_conntrack_tcp_timeout_* defaults.
struct NatTimeouts {
  Duration syn_sent = seconds(120);
  Duration syn_recv = seconds(60);
  Duration established = seconds(432000);  // 5 days
  Duration fin_wait = seconds(120);
  Duration close_wait = seconds(60);
  Duration last_ack = seconds(30);
  Duration time_wait = seconds(120);
  Duration close = seconds(10);
  Duration syn_sent2 = seconds(120);
  Duration for_state(CtState s) const;
};

enum class NatAction : std::uint8_t {
  Forward,  // `out` is the rewritten segment; send it towards out.dst (which may be the box itself)
  NotNat,   // no entry and no rule: the segment is unchanged; deliver locally if addressed to the box
  Drop,     // a rule matched but no unique reply tuple was found (port space exhausted): drop
};

class NatTable {
 public:
  NatTable(const NatSpec& spec, Ipv4Addr box_addr, NatTimeouts timeouts = {});

  // Full result for the simulator: see NatAction. `out` is written only for Forward.
  NatAction process(const Segment& in, SimTime now, Segment& out);

  // process() in place: on Forward `seg` is rewritten (addresses and ports only), otherwise it is
  // left as it was. The simulator forwards a segment from the slot it arrived in, without copies.
  NatAction rewrite(Segment& seg, SimTime now);

  // Convenience: the rewritten segment when forwarded, nullopt for NotNat and Drop.
  std::optional<Segment> translate(const Segment& in, SimTime now);

  // Starts loading the table slots process(in) will probe. The simulator calls it when it sends a
  // segment towards the box, a link latency before it arrives: the first packet of a connection
  // probes two random slots (its tuple and the reply tuple it would get), cache misses otherwise.
  void prefetch(const Segment& in) const;

  // Removes entries whose timeout has passed (process() does this itself).
  void expire(SimTime now);

  // Live conntrack entries (one per connection).
  std::size_t size() const { return live_; }

  // State of the entry a segment from `src` to `dst` would hit (either direction), if any.
  std::optional<CtState> state_of(Endpoint src, Endpoint dst) const;

  struct Stats {
    std::uint64_t created = 0;
    std::uint64_t expired = 0;
    std::uint64_t reopened = 0;      // TIME_WAIT/CLOSE entries replaced by a new SYN
    std::uint64_t port_changed = 0;  // SNAT could not keep the source port
    std::uint64_t dropped = 0;       // NatAction::Drop
  };
  const Stats& stats() const { return stats_; }

 private:
  static constexpr std::uint32_t kNil = 0xffffffffu;
  static constexpr std::uint8_t kNoList = 0xff;

  struct Entry {
    Endpoint orig_src, orig_dst;    // as the first packet arrived
    Endpoint reply_src, reply_dst;  // what the answer will look like (after NAT)
    std::int64_t expires_ns = 0;
    std::uint32_t prev = kNil, next = kNil;  // expiry list of its state; `next` doubles as free-list link
    CtState state = CtState::SynSent;
    std::uint8_t fin_dirs = 0;       // bit d: direction d (0 original, 1 reply) has sent a FIN
    std::uint8_t first_fin_dir = 0;  // who closed first
    std::uint8_t list = kNoList;     // expiry list it is linked into (the state when last touched)
  };

  // Open-addressing (linear probing, backward-shift deletion) map from a packed 4-tuple to
  // (entry index << 1 | direction). Holds both tuples of every entry, like conntrack's hash, so
  // "is this reply tuple taken?" is a single probe.
  class TupleMap {
   public:
    TupleMap();
    std::uint32_t find(Endpoint src, Endpoint dst) const;
    void prefetch(Endpoint src, Endpoint dst) const {
      __builtin_prefetch(&slots_[home(pack_addrs(src, dst), pack_ports(src, dst))]);
    }
    void insert(Endpoint src, Endpoint dst, std::uint32_t value);
    void erase(Endpoint src, Endpoint dst);

   private:
    struct Slot {
      std::uint64_t addrs = 0;
      std::uint32_t ports = 0;
      std::uint32_t value = kNil;
    };
    static std::uint64_t pack_addrs(Endpoint s, Endpoint d) {
      return (std::uint64_t{s.addr.value} << 32) | d.addr.value;
    }
    static std::uint32_t pack_ports(Endpoint s, Endpoint d) { return (std::uint32_t{s.port} << 16) | d.port; }
    std::size_t home(std::uint64_t a, std::uint32_t p) const {
      return mix64(a ^ (std::uint64_t{p} * 0x9e3779b97f4a7c15ULL)) & mask_;
    }
    void grow();
    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t count_ = 0;
  };

  // What the DNAT and SNAT rules make of a connection's first packet.
  struct Rewrite {
    Endpoint dst, src;  // the translated destination and source (the reply tuple reversed)
    bool dnat = false, snat = false;
  };
  Rewrite apply_rules(const Segment& in) const;
  NatAction create(Segment& seg);
  void prefetch_next_expiries(std::size_t list);
  std::optional<std::uint16_t> choose_port(Endpoint server, Ipv4Addr nat_addr, std::uint16_t original_port);
  // The SNAT port search's range for a source port: (first port, number of ports).
  static std::pair<std::uint32_t, std::uint32_t> port_range(std::uint16_t original_port);
  void step_state(Entry& e, std::uint8_t flags, int dir);
  void touch(std::uint32_t idx);
  void unlink(std::uint32_t idx);
  void remove(std::uint32_t idx);
  std::uint32_t allocate();

  NatSpec spec_;
  Ipv4Addr box_;
  NatTimeouts timeouts_;
  std::int64_t now_ns_ = 0;
  std::vector<Entry> entries_;
  std::uint32_t free_head_ = kNil;
  std::size_t live_ = 0;
  TupleMap map_;
  std::uint32_t head_[kCtStateCount];
  std::uint32_t tail_[kCtStateCount];
  // A lower bound on every list head's expiry, so that expire() has nothing to do for most packets.
  // Lists are sorted, so a head leaving its list only raises the true minimum: the bound is lowered
  // when an entry becomes a head and made exact again whenever expire() walks the lists.
  std::int64_t next_expiry_ns_ = INT64_MAX;
  // Per expiry list, an entry a few places behind the head whose cache lines (entry and both table
  // slots) were requested in advance, and how many places it is behind the head.
  static constexpr int kExpiryLookahead = 8;
  std::uint32_t ahead_[kCtStateCount];
  int ahead_lead_[kCtStateCount] = {};
  std::uint32_t rover_ = 0;         // where the last port search succeeded (3.10's tcp_port_rover)
  std::uint64_t search_count_ = 0;  // seeds the later, scattered search rounds
  Stats stats_;
};

}  // namespace synscope::sim
