#include "sim/simulator.h"

#include <algorithm>
#include <bit>
#include <memory>
#include <fmt/format.h>
#include <unordered_map>

#include "core/error.h"
#include "core/rng.h"
#include "model/kernel_profile.h"
#include "sim/event_queue.h"
#include "sim/nat.h"

namespace synscope::sim {

using model::ConnId;
using model::HostStack;
using model::ListenerId;

std::string_view to_string(AttemptOutcome o) {
  switch (o) {
    case AttemptOutcome::Pending: return "pending";
    case AttemptOutcome::Established: return "established";
    case AttemptOutcome::TimedOut: return "timed out (ETIMEDOUT)";
    case AttemptOutcome::Refused: return "refused (RST)";
    case AttemptOutcome::Reset: return "reset";
  }
  return "?";
}

int SimResult::host_index(const std::string& name) const {
  for (std::size_t i = 0; i < hosts.size(); ++i)
    if (hosts[i].name == name) return static_cast<int>(i);
  return -1;
}

namespace {

class Engine;

// Application actions scheduled as events.
enum AppAction : std::uint8_t { kStart, kConnect, kSend, kClose, kAcceptTick, kInject };

class App {
 public:
  virtual ~App() = default;
  virtual void on_event(std::uint8_t action, std::uint32_t a, std::uint32_t b) = 0;
  virtual void on_connected(ConnId, std::uint32_t) {}
  virtual void on_connect_failed(ConnId, std::uint32_t, model::ConnectError) {}
  virtual void on_acceptable(ListenerId) {}
  virtual void on_data(ConnId, std::uint32_t, std::uint32_t) {}
  virtual void on_peer_closed(ConnId, std::uint32_t) {}
  virtual void on_reset(ConnId, std::uint32_t) {}
};

struct SimHost;

class HostEnv final : public model::StackEnv {
 public:
  HostEnv(Engine& e, int host) : engine_(e), host_(host) {}
  void transmit(const Segment& seg) override;
  std::uint64_t arm_timer(SimTime at, model::TimerRef ref) override;
  void cancel_timer(std::uint64_t handle) override;
  void on_decision(const model::Decision& d) override;
  void on_kernel_log(SimTime at, const std::string& text) override;
  void on_ts_remembered(SimTime at, const FourTuple& closed, const model::TsMemory& m) override;
  void on_connected(ConnId c, std::uint64_t tag) override;
  void on_connect_failed(ConnId c, std::uint64_t tag, model::ConnectError e) override;
  void on_acceptable(ListenerId l, std::uint64_t tag) override;
  void on_data(ConnId c, std::uint64_t tag, std::uint32_t bytes) override;
  void on_peer_closed(ConnId c, std::uint64_t tag) override;
  void on_reset(ConnId c, std::uint64_t tag) override;

 private:
  App* app(std::uint64_t tag);
  Engine& engine_;
  int host_;
};

struct SimHost {
  std::string name;
  Ipv4Addr addr;
  const model::KernelProfile* profile = nullptr;
  std::unique_ptr<HostEnv> env;
  std::unique_ptr<HostStack> stack;
  std::unique_ptr<NatTable> nat;
  int capture = -1;  // capture point index
};

// The queue's stream for a timer (EventQueue::push_stream). Most timers run a fixed delay, which is
// their stream. SYN-ACK and TIME_WAIT timers may be rounded up to a grid (EL7's 200 ms SYN-table
// scan, §5.3; the 7.5 s TIME_WAIT wheel, §7.4), so their delays differ from timer to timer while
// their due times still grow: one stream per kind keeps them in a lane instead of the heap.
std::uint64_t timer_stream(model::TimerKind kind, Duration delay) {
  using model::TimerKind;
  if (kind == TimerKind::SynAck || kind == TimerKind::TimeWait)
    return (std::uint64_t{1} << 63) | static_cast<std::uint64_t>(kind);  // no delay has bit 63 set
  return static_cast<std::uint64_t>(delay.count());
}

// Segments in flight, by slot. Fixed-size chunks keep a slot in place while delivering it schedules
// more segments (the receiver reads it by reference), and indexing is a shift and a mask.
class SegmentPool {
 public:
  Segment& operator[](std::uint32_t i) { return chunks_[i >> kShift][i & (kChunk - 1)]; }
  std::uint32_t acquire() {
    if (!free_.empty()) {
      const std::uint32_t i = free_.back();
      free_.pop_back();
      return i;
    }
    if (size_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<Segment[]>(kChunk));
    return size_++;
  }
  void release(std::uint32_t i) { free_.push_back(i); }

 private:
  static constexpr unsigned kShift = 6;
  static constexpr std::uint32_t kChunk = 1u << kShift;
  std::vector<std::unique_ptr<Segment[]>> chunks_;
  std::vector<std::uint32_t> free_;
  std::uint32_t size_ = 0;
};

std::uint64_t wire_key(Endpoint src, Endpoint dst) {
  return mix64(endpoint_key(src) * 0x9e3779b97f4a7c15ULL ^ endpoint_key(dst));
}

class Engine {
 public:
  Engine(const Scenario& sc, const SimOptions& opt);
  SimResult run();

  // Used by HostEnv and apps.
  SimTime now() const { return now_; }
  void transmit_from(int host, const Segment& seg);
  std::uint64_t schedule_timer(int host, SimTime at, model::TimerRef ref) {
    return queue_.push_stream(at, timer_stream(ref.kind, at - now_), EventKind::Timer, static_cast<std::uint8_t>(ref.kind),
                       static_cast<std::uint32_t>(host), ref.index, ref.gen);
  }
  void schedule_app(std::uint32_t app, SimTime at, std::uint8_t action, std::uint32_t a = 0, std::uint32_t b = 0) {
    if (at >= now_)
      queue_.push_after(now_, at - now_, EventKind::App, action, app, a, b);
    else
      queue_.push(at, EventKind::App, action, app, a, b);
  }
  // A cancelled timer leaves the agenda, but it still counts in SimResult::events when it was due
  // within the run, as it did when stale timers were popped and ignored (the count is an output).
  void cancel_timer(std::uint64_t handle) {
    if (auto at = queue_.cancel(handle); at && *at <= scenario_->duration.count()) ++result_.events;
  }
  HostStack& stack(int host) { return *hosts_[static_cast<std::size_t>(host)].stack; }
  App* app(std::size_t i) { return i < apps_.size() ? apps_[i].get() : nullptr; }
  int host_by_name(const std::string& name) const;
  const Scenario& scenario() const { return *scenario_; }
  Rng& rng() { return rng_; }
  // A segment from outside the scenario's hosts (spoofed flood sources), over the default latency.
  void deliver_from_outside(const Segment& seg);

  void record_decision(int host, const model::Decision& d);
  void record_log(int host, SimTime at, const std::string& text) {
    result_.kernel_log.push_back(KernelLogLine{at, host, text});
  }
  void record_ts(int host, SimTime at, const FourTuple& t, const model::TsMemory& m) {
    result_.ts_memory.push_back(TsMemoryEvent{at, host, t, m});
  }
  // Attempt bookkeeping.
  int new_attempt(const std::string& client, int host, ConnId conn, Endpoint remote);
  void attempt_established(int id);
  void attempt_failed(int id, AttemptOutcome why);
  void attempt_closed(int id);
  bool tracking() const { return options_.track_attempts; }
  // Appends a QueueSample for every listener whose queues differ from its last sample. Called after
  // each event when asked for: queues only change inside events, so this sees every change.
  void sample_queues();

 private:
  void deliver(const Event& e);
  // Counts, captures and attempt bookkeeping for a segment `host` sends.
  void note_sent(int host, const Segment& seg);
  // Queues `seg` for the host owning its destination address (from = sending host, -1 outside).
  void route(const Segment& seg, int from);
  // route() for a segment already in a pool slot; false (slot untouched) when nobody owns the address.
  bool send_slot(std::uint32_t slot, int from);
  void build_hosts();
  void build_apps();
  Duration latency(int from, int to) const;

  std::shared_ptr<const Scenario> scenario_;
  SimOptions options_;
  Rng rng_;
  EventQueue queue_;
  SimTime now_{};
  std::vector<SimHost> hosts_;
  // Address → host index, open addressing (looked up for every segment; hosts are few). The home
  // slot is the top bits of one multiplication (Fibonacci hashing).
  std::vector<std::pair<std::uint32_t, int>> addr_slots_;
  int addr_shift_ = 64;
  std::size_t addr_home(Ipv4Addr a) const {
    return static_cast<std::size_t>((std::uint64_t{a.value} * 0x9e3779b97f4a7c15ULL) >> addr_shift_);
  }
  int host_of(Ipv4Addr a) const {
    std::size_t mask = addr_slots_.size() - 1;
    for (std::size_t i = addr_home(a);; i = (i + 1) & mask) {
      if (addr_slots_[i].second < 0) return -1;
      if (addr_slots_[i].first == a.value) return addr_slots_[i].second;
    }
  }
  std::vector<Duration> latency_;  // hosts × hosts, one-way
  std::vector<std::unique_ptr<App>> apps_;
  SegmentPool pool_;
  std::unordered_map<std::uint64_t, int> attempt_by_wire_;
  std::vector<std::uint64_t> attempt_nat_key_;  // wire key of the translated SYN, 0 if none
  SimResult result_;
  std::vector<std::vector<std::pair<int, int>>> last_queues_;  // per host, per listener: (q, a) last sampled
};

// ---------------------------------------------------------------------------------------------
// Applications

std::uint64_t make_tag(std::uint32_t app, std::uint32_t cookie) { return (std::uint64_t{app + 1} << 32) | cookie; }

// A listening server: listen(port, backlog), accept immediately / never / at a rate, optionally
// write a banner and close first.
class ServerApp final : public App {
 public:
  ServerApp(Engine& e, std::uint32_t self, const ServerAppSpec& spec, int host)
      : e_(e), self_(self), spec_(spec), host_(host) {}
  void on_event(std::uint8_t action, std::uint32_t a, std::uint32_t b) override {
    auto& st = e_.stack(host_);
    switch (action) {
      case kStart: listener_ = st.listen(spec_.port, spec_.backlog, make_tag(self_, 0), e_.now()); break;
      case kAcceptTick:
        tick_pending_ = false;
        if (auto c = st.accept(listener_)) {
          accepted(*c);
          if (st.listener_snapshot(listener_).a > 0) schedule_tick();
        }
        break;
      case kSend: st.send(ConnId{a, b}, spec_.banner, e_.now()); break;
      case kClose: st.close(ConnId{a, b}, e_.now()); break;
      default: break;
    }
  }
  void on_acceptable(ListenerId) override {
    if (spec_.accept == AcceptMode::Immediate) {
      while (auto c = e_.stack(host_).accept(listener_)) accepted(*c);
    } else if (spec_.accept == AcceptMode::Rate && !tick_pending_) {
      schedule_tick();
    }
  }
  void on_peer_closed(ConnId c, std::uint32_t) override {
    if (spec_.eof_close_delay.count() > 0)
      e_.schedule_app(self_, e_.now() + spec_.eof_close_delay, kClose, c.index, c.gen);
    else
      e_.stack(host_).close(c, e_.now());
  }

 private:
  void schedule_tick() {
    tick_pending_ = true;
    SimTime at = std::max(e_.now(), next_accept_);
    next_accept_ = at + Duration{static_cast<std::int64_t>(1e9 / spec_.accept_rate)};
    e_.schedule_app(self_, at, kAcceptTick);
  }
  void accepted(ConnId c) {
    e_.stack(host_).set_tag(c, make_tag(self_, 0));
    if (!spec_.banner.empty()) e_.schedule_app(self_, e_.now() + spec_.banner_delay, kSend, c.index, c.gen);
    if (spec_.close_after) e_.schedule_app(self_, e_.now() + *spec_.close_after, kClose, c.index, c.gen);
  }
  Engine& e_;
  std::uint32_t self_;
  const ServerAppSpec& spec_;
  int host_;
  ListenerId listener_ = 0;
  bool tick_pending_ = false;
  SimTime next_accept_{};
};

// Clients connecting at given times or at a rate; optionally closing first after a hold time.
class ClientApp final : public App {
 public:
  ClientApp(Engine& e, std::uint32_t self, const ClientAppSpec& spec, int host)
      : e_(e), self_(self), spec_(spec), host_(host) {}
  void on_event(std::uint8_t action, std::uint32_t a, std::uint32_t b) override {
    auto& st = e_.stack(host_);
    switch (action) {
      case kStart:
        for (auto t : spec_.at) e_.schedule_app(self_, t, kConnect);
        if (spec_.count > 0) e_.schedule_app(self_, spec_.start, kConnect, 1);
        break;
      case kConnect: {
        if (a == 1 && ++issued_ < spec_.count)  // rate-driven: chain the next connect
          e_.schedule_app(self_, e_.now() + Duration{static_cast<std::int64_t>(1e9 / spec_.rate)}, kConnect, 1);
        std::uint32_t cookie = static_cast<std::uint32_t>(next_cookie_++);
        ConnId c = st.connect(spec_.connect_to, e_.now(), make_tag(self_, cookie), spec_.sport, spec_.syn_retries);
        int id = e_.new_attempt(spec_.name.empty() ? spec_.host : spec_.name, host_, c, spec_.connect_to);
        if (id >= 0) attempt_of_.emplace(cookie, id);  // -1: attempts are not tracked
        break;
      }
      case kClose: {
        auto it = attempt_of_.find(a);
        if (it != attempt_of_.end()) {
          e_.attempt_closed(it->second);
          attempt_of_.erase(it);
        }
        st.close(ConnId{b, static_cast<std::uint32_t>(gen_of_[a])}, e_.now());
        gen_of_.erase(a);
        break;
      }
      default: break;
    }
  }
  void on_connected(ConnId c, std::uint32_t cookie) override {
    auto it = attempt_of_.find(cookie);
    if (it != attempt_of_.end()) e_.attempt_established(it->second);
    if (spec_.close_after) {
      gen_of_[cookie] = c.gen;
      e_.schedule_app(self_, e_.now() + *spec_.close_after, kClose, cookie, c.index);
    }
  }
  void on_connect_failed(ConnId, std::uint32_t cookie, model::ConnectError err) override {
    auto it = attempt_of_.find(cookie);
    if (it == attempt_of_.end()) return;
    e_.attempt_failed(it->second, err == model::ConnectError::TimedOut ? AttemptOutcome::TimedOut
                                                                         : AttemptOutcome::Refused);
    attempt_of_.erase(it);
  }
  void on_reset(ConnId, std::uint32_t cookie) override {
    auto it = attempt_of_.find(cookie);
    if (it == attempt_of_.end()) return;
    e_.attempt_failed(it->second, AttemptOutcome::Reset);
    attempt_of_.erase(it);
  }
  void on_peer_closed(ConnId c, std::uint32_t cookie) override {
    auto it = attempt_of_.find(cookie);
    if (it != attempt_of_.end()) {
      e_.attempt_closed(it->second);
      attempt_of_.erase(it);
    }
    gen_of_.erase(cookie);
    e_.stack(host_).close(c, e_.now());
  }

 private:
  Engine& e_;
  std::uint32_t self_;
  const ClientAppSpec& spec_;
  int host_;
  int issued_ = 0;
  std::uint64_t next_cookie_ = 0;
  std::unordered_map<std::uint32_t, int> attempt_of_;
  std::unordered_map<std::uint32_t, std::uint32_t> gen_of_;
};

// The seed's telnet step: connect, read whatever comes, close first after a while.
class ConnectCloseApp final : public App {
 public:
  ConnectCloseApp(Engine& e, std::uint32_t self, const ConnectCloseSpec& spec, int host)
      : e_(e), self_(self), spec_(spec), host_(host) {}
  void on_event(std::uint8_t action, std::uint32_t, std::uint32_t) override {
    if (action == kStart) {
      e_.schedule_app(self_, spec_.at, kConnect);
    } else if (action == kConnect) {
      conn_ = e_.stack(host_).connect(spec_.target, e_.now(), make_tag(self_, 0), spec_.sport);
      attempt_ = e_.new_attempt(e_.scenario().hosts[static_cast<std::size_t>(host_)].name, host_, conn_, spec_.target);
      e_.schedule_app(self_, e_.now() + spec_.close_after, kClose);
    } else if (action == kClose) {
      e_.attempt_closed(attempt_);
      e_.stack(host_).close(conn_, e_.now());
    }
  }
  void on_connected(ConnId, std::uint32_t) override { e_.attempt_established(attempt_); }
  void on_connect_failed(ConnId, std::uint32_t, model::ConnectError err) override {
    e_.attempt_failed(attempt_, err == model::ConnectError::TimedOut ? AttemptOutcome::TimedOut : AttemptOutcome::Refused);
  }
  void on_peer_closed(ConnId c, std::uint32_t) override { e_.stack(host_).close(c, e_.now()); }

 private:
  Engine& e_;
  std::uint32_t self_;
  const ConnectCloseSpec& spec_;
  int host_;
  ConnId conn_{};
  int attempt_ = -1;
};

// An L7 proxy: each accepted client connection gets its own upstream connection from the proxy's
// address and TS clock (the seed's nginx observation).
class ProxyApp final : public App {
 public:
  ProxyApp(Engine& e, std::uint32_t self, const ProxySpec& spec, int host) : e_(e), self_(self), spec_(spec), host_(host) {}
  void on_event(std::uint8_t action, std::uint32_t, std::uint32_t) override {
    if (action == kStart) listener_ = e_.stack(host_).listen(spec_.listen_port, spec_.backlog, make_tag(self_, 0), e_.now());
  }
  void on_acceptable(ListenerId) override {
    auto& st = e_.stack(host_);
    while (auto down = st.accept(listener_)) {
      std::uint32_t pair = static_cast<std::uint32_t>(next_pair_++);
      st.set_tag(*down, make_tag(self_, pair * 2));
      ConnId up = st.connect(spec_.upstream, e_.now(), make_tag(self_, pair * 2 + 1));
      pairs_[pair] = {*down, up};
    }
  }
  void on_peer_closed(ConnId c, std::uint32_t cookie) override { close_pair(c, cookie); }
  void on_reset(ConnId c, std::uint32_t cookie) override { close_pair(c, cookie); }
  void on_connect_failed(ConnId c, std::uint32_t cookie, model::ConnectError) override { close_pair(c, cookie); }

 private:
  void close_pair(ConnId, std::uint32_t cookie) {
    auto it = pairs_.find(cookie / 2);
    if (it == pairs_.end()) return;
    auto& st = e_.stack(host_);
    st.close(it->second.first, e_.now());
    st.close(it->second.second, e_.now());
    pairs_.erase(it);
  }
  Engine& e_;
  std::uint32_t self_;
  const ProxySpec& spec_;
  int host_;
  ListenerId listener_ = 0;
  std::uint64_t next_pair_ = 0;
  std::unordered_map<std::uint32_t, std::pair<ConnId, ConnId>> pairs_;
};

// Spoofed SYNs from random addresses in a prefix (hping3 --flood --rand-source style).
class FloodApp final : public App {
 public:
  FloodApp(Engine& e, std::uint32_t self, const FloodSpec& spec) : e_(e), self_(self), spec_(spec) {}
  void on_event(std::uint8_t action, std::uint32_t, std::uint32_t) override {
    if (action == kStart) {
      if (spec_.duration.count() > 0) e_.schedule_app(self_, spec_.start, kInject);
      return;
    }
    if (action != kInject) return;
    auto& rng = e_.rng();
    std::uint32_t host_bits = spec_.source_prefix >= 32 ? 0 : (0xffffffffu >> spec_.source_prefix);
    Segment s;
    s.src = Endpoint{Ipv4Addr{(spec_.source_net.value & ~host_bits) | (rng.next_u32() & host_bits)},
                     static_cast<std::uint16_t>(1024 + rng.below(64512))};
    s.dst = spec_.target;
    s.seq = rng.next_u32();
    s.flags = tcp_flag::SYN;
    s.window = 512;
    s.ttl = 64;
    if (spec_.timestamps) {
      s.options.mss(1460);
      s.options.sack_ok();
      s.options.timestamp(rng.next_u32(), 0);
      s.options.nop();
      s.options.wscale(7);
    } else {
      s.options.mss(1460);
    }
    e_.deliver_from_outside(s);
    SimTime next = e_.now() + Duration{static_cast<std::int64_t>(1e9 / spec_.rate)};
    if (next < spec_.start + spec_.duration) e_.schedule_app(self_, next, kInject);
  }

 private:
  Engine& e_;
  std::uint32_t self_;
  const FloodSpec& spec_;
};

// ---------------------------------------------------------------------------------------------
// HostEnv

App* HostEnv::app(std::uint64_t tag) {
  if ((tag >> 32) == 0) return nullptr;
  return engine_.app(static_cast<std::size_t>((tag >> 32) - 1));
}
void HostEnv::transmit(const Segment& seg) { engine_.transmit_from(host_, seg); }
std::uint64_t HostEnv::arm_timer(SimTime at, model::TimerRef ref) { return engine_.schedule_timer(host_, at, ref); }
void HostEnv::cancel_timer(std::uint64_t handle) { engine_.cancel_timer(handle); }
void HostEnv::on_decision(const model::Decision& d) { engine_.record_decision(host_, d); }
void HostEnv::on_kernel_log(SimTime at, const std::string& text) { engine_.record_log(host_, at, text); }
void HostEnv::on_ts_remembered(SimTime at, const FourTuple& closed, const model::TsMemory& m) {
  engine_.record_ts(host_, at, closed, m);
}
void HostEnv::on_connected(ConnId c, std::uint64_t tag) {
  if (auto* a = app(tag)) a->on_connected(c, static_cast<std::uint32_t>(tag));
}
void HostEnv::on_connect_failed(ConnId c, std::uint64_t tag, model::ConnectError e) {
  if (auto* a = app(tag)) a->on_connect_failed(c, static_cast<std::uint32_t>(tag), e);
}
void HostEnv::on_acceptable(ListenerId l, std::uint64_t tag) {
  if (auto* a = app(tag)) a->on_acceptable(l);
}
void HostEnv::on_data(ConnId c, std::uint64_t tag, std::uint32_t bytes) {
  if (auto* a = app(tag)) a->on_data(c, static_cast<std::uint32_t>(tag), bytes);
}
void HostEnv::on_peer_closed(ConnId c, std::uint64_t tag) {
  if (auto* a = app(tag)) a->on_peer_closed(c, static_cast<std::uint32_t>(tag));
}
void HostEnv::on_reset(ConnId c, std::uint64_t tag) {
  if (auto* a = app(tag)) a->on_reset(c, static_cast<std::uint32_t>(tag));
}

// ---------------------------------------------------------------------------------------------
// Engine

Engine::Engine(const Scenario& sc, const SimOptions& opt)
    : scenario_(std::make_shared<const Scenario>(sc)), options_(opt), rng_(opt.seed.value_or(sc.seed)) {
  result_.scenario = scenario_;
  build_hosts();
  build_apps();
}

int Engine::host_by_name(const std::string& name) const {
  for (std::size_t i = 0; i < hosts_.size(); ++i)
    if (hosts_[i].name == name) return static_cast<int>(i);
  throw UsageError(fmt::format("{}: no host named '{}'", scenario_->source, name));
}

void Engine::build_hosts() {
  const Scenario& sc = *scenario_;
  std::uint64_t seed = options_.seed.value_or(sc.seed);
  hosts_.resize(sc.hosts.size());
  result_.hosts.resize(sc.hosts.size());
  for (std::size_t i = 0; i < sc.hosts.size(); ++i) {
    const HostSpec& hs = sc.hosts[i];
    SimHost& h = hosts_[i];
    h.name = hs.name;
    h.addr = hs.addr;
    std::string kernel = options_.kernel ? *options_.kernel : (hs.kernel.empty() ? sc.default_kernel : hs.kernel);
    h.profile = &model::find_profile(kernel);
    model::Sysctls sys = model::Sysctls::defaults_for(*h.profile);
    for (const auto& [name, value] : hs.sysctls) {
      // A what-if run on another kernel (--kernel) drops the scenario's sysctls that kernel does not
      // have, and says so; the scenario's own kernel must have every sysctl it sets.
      if (options_.kernel) {
        if (auto why = model::sysctl_unavailable_reason(*h.profile, name)) {
          result_.adjustments.push_back(
              fmt::format("host {}: the scenario's {}={} is ignored: {}", hs.name, name, value, *why));
          continue;
        }
      }
      try {
        sys.set(*h.profile, name, value);
      } catch (const UsageError& e) {
        throw UsageError(fmt::format("{}:{}: host '{}': {}", sc.source, hs.line_no, hs.name, e.what()));
      }
    }
    for (const auto& assignment : options_.sysctls) {
      auto colon = assignment.find(':');
      if (colon != std::string::npos) {
        if (assignment.substr(0, colon) != hs.name) continue;
        sys.set_assignment(*h.profile, assignment.substr(colon + 1));
      } else {
        sys.set_assignment(*h.profile, assignment);
      }
    }
    model::HostConfig cfg;
    cfg.name = hs.name;
    cfg.addr = hs.addr;
    cfg.mss = hs.mss;
    cfg.syn_window = hs.syn_window;
    cfg.synack_window = hs.synack_window ? hs.synack_window : hs.syn_window;
    cfg.wscale = hs.wscale;
    cfg.window = hs.window;
    cfg.secret = mix64(seed * 0x100000001b3ULL + i + 1);
    // A host's TS clock starts wherever its uptime put it: random unless the scenario pins it.
    cfg.ts_clock_start = hs.ts_clock_at_start ? *hs.ts_clock_at_start : static_cast<std::uint32_t>(mix64(cfg.secret) >> 32);
    cfg.hz = hs.hz.value_or(0);
    cfg.epoch = sc.start;
    h.env = std::make_unique<HostEnv>(*this, static_cast<int>(i));
    h.stack = std::make_unique<HostStack>(*h.profile, sys, cfg, *h.env);
    result_.hosts[i].name = hs.name;
    result_.hosts[i].addr = hs.addr;
    result_.hosts[i].kernel = std::string(h.profile->name);
    result_.hosts[i].sysctls = sys;
  }
  addr_slots_.assign(std::bit_ceil(sc.hosts.size() * 4 + 4), {0, -1});
  addr_shift_ = 64 - std::countr_zero(addr_slots_.size());
  for (std::size_t i = 0; i < sc.hosts.size(); ++i) {
    std::size_t mask = addr_slots_.size() - 1;
    std::size_t k = addr_home(sc.hosts[i].addr);
    while (addr_slots_[k].second >= 0) k = (k + 1) & mask;
    addr_slots_[k] = {sc.hosts[i].addr.value, static_cast<int>(i)};
  }
  for (const auto& n : sc.nats) {
    int hi = host_by_name(n.host);
    hosts_[static_cast<std::size_t>(hi)].nat = std::make_unique<NatTable>(n, sc.hosts[static_cast<std::size_t>(hi)].addr);
    result_.hosts[static_cast<std::size_t>(hi)].is_nat = true;
  }
  latency_.assign(hosts_.size() * hosts_.size(), sc.default_latency);
  for (const auto& l : sc.links) {
    auto a = static_cast<std::size_t>(host_by_name(l.a)), b = static_cast<std::size_t>(host_by_name(l.b));
    latency_[a * hosts_.size() + b] = l.latency;
    latency_[b * hosts_.size() + a] = l.latency;
  }
  if (options_.capture) {
    for (const auto& c : sc.captures) {
      int hi = host_by_name(c.host);
      hosts_[static_cast<std::size_t>(hi)].capture = static_cast<int>(result_.captures.size());
      result_.captures.push_back(CapturePoint{c.name.empty() ? c.host : c.name, c.host, hosts_[static_cast<std::size_t>(hi)].addr, {}});
    }
  }
}

void Engine::build_apps() {
  const Scenario& sc = *scenario_;
  // One application per spec; each learns its own index, which tags its sockets and events.
  auto add_all = [&](const auto& specs, auto make) {
    for (const auto& spec : specs) apps_.push_back(make(static_cast<std::uint32_t>(apps_.size()), spec));
  };
  add_all(sc.servers, [&](std::uint32_t id, const ServerAppSpec& s) -> std::unique_ptr<App> {
    return std::make_unique<ServerApp>(*this, id, s, host_by_name(s.host));
  });
  add_all(sc.proxies, [&](std::uint32_t id, const ProxySpec& p) -> std::unique_ptr<App> {
    return std::make_unique<ProxyApp>(*this, id, p, host_by_name(p.host));
  });
  add_all(sc.connect_close, [&](std::uint32_t id, const ConnectCloseSpec& c) -> std::unique_ptr<App> {
    return std::make_unique<ConnectCloseApp>(*this, id, c, host_by_name(c.host));
  });
  add_all(sc.clients, [&](std::uint32_t id, const ClientAppSpec& c) -> std::unique_ptr<App> {
    return std::make_unique<ClientApp>(*this, id, c, host_by_name(c.host));
  });
  add_all(sc.floods, [&](std::uint32_t id, const FloodSpec& f) -> std::unique_ptr<App> {
    return std::make_unique<FloodApp>(*this, id, f);
  });
  for (std::uint32_t i = 0; i < apps_.size(); ++i) schedule_app(i, SimTime{}, kStart);
}

Duration Engine::latency(int from, int to) const {
  return latency_[static_cast<std::size_t>(from) * hosts_.size() + static_cast<std::size_t>(to)];
}

void Engine::transmit_from(int host, const Segment& seg) {
  note_sent(host, seg);
  route(seg, host);
}

void Engine::note_sent(int host, const Segment& seg) {
  ++result_.segments_sent;
  SimHost& h = hosts_[static_cast<std::size_t>(host)];
  if (h.capture >= 0) result_.captures[static_cast<std::size_t>(h.capture)].segments.push_back({now_, seg});
  if (options_.track_attempts && seg.is_syn()) {
    auto it = attempt_by_wire_.find(wire_key(seg.src, seg.dst));
    if (it != attempt_by_wire_.end()) {
      auto& at = result_.attempts[static_cast<std::size_t>(it->second)];
      if (at.host == host) ++at.syns_sent;
    }
  }
}

void Engine::deliver_from_outside(const Segment& seg) {
  ++result_.segments_sent;
  route(seg, -1);
}

void Engine::route(const Segment& seg, int from) {
  const std::uint32_t slot = pool_.acquire();
  pool_[slot] = seg;
  if (!send_slot(slot, from)) pool_.release(slot);
}

bool Engine::send_slot(std::uint32_t slot, int from) {
  const Segment& seg = pool_[slot];
  int dest = host_of(seg.dst.addr);
  if (dest < 0) {
    ++result_.segments_blackholed;
    return false;
  }
  // The receiver's table lookups are cache misses for a new connection; start them now, while the
  // rest of this event runs, rather than when the segment is delivered.
  SimHost& to = hosts_[static_cast<std::size_t>(dest)];
  if (to.nat)
    to.nat->prefetch(seg);
  else
    to.stack->prefetch(seg);
  Duration lat = from < 0 ? scenario_->default_latency : latency(from, dest);
  queue_.push_after(now_, lat, EventKind::Deliver, 0, static_cast<std::uint32_t>(dest), slot, 0);
  return true;
}

void Engine::deliver(const Event& e) {
  ++result_.segments_delivered;
  // The slot is released only once this delivery is done with it; a NAT box forwards the segment
  // from the same slot, rewritten in place.
  const std::uint32_t slot = e.a;
  Segment& seg = pool_[slot];
  int hi = static_cast<int>(e.target);
  SimHost& h = hosts_[e.target];
  if (h.capture >= 0) result_.captures[static_cast<std::size_t>(h.capture)].segments.push_back({now_, seg});
  if (h.nat) {
    const bool track_syn = options_.track_attempts && seg.is_syn();
    const std::uint64_t in_key = track_syn ? wire_key(seg.src, seg.dst) : 0;
    switch (h.nat->rewrite(seg, now_)) {
      case NatAction::Drop: pool_.release(slot); return;
      case NatAction::Forward:
        if (track_syn) {
          auto it = attempt_by_wire_.find(in_key);
          if (it != attempt_by_wire_.end()) {
            result_.attempts[static_cast<std::size_t>(it->second)].seen_as = seg.src;
            attempt_nat_key_[static_cast<std::size_t>(it->second)] = wire_key(seg.src, seg.dst);
            attempt_by_wire_[wire_key(seg.src, seg.dst)] = it->second;
          }
        }
        if (seg.dst.addr != h.addr) {
          note_sent(hi, seg);
          if (!send_slot(slot, hi)) pool_.release(slot);
          return;
        }
        break;  // DNATed to the box itself
      case NatAction::NotNat: break;
    }
  }
  if (seg.dst.addr == h.addr) h.stack->receive(seg, now_);
  pool_.release(slot);
}

void Engine::record_decision(int host, const model::Decision& d) {
  int attempt = -1;
  if (options_.track_attempts) {
    auto it = attempt_by_wire_.find(wire_key(d.tuple.remote, d.tuple.local));
    if (it != attempt_by_wire_.end()) {
      attempt = it->second;
      auto& at = result_.attempts[static_cast<std::size_t>(attempt)];
      if (at.host != host && d.verdict.dropped() && at.outcome == AttemptOutcome::Pending) {
        ++at.syns_dropped;
        if (!at.drop_rule) at.drop_rule = d.verdict.rule;
      }
    }
  }
  if (options_.decisions) result_.decisions.push_back(HostDecision{host, attempt, d});
}

int Engine::new_attempt(const std::string& client, int host, ConnId conn, Endpoint remote) {
  if (!options_.track_attempts) return -1;
  Attempt a;
  a.client = client;
  a.host = host;
  a.remote = remote;
  a.start = now_;
  a.syns_sent = 1;  // connect() has just sent the first SYN
  if (auto t = stack(host).tuple_of(conn)) a.local = t->local;
  result_.attempts.push_back(a);
  attempt_nat_key_.push_back(0);
  int id = static_cast<int>(result_.attempts.size() - 1);
  attempt_by_wire_[wire_key(a.local, remote)] = id;
  return id;
}

void Engine::attempt_established(int id) {
  if (id < 0) return;
  auto& a = result_.attempts[static_cast<std::size_t>(id)];
  a.outcome = AttemptOutcome::Established;
  a.established_at = now_;
}

void Engine::attempt_failed(int id, AttemptOutcome why) {
  if (id < 0) return;
  auto& a = result_.attempts[static_cast<std::size_t>(id)];
  a.outcome = why;
  a.ended_at = now_;
  attempt_closed(id);
}

void Engine::attempt_closed(int id) {
  if (id < 0) return;
  // Forget the wire mappings once the attempt is over: memory stays proportional to live connections.
  auto& a = result_.attempts[static_cast<std::size_t>(id)];
  attempt_by_wire_.erase(wire_key(a.local, a.remote));
  if (auto k = attempt_nat_key_[static_cast<std::size_t>(id)]) attempt_by_wire_.erase(k);
}

void Engine::sample_queues() {
  if (result_.queue_samples_capped) return;
  last_queues_.resize(hosts_.size());
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    const HostStack& st = *hosts_[h].stack;
    auto& last = last_queues_[h];
    for (ListenerId l = 0; l < st.listener_count(); ++l) {
      const auto snap = st.listener_snapshot(l);
      if (l >= last.size()) last.emplace_back(-1, -1);  // a new listener: its first state is a change
      if (last[l] == std::pair{snap.q, snap.a}) continue;
      last[l] = {snap.q, snap.a};
      if (result_.queue_samples.size() >= SimResult::kMaxQueueSamples) {
        result_.queue_samples_capped = true;
        return;
      }
      result_.queue_samples.push_back(QueueSample{now_, static_cast<int>(h), snap.port, snap.q, snap.a});
    }
  }
}

SimResult Engine::run() {
  const SimTime end = scenario_->duration;
  Event e;
  std::uint64_t popped = 0;
  while (queue_.pop_until(end.count(), e)) {
    now_ = SimTime{e.time_ns};
    ++result_.events;
    ++popped;
    switch (e.kind) {
      case EventKind::Deliver: deliver(e); break;
      case EventKind::Timer:
        hosts_[e.target].stack->on_timer(model::TimerRef{static_cast<model::TimerKind>(e.sub), e.a, e.b}, now_);
        break;
      case EventKind::App: apps_[e.target]->on_event(e.sub, e.a, e.b); break;
      case EventKind::Cancelled: break;  // never popped: the queue drops them
    }
    if (options_.queue_samples) sample_queues();
    if ((popped & 0xfff) == 0) {
      std::size_t live = 0;
      for (auto& h : hosts_) live += h.stack->live_sockets();
      result_.peak_live_sockets = std::max(result_.peak_live_sockets, live);
    }
  }
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    auto& hr = result_.hosts[i];
    auto& st = *hosts_[i].stack;
    hr.counters = st.counters();
    hr.metrics = st.metrics().rows();
    for (ListenerId l = 0; l < st.listener_count(); ++l) hr.listeners.push_back(st.listener_snapshot(l));
  }
  return std::move(result_);
}

}  // namespace

SimResult simulate(const Scenario& scenario, const SimOptions& options) {
  Engine engine(scenario, options);
  return engine.run();
}

}  // namespace synscope::sim
