#pragma once
// Helpers for the model tests (tests/model/*): profile lookup, verdict counter comparison, and a
// tiny network of HostStacks driven by a time-ordered event queue. Expected values in the tests
// come from the fact sheet /work/shared/spec/linux-listen-path.md (cited as §n), not from the code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "core/ipv4.h"
#include "core/segment.h"
#include "core/time.h"
#include "model/counters.h"
#include "model/host_stack.h"
#include "model/kernel_profile.h"
#include "model/listen_rules.h"
#include "model/sysctls.h"
#include "model/verdict.h"

namespace synscope::model::testing {

inline const KernelProfile& P(const char* name) { return find_profile(name); }

// Every profile name the brief lists, oldest first.
inline const std::vector<std::string>& all_profile_names() {
  static const std::vector<std::string> names = {"3.10", "el7", "4.4.0", "4.4",  "4.10.0", "4.10",
                                                 "4.12", "5.4", "6.5",   "6.13", "6.18",   "7.0"};
  return names;
}

// Counter field names of a verdict, sorted (so expectations can be written in any order).
inline std::vector<std::string> counter_names(const Verdict& v) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.counter_count; ++i) out.emplace_back(counter_info(v.counters[i]).field);
  std::sort(out.begin(), out.end());
  return out;
}
inline std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline Ipv4Addr ip(const char* text) { return *Ipv4Addr::parse(text); }
inline Endpoint ep(const char* text) { return *Endpoint::parse(text); }

// A Linux-style SYN (mss, sackOK, TS, nop, wscale) as a client would send it.
inline Segment make_syn(Endpoint src, Endpoint dst, std::uint32_t isn, std::optional<std::uint32_t> tsval = 1000) {
  Segment s;
  s.src = src;
  s.dst = dst;
  s.seq = isn;
  s.flags = tcp_flag::SYN;
  s.window = 64240;
  s.options.mss(1460);
  if (tsval) {
    s.options.sack_ok();
    s.options.timestamp(*tsval, 0);
  } else {
    s.options.nop();
    s.options.nop();
    s.options.sack_ok();
  }
  s.options.nop();
  s.options.wscale(7);
  return s;
}

struct Sent {
  SimTime at;
  int from;
  Segment seg;
};

// Hosts connected by a lossless link with a fixed latency. Segments for an address nobody owns
// are recorded and discarded (spoofed sources). Timers fire in time order.
class Net {
 public:
  struct Node : StackEnv {
    Net* net = nullptr;
    int idx = 0;
    std::unique_ptr<HostStack> stack;
    std::vector<std::pair<SimTime, ConnId>> connected;
    std::vector<std::pair<ConnId, ConnectError>> failed;
    std::vector<ConnId> resets;
    std::vector<ConnId> peer_closed;
    int acceptable = 0;
    std::vector<Decision> decisions;
    std::vector<std::string> logs;

    void transmit(const Segment& seg) override { net->on_transmit(idx, seg); }
    std::uint64_t arm_timer(SimTime at, TimerRef ref) override {
      net->schedule_timer(idx, at, ref);
      return 0;  // no cancelling: the stack's generation check drops superseded timers
    }
    void on_decision(const Decision& d) override { decisions.push_back(d); }
    void on_kernel_log(SimTime, const std::string& line) override { logs.push_back(line); }
    void on_connected(ConnId id, std::uint64_t) override { connected.emplace_back(net->now, id); }
    void on_connect_failed(ConnId id, std::uint64_t, ConnectError e) override { failed.emplace_back(id, e); }
    void on_acceptable(ListenerId, std::uint64_t) override { ++acceptable; }
    void on_peer_closed(ConnId id, std::uint64_t) override { peer_closed.push_back(id); }
    void on_reset(ConnId id, std::uint64_t) override { resets.push_back(id); }
  };

  Duration latency = millis(1);
  SimTime now{};
  std::vector<Sent> wire;                            // every transmitted segment
  std::function<bool(const Sent&)> drop_filter;      // true ⇒ lost on the wire

  int add_host(const KernelProfile& p, const Sysctls& s, const char* addr, std::uint32_t ts_start = 1'000'000,
               std::uint64_t secret = 0) {
    auto node = std::make_unique<Node>();
    node->net = this;
    node->idx = static_cast<int>(nodes_.size());
    HostConfig cfg;
    cfg.name = addr;
    cfg.addr = ip(addr);
    cfg.ts_clock_start = ts_start;
    cfg.secret = secret ? secret : 1000 + nodes_.size();
    cfg.epoch = WallTime{kEpochSec * 1'000'000'000LL};
    node->stack = std::make_unique<HostStack>(p, s, cfg, *node);
    route_[cfg.addr.value] = node->idx;
    nodes_.push_back(std::move(node));
    return static_cast<int>(nodes_.size() - 1);
  }
  HostStack& host(int i) { return *nodes_.at(i)->stack; }
  Node& node(int i) { return *nodes_.at(i); }
  // Makes `addr` be delivered to host i from now on (e.g. another host behind the same NAT address).
  void reroute(const char* addr, int i) { route_[ip(addr).value] = i; }

  // Delivers `seg` (from no modelled host) to the owner of seg.dst at time `at`.
  void inject(SimTime at, const Segment& seg) { push(Ev{at, seq_++, -1, false, {}, seg}); }

  void run_until(SimTime t) {
    while (!q_.empty() && q_.top().at <= t) {
      Ev e = q_.top();
      q_.pop();
      now = std::max(now, e.at);
      if (e.is_timer) {
        nodes_[e.host]->stack->on_timer(e.ref, now);
      } else {
        auto it = route_.find(e.seg.dst.addr.value);
        if (it != route_.end()) nodes_[it->second]->stack->receive(e.seg, now);
      }
    }
    now = std::max(now, t);
  }

  // Runs the network up to `sec` seconds and returns that time: use it for socket calls so that
  // the stack's `now` and the network's clock agree.
  SimTime go(double sec) {
    run_until(at(sec));
    return at(sec);
  }
  static SimTime at(double sec) { return SimTime{static_cast<std::int64_t>(sec * 1e9)}; }

  // Segments sent from host `from` (or -1 for any) matching a predicate.
  std::vector<Sent> sent(int from, const std::function<bool(const Segment&)>& pred) const {
    std::vector<Sent> out;
    for (const auto& s : wire)
      if ((from < 0 || s.from == from) && pred(s.seg)) out.push_back(s);
    return out;
  }

  static constexpr std::int64_t kEpochSec = 1'700'000'000;

 private:
  struct Ev {
    SimTime at;
    std::uint64_t seq;
    int host;
    bool is_timer;
    TimerRef ref;
    Segment seg;
  };
  struct Later {
    bool operator()(const Ev& a, const Ev& b) const { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }
  };
  void push(Ev e) { q_.push(std::move(e)); }
  void on_transmit(int from, const Segment& seg) {
    Sent s{now, from, seg};
    wire.push_back(s);
    if (drop_filter && drop_filter(s)) return;
    push(Ev{now + latency, seq_++, -1, false, {}, seg});
  }
  void schedule_timer(int host, SimTime at, TimerRef ref) { push(Ev{std::max(at, now), seq_++, host, true, ref, {}}); }

  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::uint32_t, int> route_;
  std::priority_queue<Ev, std::vector<Ev>, Later> q_;
  std::uint64_t seq_ = 0;
};

inline bool is_pure_syn(const Segment& s) { return s.is_syn(); }
inline bool is_synack(const Segment& s) { return s.is_synack(); }
inline bool is_rst(const Segment& s) { return (s.flags & tcp_flag::RST) != 0; }

inline SimTime at_s(double sec) { return SimTime{static_cast<std::int64_t>(sec * 1e9)}; }

}  // namespace synscope::model::testing
