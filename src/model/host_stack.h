#pragma once
// One host's TCP stack as far as connection set-up and teardown go: listeners with their SYN and
// accept queues, request socks, SYN cookies, connected sockets, TIME_WAIT buckets, tcp_metrics,
// the TS clock and the SNMP counters. Segments and timers come in; segments, timers and
// application notifications go out through StackEnv. Every listen-path decision is made by the
// pure rules in model/listen_rules.h and reported as a Verdict.
//
// Deliberately out of scope (documented in docs/design.md): congestion control, loss of data
// segments (links are lossless, so only FIN/data retransmission after a silent drop matters),
// window management beyond the fields a capture shows, IPv6, TFO, TCP_DEFER_ACCEPT, LSMs.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/ipv4.h"
#include "core/rng.h"
#include "core/segment.h"
#include "core/time.h"
#include "core/tuple_table.h"
#include "model/counters.h"
#include "model/kernel_profile.h"
#include "model/listen_rules.h"
#include "model/sysctls.h"
#include "model/tcp_metrics.h"
#include "model/ts_clock.h"
#include "model/verdict.h"

namespace synscope::model {

struct ConnId {
  std::uint32_t index = ~0u;
  std::uint32_t gen = 0;
  bool valid() const { return index != ~0u; }
  friend bool operator==(ConnId, ConnId) = default;
};
using ListenerId = std::uint32_t;

enum class TimerKind : std::uint8_t { ClientSyn, SynAck, TimeWait, Retransmit };
struct TimerRef {
  TimerKind kind;
  std::uint32_t index;
  std::uint32_t gen;
};

enum class ConnectError { TimedOut, Refused, Reset };
std::string_view to_string(ConnectError e);

enum class TcpState : std::uint8_t { Closed, SynSent, Established, FinWait1, FinWait2, CloseWait, LastAck, Closing };
std::string_view to_string(TcpState s);

// A listen-path or client-side decision, for the verdict table.
struct Decision {
  SimTime at{};
  FourTuple tuple;            // local = this host
  std::uint32_t seq = 0;      // segment's sequence number (the ISN for SYNs)
  std::uint32_t tsval = 0;
  bool has_ts = false;
  Verdict verdict;
};

class StackEnv {
 public:
  virtual ~StackEnv() = default;
  virtual void transmit(const Segment& seg) = 0;
  // Calls on_timer(ref) at `at`. Returns a handle for cancel_timer(), or 0 when the environment does
  // not cancel timers: a timer is still checked against its socket's generation when it fires, so
  // cancelling is optional; the simulator does it, so that the 4 of 5 timers per connection that
  // never fire cost nothing.
  virtual std::uint64_t arm_timer(SimTime at, TimerRef ref) = 0;
  virtual void cancel_timer(std::uint64_t /*handle*/) {}
  virtual void on_decision(const Decision&) {}
  virtual void on_kernel_log(SimTime, const std::string&) {}
  // tcp_metrics remembered a peer timestamp because this host closed `closed` first (§7.1, §7.2).
  virtual void on_ts_remembered(SimTime, const FourTuple& /*closed*/, const TsMemory& /*entry now*/) {}
  // Application notifications; `tag` is what the application attached to the socket.
  virtual void on_connected(ConnId, std::uint64_t /*tag*/) {}
  virtual void on_connect_failed(ConnId, std::uint64_t /*tag*/, ConnectError) {}
  virtual void on_acceptable(ListenerId, std::uint64_t /*listener tag*/) {}
  virtual void on_data(ConnId, std::uint64_t /*tag*/, std::uint32_t /*bytes*/) {}
  virtual void on_peer_closed(ConnId, std::uint64_t /*tag*/) {}
  virtual void on_reset(ConnId, std::uint64_t /*tag*/) {}
};

struct HostConfig {
  std::string name;
  Ipv4Addr addr;
  std::uint16_t mss = 1460;
  std::uint16_t syn_window = 64240;
  std::uint16_t synack_window = 64240;
  std::uint8_t wscale = 7;
  std::uint16_t window = 502;
  std::uint32_t ts_clock_start = 0;
  int hz = 0;                // 0 = profile default
  std::uint64_t secret = 1;  // seeds ISNs, TS offsets, cookies and ephemeral ports
  WallTime epoch{};          // wall clock at SimTime 0 (get_seconds())
};

struct ListenerSnapshot {
  std::uint16_t port = 0;
  int backlog = 0;     // B
  int table_size = 0;  // N (3.10/EL7) or B
  int q = 0, young = 0, a = 0;
  std::uint64_t drops = 0;  // sk_drops (skmem d)
};

// Socket storage: a vector of slots reused through a free list. Each slot carries a generation that
// changes when the slot is released or reused, so a stale ConnId or timer can be recognised.
template <typename T>
class Slots {
 public:
  std::uint32_t acquire() {
    std::uint32_t i;
    if (!free_.empty()) {
      i = free_.back();
      free_.pop_back();
    } else {
      i = static_cast<std::uint32_t>(items_.size());
      items_.emplace_back();
    }
    T fresh{};
    fresh.gen = items_[i].gen + 1;
    if constexpr (requires { fresh.timer_gen; }) fresh.timer_gen = items_[i].timer_gen + 1;
    fresh.live = true;
    items_[i] = fresh;
    ++live_;
    return i;
  }
  void release(std::uint32_t i) {
    T& t = items_[i];
    t.live = false;
    ++t.gen;
    if constexpr (requires { t.timer_gen; }) ++t.timer_gen;
    free_.push_back(i);
    --live_;
  }
  // The slot if it is live and still of generation `gen`.
  T* live_at(std::uint32_t i, std::uint32_t gen) {
    return i < items_.size() && items_[i].live && items_[i].gen == gen ? &items_[i] : nullptr;
  }
  const T* live_at(std::uint32_t i, std::uint32_t gen) const {
    return const_cast<Slots*>(this)->live_at(i, gen);
  }
  T& operator[](std::uint32_t i) { return items_[i]; }
  const T& operator[](std::uint32_t i) const { return items_[i]; }
  std::size_t size() const { return items_.size(); }
  std::size_t live() const { return live_; }

 private:
  std::vector<T> items_;
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0;
};

class HostStack {
 public:
  HostStack(const KernelProfile& profile, const Sysctls& sysctls, const HostConfig& config, StackEnv& env);

  // Input.
  void receive(const Segment& seg, SimTime now);
  void on_timer(TimerRef ref, SimTime now);
  // A hint that `seg` will arrive soon: starts loading the socket-table slot receive() will probe.
  void prefetch(const Segment& seg) const { ehash_.prefetch(FourTuple{seg.dst, seg.src}); }

  // Socket calls.
  ListenerId listen(std::uint16_t port, int backlog, std::uint64_t tag, SimTime now);
  std::optional<ConnId> accept(ListenerId id);
  ConnId connect(Endpoint remote, SimTime now, std::uint64_t tag, std::optional<std::uint16_t> sport = {},
                 std::optional<int> syn_retries = {});
  // A connection that was already ESTABLISHED before observation began (a capture replay that starts
  // mid-stream): the socket is created as if its handshake had happened earlier, with `local_next_seq`
  // and `peer_next_seq` as the next sequence numbers of each side and `peer_tsval` the peer's last
  // TSval (nullopt: no timestamps). Invalid ConnId when the 4-tuple is taken.
  ConnId adopt_established(const FourTuple& t, std::uint32_t local_next_seq, std::uint32_t peer_next_seq,
                           std::optional<std::uint32_t> peer_tsval, SimTime now, std::uint64_t tag);
  void set_tag(ConnId id, std::uint64_t tag);
  void send(ConnId id, std::string_view payload, SimTime now);
  void close(ConnId id, SimTime now);

  // Inspection.
  const KernelProfile& profile() const { return profile_; }
  const Sysctls& sysctls() const { return sysctls_; }
  const HostConfig& config() const { return config_; }
  const CounterSet& counters() const { return counters_; }
  const TcpMetrics& metrics() const { return metrics_; }
  const TsClockModel& ts_clock() const { return clock_; }
  ListenerSnapshot listener_snapshot(ListenerId id) const;
  std::size_t listener_count() const { return listeners_.size(); }
  std::optional<TcpState> state_of(ConnId id) const;
  std::optional<FourTuple> tuple_of(ConnId id) const;
  std::size_t live_sockets() const { return ehash_.size(); }
  std::size_t timewait_count() const { return tws_.live(); }

 private:
  enum class SockKind : std::uint8_t { Conn, Request, TimeWait };
  struct SockRef {
    SockKind kind = SockKind::Conn;
    std::uint32_t index = 0;
  };
  struct Listener {
    std::uint16_t port = 0;
    int backlog = 0;
    int table_size = 0;
    int q = 0, young = 0;
    std::deque<ConnId> accept_queue;
    bool synflood_warned = false;
    bool overflowed = false;
    SimTime last_overflow{};
    SimTime created{};
    std::uint64_t drops = 0;
    std::uint64_t tag = 0;
  };
  struct Request {
    FourTuple tuple;
    ListenerId listener = 0;
    std::uint32_t rcv_isn = 0, snt_isn = 0;
    std::uint32_t ts_recent = 0, ts_off = 0;
    bool saw_ts = false, sack_ok = false;
    std::int8_t snd_wscale = -1;
    std::uint16_t peer_mss = 536;
    std::uint8_t num_timeout = 0;
    bool acked = false;
    SimTime created{}, last_synack{}, last_oow_ack{};
    std::uint64_t timer = 0;  // StackEnv handle of the pending SYN-ACK timer
    std::uint32_t gen = 0;
    bool live = false;
  };
  struct Conn {
    FourTuple tuple;
    TcpState state = TcpState::Closed;
    std::uint32_t iss = 0, snd_una = 0, snd_nxt = 0, irs = 0, rcv_nxt = 0;
    std::uint32_t ts_off = 0, ts_recent = 0;
    std::int64_t ts_recent_stamp = 0;
    bool ts_ok = false, sack_ok = false;
    std::uint32_t first_syn_tsval = 0;
    SimTime syn_first{}, syn_last{};
    int syn_retransmits = 0;
    int syn_retries = 6;
    Duration srtt{};
    Duration rto = seconds(1);
    int rexmit_count = 0;
    std::uint32_t unacked_fin_seq = 0;
    bool fin_sent = false;
    bool app_closed = false;
    std::uint64_t tag = 0;
    std::uint64_t timer = 0;  // StackEnv handle of the pending SYN/retransmission timer
    std::uint32_t gen = 0;
    std::uint32_t timer_gen = 0;
    bool live = false;
  };
  struct TimeWait {
    FourTuple tuple;
    std::uint32_t snd_nxt = 0, rcv_nxt = 0, ts_recent = 0, ts_off = 0;
    std::int64_t ts_recent_stamp = 0;
    bool has_ts = false;
    Duration lifetime{};
    std::uint64_t timer = 0;  // StackEnv handle of the pending TIME_WAIT timer
    std::uint32_t gen = 0;
    bool live = false;
  };

  // Receive paths.
  void receive_listener(Listener& l, ListenerId lid, const Segment& seg, SimTime now, std::uint32_t tw_isn);
  void conn_request(Listener& l, ListenerId lid, const Segment& seg, SimTime now, std::uint32_t tw_isn);
  void receive_request(std::uint32_t ri, const Segment& seg, SimTime now);
  void receive_conn(std::uint32_t ci, const Segment& seg, SimTime now);
  void receive_syn_sent(std::uint32_t ci, const Segment& seg, SimTime now);
  void receive_timewait(std::uint32_t ti, const Segment& seg, SimTime now);
  bool cookie_ack(Listener& l, ListenerId lid, const Segment& seg, SimTime now);

  // Timers.
  void synack_timer(std::uint32_t ri, SimTime now);
  void client_syn_timer(std::uint32_t ci, SimTime now);
  void retransmit_timer(std::uint32_t ci, SimTime now);
  void timewait_timer(std::uint32_t ti);
  SimTime quantise_synack(const Listener& l, SimTime due) const;

  // Helpers.
  std::uint32_t new_conn();
  std::uint32_t child_from(const FourTuple& t, std::uint32_t iss, std::uint32_t irs, bool ts_ok, std::uint32_t ts_recent,
                           std::uint32_t ts_off, bool sack, SimTime now);
  void queue_child(Listener& l, ListenerId lid, std::uint32_t ci);
  void remove_request(std::uint32_t ri);
  void destroy_conn(std::uint32_t ci);
  void kill_timewait(std::uint32_t ti);
  Conn* live_conn(ConnId id) { return conns_.live_at(id.index, id.gen); }
  void enter_timewait(std::uint32_t ci, SimTime now);
  void remember_peer_stamp(const Conn& c, SimTime now);
  void arm_conn_timer(std::uint32_t ci, TimerKind kind, SimTime at);
  // Replaces the timer `handle` names (if any) by a new one; disarm() only cancels it.
  void rearm(std::uint64_t& handle, SimTime at, TimerRef ref);
  void disarm(std::uint64_t& handle);
  std::uint32_t secure_isn(const FourTuple& t, SimTime now) const;
  std::uint32_t cookie_isn(const FourTuple& t, std::uint32_t client_isn, std::uint32_t minute, int mss_index) const;
  std::optional<int> cookie_check(const FourTuple& t, std::uint32_t client_isn, std::uint32_t cookie,
                                  std::uint32_t minute) const;
  std::uint32_t tsval(SimTime now, std::uint32_t off) const { return clock_.ticks(now) + off; }
  std::int64_t now_sec(SimTime now) const { return (config_.epoch + now).whole_seconds(); }
  bool timestamps_on() const { return sysctls_.tcp_timestamps != 0; }
  std::uint16_t pick_port(Endpoint remote);

  void emit(Segment& seg);
  Segment established_segment(const FourTuple& t, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, bool ts,
                              std::uint32_t ts_off, std::uint32_t ts_recent, SimTime now) const;
  void send_synack(const Request& r, SimTime now, bool retransmit);
  void send_conn(Conn& c, std::uint8_t flags, SimTime now, std::string_view payload = {}, std::uint32_t len = 0);
  void send_syn(Conn& c, SimTime now);
  void send_rst_for(const Segment& in);
  void send_tw_ack(const TimeWait& tw, SimTime now);
  void report(SimTime now, const FourTuple& t, const Segment* seg, const Verdict& v);
  void apply(const Verdict& v);
  void count_sk_drops(Listener& l, const Verdict& v, bool discarded_final_ack);

  const KernelProfile& profile_;
  Sysctls sysctls_;
  HostConfig config_;
  StackEnv& env_;
  TsClockModel clock_;
  CounterSet counters_;
  TcpMetrics metrics_;
  Rng rng_;
  std::uint16_t ip_id_ = 0;

  std::unordered_map<std::uint16_t, ListenerId> listener_by_port_;
  std::vector<Listener> listeners_;
  TupleTable<SockRef> ehash_;  // §2 step 3: established + request + TIME_WAIT lookup
  Slots<Conn> conns_;
  Slots<Request> requests_;
  Slots<TimeWait> tws_;
};

}  // namespace synscope::model
