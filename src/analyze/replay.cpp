#include "analyze/replay.h"

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <map>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "core/seq.h"
#include "model/host_stack.h"
#include "model/ts_clock.h"

namespace synscope::analyze {

using namespace tcp_flag;
using capture::IpAddress;
using capture::PacketEndpoint;
using capture::PacketRecord;

std::string_view to_string(AcceptMode m) {
  switch (m) {
    case AcceptMode::Immediate: return "immediate";
    case AcceptMode::FirstAction: return "first-action";
    case AcceptMode::Never: return "never";
  }
  return "?";
}

std::optional<AcceptMode> parse_accept_mode(std::string_view text) {
  for (auto m : {AcceptMode::Immediate, AcceptMode::FirstAction, AcceptMode::Never})
    if (text == to_string(m)) return m;
  return std::nullopt;
}

std::string_view to_string(SynAnswer a) {
  switch (a) {
    case SynAnswer::SynAck: return "SYN-ACK";
    case SynAnswer::CookieSynAck: return "cookie SYN-ACK";
    case SynAnswer::Rst: return "RST";
    case SynAnswer::Ack: return "ACK";
    case SynAnswer::None: return "nothing";
  }
  return "?";
}

std::string_view json_name(SynAnswer a) {
  switch (a) {
    case SynAnswer::SynAck: return "syn-ack";
    case SynAnswer::CookieSynAck: return "cookie-syn-ack";
    case SynAnswer::Rst: return "rst";
    case SynAnswer::Ack: return "ack";
    case SynAnswer::None: return "none";
  }
  return "?";
}

bool ReplaySyn::differs() const {
  // A cookie SYN-ACK and a SYN-ACK look alike on the wire: both count as "answered".
  auto kind = [](SynAnswer a) { return is_answered(a) ? SynAnswer::SynAck : a; };
  return kind(capture) != kind(model);
}

ReplaySummary ReplayResult::summary() const {
  ReplaySummary s;
  s.syns = syns.size();
  std::map<std::string, std::size_t> count;
  std::vector<std::string> order;
  for (const auto& syn : syns) {
    if (syn.capture == SynAnswer::None) ++s.unanswered;
    if (syn.model_dropped()) {
      ++s.model_dropped;
      std::string id = syn.verdict          ? std::string(model::rule_info(syn.verdict->rule).id)
                       : syn.resets_request ? "syn_resets_request"
                                            : "no_decision";
      if (count[id]++ == 0) order.push_back(id);
    }
    if (syn.capture == SynAnswer::None && is_answered(syn.model)) ++s.saved;
    if (is_answered(syn.capture) && syn.model_dropped()) ++s.lost;
    if (syn.differs()) ++s.differ;
  }
  for (const auto& id : order) s.dropped_by_rule.emplace_back(id, count[id]);
  return s;
}

namespace {

struct TupleHash {
  std::size_t operator()(const FourTuple& t) const {
    return mix64(endpoint_key(t.local) * 0x9e3779b97f4a7c15ULL ^ endpoint_key(t.remote));
  }
};

Endpoint v4(const PacketEndpoint& e) { return Endpoint{*e.addr.v4(), e.port}; }

std::string endpoint_text(const PacketEndpoint& e) {
  return e.addr.v6 ? fmt::format("[{}]:{}", e.addr.str(), e.port) : fmt::format("{}:{}", e.addr.str(), e.port);
}

struct ServerSpec {
  IpAddress addr;
  std::optional<std::uint16_t> port;
};

std::uint16_t parse_port(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535)
    throw UsageError(fmt::format("--server '{}': the port must be a number from 1 to 65535", whole));
  return static_cast<std::uint16_t>(value);
}

// "ADDR", "ADDR:PORT", "[IPV6]:PORT" or a bare IPv6 address.
ServerSpec parse_server(std::string_view text) {
  std::string_view addr = text;
  std::optional<std::uint16_t> port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      throw UsageError(fmt::format("--server '{}': missing ']' after the IPv6 address", text));
    addr = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw UsageError(fmt::format("--server '{}': expected ':PORT' after ']'", text));
      port = parse_port(rest.substr(1), text);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    addr = text.substr(0, colon);
    port = parse_port(text.substr(colon + 1), text);
  }
  auto ip = IpAddress::parse(addr);
  if (!ip)
    throw UsageError(fmt::format("--server '{}': expected ADDR or ADDR:PORT (e.g. 10.85.3.111:19090)", text));
  if (ip->v6)
    throw UsageError(fmt::format(
        "--server {}: {} is an IPv6 address, and replay models IPv4 only (the kernel model's segments are IPv4)", text,
        ip->str()));
  return ServerSpec{*ip, port};
}

std::string short_sysctl(std::string_view assignment) {
  for (std::string_view prefix : {"net.ipv4.", "net.core."})
    if (assignment.substr(0, prefix.size()) == prefix) return std::string(assignment.substr(prefix.size()));
  return std::string(assignment);
}

// Exact copies of one segment (a capture on several interfaces, "-i any" on a bridge) within 10 ms.
class DuplicateFilter {
 public:
  explicit DuplicateFilter(const std::vector<PacketRecord>& recs) : recs_(recs) {}
  bool duplicate(std::size_t i) {
    const PacketRecord& p = recs_[i];
    std::uint64_t h = mix64(std::hash<std::string>{}(std::string(reinterpret_cast<const char*>(p.src.addr.bytes.data()), 16) +
                                                     std::string(reinterpret_cast<const char*>(p.dst.addr.bytes.data()), 16)));
    h = mix64(h ^ (std::uint64_t{p.src.port} << 48) ^ (std::uint64_t{p.dst.port} << 32) ^ p.seq);
    h = mix64(h ^ (std::uint64_t{p.ack} << 32) ^ (std::uint64_t{p.flags} << 24) ^ p.payload_len);
    if (auto ts = p.options.ts()) h = mix64(h ^ (std::uint64_t{ts->val} << 32) ^ ts->ecr);
    auto [it, inserted] = last_.try_emplace(h, i);
    if (inserted) return false;
    const PacketRecord& q = recs_[it->second];
    bool same = q.src == p.src && q.dst == p.dst && q.seq == p.seq && q.ack == p.ack && q.flags == p.flags &&
                q.payload_len == p.payload_len && q.options == p.options && p.ts.unix_ns - q.ts.unix_ns < 10'000'000;
    it->second = i;
    return same;
  }

 private:
  const std::vector<PacketRecord>& recs_;
  std::unordered_map<std::uint64_t, std::size_t> last_;
};

// Which way a segment goes relative to the server: to it, from it, or neither. On loopback (the same
// address on both sides) the server's port tells, when it is known.
enum class Dir : std::uint8_t { None, In, Out };
struct ServerSide {
  IpAddress addr;
  std::optional<std::uint16_t> port;
  Dir of(const PacketRecord& p) const {
    bool to = p.dst.addr == addr, from = p.src.addr == addr;
    if (to && from) {
      if (!port) return Dir::None;
      if (p.dst.port == *port) return Dir::In;
      if (p.src.port == *port) return Dir::Out;
      return Dir::None;
    }
    return to ? Dir::In : from ? Dir::Out : Dir::None;
  }
};

enum class FlowKind : std::uint8_t { Passive, Active, Adopted };

// One connection (one incarnation of a 4-tuple) as the replay follows it, seen from the server.
struct Flow {
  FlowKind kind = FlowKind::Passive;
  std::uint32_t syn_seq = 0;                     // the SYN's sequence number (client's, or the server's own)
  int syns = 0;                                  // transmissions of that SYN so far
  std::optional<std::uint32_t> cap_isn;          // the capture's server ISN
  std::optional<std::uint32_t> model_isn;        // the model's server ISN
  std::optional<model::ConnId> conn;             // the model's socket, once accepted/connected/adopted
  bool queued = false;                           // the model queued it for accept()
  bool closed = false;                           // close() called
  std::optional<std::uint32_t> cap_snd_max;      // capture: server's highest seq + len so far
  std::optional<std::uint32_t> model_tsval;      // the last TSval the model sent on it
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ts_map;  // capture TSval → model TSval (recent)
};

struct TimerEntry {
  SimTime at;
  std::uint64_t order;
  model::TimerRef ref;
  bool operator>(const TimerEntry& o) const { return at != o.at ? at > o.at : order > o.order; }
};

class Replayer final : public model::StackEnv {
 public:
  Replayer(ReplayResult& r, const ReplayOptions& o, WallTime epoch, ServerSide side)
      : r_(r), opt_(o), epoch_(epoch), side_(std::move(side)) {}

  void start(const model::HostConfig& cfg) {
    stack_ = std::make_unique<model::HostStack>(*r_.profile, r_.sysctls, cfg, *this);
    for (auto port : r_.listening)
      if (!r_.listen_late.count(port)) listeners_[port] = stack_->listen(port, r_.backlog_requested, 0, SimTime{});
  }

  void run(const std::vector<PacketRecord>& recs, const std::vector<SynAnswer>& answers,
           const std::vector<std::optional<Duration>>& delays, const std::vector<bool>& skip) {
    for (std::size_t i = 0; i < recs.size(); ++i) {
      if (skip[i]) continue;
      const PacketRecord& p = recs[i];
      SimTime now{p.ts.unix_ns - epoch_.unix_ns};
      run_timers(now);
      // A listener the capture shows opening late (RSTs first, then SYN-ACKs) starts at its first SYN-ACK'd SYN.
      for (const auto& [port, at] : r_.listen_late)
        if (!listeners_.count(port) && at.unix_ns <= p.ts.unix_ns)
          listeners_[port] = stack_->listen(port, r_.backlog_requested, 0, SimTime{at.unix_ns - epoch_.unix_ns});
      switch (side_.of(p)) {
        case Dir::In:
          ++r_.inbound;
          inbound(p, now, answers[i], delays[i]);
          break;
        case Dir::Out:
          ++r_.outbound;
          outbound(p, now);
          break;
        case Dir::None:
          if (p.src.addr == p.dst.addr) ++self_segments_;
          break;
      }
    }
    r_.counters = stack_->counters();
    if (self_segments_)
      r_.notes.push_back(fmt::format(
          "{} segment(s) of the server talking to itself were not replayed (on loopback, give --server ADDR:PORT).",
          self_segments_));
    if (server_resets_)
      r_.notes.push_back(fmt::format(
          "The server aborted {} connection(s) with RST; the model has no abort and kept them open.", server_resets_));
  }

  // StackEnv.
  void transmit(const Segment& seg) override {
    FourTuple t{seg.src, seg.dst};
    if (auto* f = find(t)) {
      if (seg.flags & SYN) f->model_isn = seg.seq;  // its SYN (connect) or SYN-ACK (also a cookie)
      if (auto ts = seg.options.ts()) f->model_tsval = ts->val;
    }
    if (in_call_ && t == call_tuple_) call_flags_.push_back(seg.flags);
  }
  std::uint64_t arm_timer(SimTime at, model::TimerRef ref) override {
    timers_.push(TimerEntry{at, timer_order_++, ref});
    return 0;  // not cancelled: a superseded timer is recognised by its generation when it fires
  }
  void on_decision(const model::Decision& d) override {
    if (in_call_ && call_is_syn_ && d.tuple == call_tuple_) {
      call_verdict_ = d.verdict;
      return;
    }
    if (d.verdict.rule == model::Rule::Established || d.verdict.rule == model::Rule::ClientEstablished) return;
    r_.other_decisions.push_back(ReplayDecision{epoch_ + d.at, d.tuple, d.seq, d.verdict});
  }
  void on_ts_remembered(SimTime at, const FourTuple& closed, const model::TsMemory& entry) override {
    r_.ts_memory.push_back(ReplayTsMemory{epoch_ + at, closed, entry});
  }
  void on_acceptable(model::ListenerId lid, std::uint64_t) override {
    if (opt_.accept == AcceptMode::Immediate) {
      while (auto c = stack_->accept(lid)) bind(*c);
    } else if (in_call_) {
      if (auto* f = find(call_tuple_)) f->queued = true;
    }
  }

 private:
  Flow* find(const FourTuple& t) {
    auto it = flows_.find(t);
    return it == flows_.end() ? nullptr : &it->second;
  }
  Flow& fresh(const FourTuple& t, FlowKind kind) {
    Flow& f = flows_[t];
    f = Flow{};
    f.kind = kind;
    return f;
  }
  void bind(model::ConnId c) {
    if (auto t = stack_->tuple_of(c))
      if (auto* f = find(*t)) f->conn = c;
  }

  void run_timers(SimTime until) {
    while (!timers_.empty() && timers_.top().at <= until) {
      TimerEntry e = timers_.top();
      timers_.pop();
      stack_->on_timer(e.ref, e.at);
    }
  }

  // Rewrites the capture's server-side numbers (ack, TSecr) into the model's.
  Segment to_model(const PacketRecord& p, const Flow* f) const {
    Segment s;
    s.src = v4(p.src);
    s.dst = v4(p.dst);
    s.seq = p.seq;
    s.ack = p.ack;
    s.flags = p.flags;
    s.window = p.window;
    s.payload_len = p.payload_len;
    s.ttl = p.ttl ? p.ttl : 64;
    if (f && (p.flags & ACK) && f->cap_isn && f->model_isn) s.ack = p.ack - *f->cap_isn + *f->model_isn;
    for (const auto& o : p.options) {
      TcpOption copy = o;
      if (o.kind == TcpOptionKind::Timestamp && o.b != 0 && f) copy.b = model_ecr(*f, o.b);
      s.options.push(copy);
    }
    return s;
  }
  // The TSecr echoes a TSval the capture's server sent; answer with the model's TSval of that moment.
  static std::uint32_t model_ecr(const Flow& f, std::uint32_t ecr) {
    for (auto it = f.ts_map.rbegin(); it != f.ts_map.rend(); ++it)
      if (it->first == ecr) return it->second;
    return f.model_tsval.value_or(ecr);
  }
  static void note_tsval(Flow& f, const PacketRecord& p) {
    auto ts = p.options.ts();
    if (!ts || !f.model_tsval) return;
    if (!f.ts_map.empty() && f.ts_map.back().first == ts->val) {
      f.ts_map.back().second = *f.model_tsval;
      return;
    }
    if (f.ts_map.size() == 8) f.ts_map.erase(f.ts_map.begin());
    f.ts_map.emplace_back(ts->val, *f.model_tsval);
  }

  Flow* adopt(const FourTuple& t, std::uint32_t local_next, std::uint32_t peer_next,
              std::optional<std::uint32_t> peer_ts, SimTime now) {
    Flow& f = fresh(t, FlowKind::Adopted);
    auto c = stack_->adopt_established(t, local_next, peer_next, peer_ts, now, 0);
    if (c.valid()) f.conn = c;
    f.cap_snd_max = local_next;
    ++r_.adopted;
    return &f;
  }

  void accept_until(Flow& f, const FourTuple& t) {
    if (f.conn || f.kind != FlowKind::Passive || !f.queued || opt_.accept != AcceptMode::FirstAction) return;
    auto lit = listeners_.find(t.local.port);
    if (lit == listeners_.end()) return;
    // accept() is FIFO: the application took every connection queued before this one first.
    while (!f.conn) {
      auto c = stack_->accept(lit->second);
      if (!c) break;
      bind(*c);
    }
  }

  void inbound(const PacketRecord& p, SimTime now, SynAnswer capture_answer, std::optional<Duration> delay) {
    FourTuple t{v4(p.dst), v4(p.src)};
    Flow* f = find(t);
    const bool syn = p.is_syn();
    bool earlier_request = false;
    if (syn) {
      if (!f || f->kind != FlowKind::Passive || f->syn_seq != p.seq) {
        earlier_request = f && f->kind == FlowKind::Passive && f->model_isn && !f->conn;
        f = &fresh(t, FlowKind::Passive);  // a new connection (or a new incarnation of the 4-tuple)
        f->syn_seq = p.seq;
      }
      ++f->syns;
    } else if (!f) {
      if ((p.flags & (SYN | RST)) || !(p.flags & ACK)) {
        ++r_.unmatched;
        return;
      }
      auto ts = p.options.ts();
      f = adopt(t, p.ack, p.seq, ts ? std::optional<std::uint32_t>(ts->val) : std::nullopt, now);
    }
    // No SYN-ACK in the capture: the client's first ACK tells the server's ISN.
    if (f->kind == FlowKind::Passive && !f->cap_isn && (p.flags & ACK) && !(p.flags & (SYN | RST)))
      f->cap_isn = p.ack - 1;

    Segment s = to_model(p, f);
    in_call_ = true;
    call_tuple_ = t;
    call_is_syn_ = syn;
    call_flags_.clear();
    call_verdict_.reset();
    stack_->receive(s, now);
    in_call_ = false;

    if (!syn || (r_.port && p.dst.port != *r_.port)) return;
    ReplaySyn rs;
    rs.frame = p.frame;
    rs.at = p.ts;
    rs.client = t.remote;
    rs.server = t.local;
    rs.isn = p.seq;
    if (auto ts = p.options.ts()) rs.tsval = ts->val;
    rs.transmission = f->syns;
    rs.capture = capture_answer;
    rs.capture_delay = delay;
    rs.verdict = call_verdict_;
    rs.model = SynAnswer::None;
    for (auto fl : call_flags_) {
      if ((fl & (SYN | ACK)) == (SYN | ACK)) {
        rs.model = call_verdict_ && call_verdict_->action == model::Action::CookieSynAck ? SynAnswer::CookieSynAck
                                                                                          : SynAnswer::SynAck;
        break;
      }
      if (fl & RST) rs.model = SynAnswer::Rst;
      else if (rs.model == SynAnswer::None && (fl & ACK)) rs.model = SynAnswer::Ack;
    }
    // The one SYN path without a listen-path decision: a new ISN meeting the request of an earlier one
    // on the same 4-tuple, which it resets (§5.1 step 5).
    rs.resets_request = !rs.verdict && rs.model == SynAnswer::None && earlier_request;
    r_.syns.push_back(rs);
  }

  void outbound(const PacketRecord& p, SimTime now) {
    FourTuple t{v4(p.src), v4(p.dst)};
    Flow* f = find(t);
    if (p.is_syn()) {
      // The server opens a connection itself (§7.1: it may then be the one that closes first).
      if (f && f->kind == FlowKind::Active && f->syn_seq == p.seq) return;  // a retransmission: the model has its own
      f = &fresh(t, FlowKind::Active);
      f->syn_seq = p.seq;
      f->cap_isn = p.seq;
      f->cap_snd_max = p.seq + 1;
      f->conn = stack_->connect(t.remote, now, 0, t.local.port);
      note_tsval(*f, p);
      return;
    }
    if (!f) {
      if ((p.flags & (SYN | RST)) || !(p.flags & ACK)) {
        ++r_.unmatched;
        return;
      }
      auto ts = p.options.ts();
      f = adopt(t, p.seq, p.ack, ts ? std::optional<std::uint32_t>(ts->ecr) : std::nullopt, now);
    }
    if (p.is_synack()) {
      if (f->kind == FlowKind::Passive) f->cap_isn = p.seq;
      f->cap_snd_max = p.seq + 1;
      note_tsval(*f, p);
      return;
    }
    if (p.flags & RST) {
      if (f->conn && !f->closed && stack_->state_of(*f->conn)) ++server_resets_;
      return;
    }
    // New bytes (including any the capture missed before them) are a write by the application.
    if (!f->cap_snd_max) f->cap_snd_max = f->cap_isn ? *f->cap_isn + 1 : p.seq;
    std::uint32_t end = p.seq + p.payload_len;
    std::uint32_t fresh_bytes = seq_after(end, *f->cap_snd_max) ? end - *f->cap_snd_max : 0;
    const bool fin = (p.flags & FIN) && !f->closed;
    if (fresh_bytes || fin) accept_until(*f, t);
    if (fresh_bytes) {
      *f->cap_snd_max = end;
      if (f->conn) {
        if (zeros_.size() < fresh_bytes) zeros_.resize(fresh_bytes, '\0');
        stack_->send(*f->conn, std::string_view(zeros_.data(), fresh_bytes), now);
      }
    }
    if (fin) {
      f->closed = true;
      if (f->conn) stack_->close(*f->conn, now);
    }
    note_tsval(*f, p);
  }

  ReplayResult& r_;
  const ReplayOptions& opt_;
  WallTime epoch_;
  std::unique_ptr<model::HostStack> stack_;
  std::map<std::uint16_t, model::ListenerId> listeners_;
  std::unordered_map<FourTuple, Flow, TupleHash> flows_;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  std::uint64_t timer_order_ = 0;
  ServerSide side_;
  std::string zeros_;
  std::uint64_t self_segments_ = 0, server_resets_ = 0;

  bool in_call_ = false, call_is_syn_ = false;
  FourTuple call_tuple_{};
  std::vector<std::uint8_t> call_flags_;
  std::optional<model::Verdict> call_verdict_;
};

// The time of the first SYN-ACK the capture's server retransmitted on its own (same ISN as an earlier
// SYN-ACK, nothing from the client on that 4-tuple in the 5 ms before): a SYN-ACK timer expiry (§5.3).
std::optional<std::int64_t> timer_driven_synack(const std::vector<PacketRecord>& recs, const std::vector<bool>& skip,
                                               const ServerSide& side) {
  std::unordered_map<FourTuple, std::pair<std::uint32_t, std::int64_t>, TupleHash> last_synack;  // seq, time
  std::unordered_map<FourTuple, std::int64_t, TupleHash> last_in;
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const auto& p = recs[i];
    Dir d = side.of(p);
    if (skip[i] || d == Dir::None) continue;
    if (d == Dir::In) {
      last_in[FourTuple{v4(p.dst), v4(p.src)}] = p.ts.unix_ns;
      continue;
    }
    if (!p.is_synack()) continue;
    FourTuple t{v4(p.src), v4(p.dst)};
    auto it = last_synack.find(t);
    if (it != last_synack.end() && it->second.first == p.seq) {
      auto in = last_in.find(t);
      if (in == last_in.end() || p.ts.unix_ns - in->second > 5'000'000) return p.ts.unix_ns;
    }
    last_synack[t] = {p.seq, p.ts.unix_ns};
  }
  return std::nullopt;
}

ReplayResult replay_impl(std::vector<PacketRecord> records, std::uint64_t tcp_segments,
                         std::map<PacketEndpoint, std::size_t> syns_elsewhere, const ReplayOptions& o,
                         std::string input_name, std::string format);

}  // namespace

ReplayResult replay_records(std::vector<PacketRecord> records, const ReplayOptions& o, std::string input_name,
                            std::string format) {
  auto n = records.size();
  return replay_impl(std::move(records), n, {}, o, std::move(input_name), std::move(format));
}

namespace {

// `records` may have been thinned to the server's address while reading (when --server was given);
// `syns_elsewhere` counts the SYNs that were left out, for error messages.
ReplayResult replay_impl(std::vector<PacketRecord> records, std::uint64_t tcp_segments,
                         std::map<PacketEndpoint, std::size_t> syns_elsewhere, const ReplayOptions& o,
                         std::string input_name, std::string format) {
  ReplayResult r;
  r.input = std::move(input_name);
  r.format = std::move(format);
  r.tcp_segments = tcp_segments;

  // The kernel and its sysctls first: a sysctl the kernel lacks is the answer, whatever the input.
  r.profile = o.kernel.empty() ? &model::newest_profile() : &model::find_profile(o.kernel);
  r.sysctls = model::Sysctls::defaults_for(*r.profile);
  for (const auto& a : o.sysctls) {
    r.sysctls.set_assignment(*r.profile, a);
    r.sysctl_changes.push_back(short_sysctl(a));
  }
  if (o.backlog && *o.backlog < 0) throw UsageError(fmt::format("--backlog {}: must be 0 or more", *o.backlog));
  std::optional<ServerSpec> given;
  if (!o.server.empty()) given = parse_server(o.server);

  if (tcp_segments == 0) throw UsageError(fmt::format("{}: no TCP segment in it, nothing to replay", r.input));

  // Which server: the one given, else the endpoint that received the most SYNs.
  std::map<PacketEndpoint, std::size_t> syns_to = std::move(syns_elsewhere);
  for (const auto& p : records)
    if (p.is_syn()) ++syns_to[p.dst];
  auto destinations = [&](std::size_t max) {
    std::vector<std::pair<PacketEndpoint, std::size_t>> v(syns_to.begin(), syns_to.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < max; ++i)
      out += fmt::format("{}{} ({} SYN{})", i ? ", " : "", endpoint_text(v[i].first), v[i].second, v[i].second == 1 ? "" : "s");
    if (v.size() > max) out += fmt::format(" and {} more", v.size() - max);
    return out;
  };
  IpAddress server_ip;
  if (given) {
    server_ip = given->addr;
    bool present = false;
    std::size_t syns = 0;
    for (const auto& p : records) {
      if ((p.dst.addr == server_ip && (!given->port || p.dst.port == *given->port)) ||
          (p.src.addr == server_ip && (!given->port || p.src.port == *given->port)))
        present = true;
      if (p.is_syn() && p.dst.addr == server_ip && (!given->port || p.dst.port == *given->port)) ++syns;
    }
    if (!present)
      throw UsageError(fmt::format("server {} is not in {}: no TCP segment to or from it{}", o.server, r.input,
                                   syns_to.empty() ? "" : " (SYNs went to " + destinations(3) + ")"));
    if (syns == 0)
      throw UsageError(fmt::format("{} has no SYN to {}, nothing to replay{}", r.input, o.server,
                                   syns_to.empty() ? " (it has no SYN at all)" : " (SYNs went to " + destinations(3) + ")"));
    r.port = given->port;
  } else {
    if (syns_to.empty()) throw UsageError(fmt::format("{} has no SYN, nothing to replay", r.input));
    std::size_t best = 0;
    for (const auto& [ep, n] : syns_to) best = std::max(best, n);
    std::vector<PacketEndpoint> top;
    for (const auto& [ep, n] : syns_to)
      if (n == best) top.push_back(ep);
    // A tie between ports of one address (a port scan, say) picks the address with all its ports.
    bool one_address = std::all_of(top.begin(), top.end(), [&](const PacketEndpoint& e) { return e.addr == top[0].addr; });
    if (!one_address)
      throw UsageError(fmt::format("{}: {} and {} received {} SYN{} each; choose the server with --server ADDR[:PORT]",
                                   r.input, endpoint_text(top[0]), endpoint_text(top[1]), best, best == 1 ? "" : "s"));
    if (top[0].addr.v6)
      throw UsageError(fmt::format(
          "{}: the busiest SYN destination {} is IPv6, and replay models IPv4 only; choose an IPv4 server with --server",
          r.input, top.size() > 1 ? top[0].addr.str() : endpoint_text(top[0])));
    server_ip = top[0].addr;
    std::size_t total = 0, to_addr = 0;
    for (const auto& [ep, n] : syns_to) {
      total += n;
      if (ep.addr == server_ip) to_addr += n;
    }
    if (top.size() == 1) {
      r.port = top[0].port;
      r.server_choice = fmt::format("{}, which received the most SYNs ({} of {})", endpoint_text(top[0]), best, total);
    } else {
      r.server_choice = fmt::format("every port of {}, whose ports {} and {} tie with {} SYN{} each ({} of {} SYNs went to it)",
                                    server_ip.str(), top[0].port, top[1].port, best, best == 1 ? "" : "s", to_addr, total);
    }
  }
  r.server = *server_ip.v4();
  const ServerSide side{server_ip, r.port};

  // The server's segments in time order (a capture may hold a few out of order), copies skipped.
  std::erase_if(records, [&](const PacketRecord& p) { return p.src.addr != server_ip && p.dst.addr != server_ip; });
  std::vector<PacketRecord> recs = std::move(records);
  if (recs.empty()) throw UsageError(fmt::format("server {} is not in {}", o.server, r.input));
  std::stable_sort(recs.begin(), recs.end(), [](const PacketRecord& a, const PacketRecord& b) { return a.ts.unix_ns < b.ts.unix_ns; });
  std::vector<bool> skip(recs.size(), false);
  DuplicateFilter dups(recs);
  for (std::size_t i = 0; i < recs.size(); ++i)
    if (dups.duplicate(i)) {
      skip[i] = true;
      ++r.duplicates;
    }

  // What the capture shows for each SYN: the server's next segment on that 4-tuple before the
  // client's next SYN there (SYN-ACK, RST or ACK), or nothing.
  std::vector<SynAnswer> answers(recs.size(), SynAnswer::None);
  std::vector<std::optional<Duration>> delays(recs.size());
  struct PortEvidence {
    bool syn = false, synack = false;
    std::optional<std::size_t> first_rst_syn, first_synack_syn;  // SYNs (indices) answered that way
  };
  std::map<std::uint16_t, PortEvidence> ports;
  {
    std::unordered_map<FourTuple, std::size_t, TupleHash> pending;
    for (std::size_t i = 0; i < recs.size(); ++i) {
      if (skip[i]) continue;
      const auto& p = recs[i];
      Dir d = side.of(p);
      if (d == Dir::In && p.is_syn()) {
        pending[FourTuple{v4(p.dst), v4(p.src)}] = i;
        ports[p.dst.port].syn = true;
        continue;
      }
      if (d != Dir::Out) continue;
      auto& pe = ports[p.src.port];
      if (p.is_synack()) pe.synack = true;
      auto it = pending.find(FourTuple{v4(p.src), v4(p.dst)});
      if (it == pending.end()) continue;
      SynAnswer a = p.is_synack() ? SynAnswer::SynAck : (p.flags & RST) ? SynAnswer::Rst : SynAnswer::Ack;
      answers[it->second] = a;
      delays[it->second] = Duration{p.ts.unix_ns - recs[it->second].ts.unix_ns};
      if (a == SynAnswer::Rst && !pe.first_rst_syn) pe.first_rst_syn = it->second;
      if (a == SynAnswer::SynAck && !pe.first_synack_syn) pe.first_synack_syn = it->second;
      pending.erase(it);
    }
  }

  // Listening ports: a SYN-ACK came from it, or SYNs reached it and none was answered with RST. A port
  // that answered SYNs with RST before its first SYN-ACK starts listening at that SYN (§2 step 3).
  for (const auto& [port, pe] : ports) {
    if (!pe.synack && !(pe.syn && !pe.first_rst_syn)) continue;
    r.listening.push_back(port);
    if (pe.first_rst_syn && pe.first_synack_syn && *pe.first_rst_syn < *pe.first_synack_syn) {
      r.listen_late[port] = recs[*pe.first_synack_syn].ts;
      r.notes.push_back(fmt::format(
          "The capture answers SYNs to port {} with RST until {}, then with a SYN-ACK: the model listens there from "
          "that SYN on (§2 step 3).",
          port, format_clock_time(recs[*pe.first_synack_syn].ts)));
    }
  }
  if (r.port && !std::binary_search(r.listening.begin(), r.listening.end(), *r.port))
    r.notes.push_back(fmt::format(
        "The capture shows {}:{} answering SYNs with RST and never with a SYN-ACK (no listener there), so the model "
        "does not listen there either (§2 step 3).",
        r.server.str(), *r.port));

  r.backlog_requested = o.backlog.value_or(r.sysctls.somaxconn);
  r.backlog = model::effective_backlog(r.backlog_requested, r.sysctls);
  r.accept = o.accept;

  // The model host: the server's address, MSS and window scale as the capture shows them; its TS
  // clock set so that its TSvals read like the capture's (cosmetic: TSecr values are translated).
  // SimTime 0 (listen()) is the first segment, moved back so that 3.10/EL7's 200 ms SYN-ACK timer
  // grid (§5.3) lines up with the server's own timer-driven SYN-ACK retransmissions, if any.
  WallTime epoch = recs.front().ts;
  if (auto t = timer_driven_synack(recs, skip, side)) {
    constexpr std::int64_t grid = 200'000'000;
    std::int64_t k = ((*t - epoch.unix_ns) % grid + grid) % grid;
    epoch.unix_ns -= (grid - k) % grid;
  }
  model::HostConfig cfg;
  cfg.name = "server";
  cfg.addr = r.server;
  cfg.secret = 0x7265706c6179ULL;
  cfg.epoch = epoch;
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const auto& p = recs[i];
    if (side.of(p) != Dir::Out || !(p.flags & SYN)) continue;
    if (auto mss = p.options.mss_value()) cfg.mss = *mss;
    if (auto ws = p.options.wscale_value()) cfg.wscale = *ws;
    if (p.flags & ACK) cfg.synack_window = p.window; else cfg.syn_window = p.window;
    break;
  }
  for (const auto& p : recs)
    if (side.of(p) == Dir::Out)
      if (auto ts = p.options.ts()) {
        model::TsClockModel zero(*r.profile, 0, 0, 0);
        cfg.ts_clock_start = ts->val - zero.ticks(SimTime{p.ts.unix_ns - epoch.unix_ns});
        break;
      }

  Replayer rp(r, o, epoch, side);
  rp.start(cfg);
  rp.run(recs, answers, delays, skip);

  if (r.duplicates)
    r.notes.push_back(fmt::format("{} duplicate segment(s) (identical copies within 10 ms) were skipped.", r.duplicates));
  if (r.adopted)
    r.notes.push_back(fmt::format(
        "{} connection(s) were already open when the capture began; the model took them over as ESTABLISHED at their "
        "first segment.",
        r.adopted));
  if (r.unmatched)
    r.notes.push_back(fmt::format(
        "{} segment(s) belonged to no connection the replay could follow (e.g. a SYN-ACK or RST without its SYN) and "
        "were skipped.",
        r.unmatched));
  return r;
}

}  // namespace

ReplayResult replay(const std::string& path, const ReplayOptions& options) {
  // Options are checked before the input is read (a bad --kernel/--sysctl is the answer by itself).
  {
    const auto& p = options.kernel.empty() ? model::newest_profile() : model::find_profile(options.kernel);
    auto s = model::Sysctls::defaults_for(p);
    for (const auto& a : options.sysctls) s.set_assignment(p, a);
    if (!options.server.empty()) parse_server(options.server);
    if (options.backlog && *options.backlog < 0)
      throw UsageError(fmt::format("--backlog {}: must be 0 or more", *options.backlog));
  }
  auto source = PacketSource::open(path, options.source);
  // With --server, only the server address's segments are kept (memory); the others' SYNs are counted.
  std::optional<IpAddress> keep;
  if (!options.server.empty()) keep = parse_server(options.server).addr;
  std::vector<PacketRecord> records;
  std::map<PacketEndpoint, std::size_t> syns_elsewhere;
  std::uint64_t tcp = 0;
  capture::CaptureItem item;
  while (source.next(item)) {
    if (item.kind != capture::CaptureItem::Kind::Tcp) continue;
    ++tcp;
    if (!keep || item.tcp.src.addr == *keep || item.tcp.dst.addr == *keep)
      records.push_back(item.tcp);
    else if (item.tcp.is_syn())
      ++syns_elsewhere[item.tcp.dst];
  }
  std::string stop = source.stop_reason();
  auto r = replay_impl(std::move(records), tcp, std::move(syns_elsewhere), options,
                       path == "-" ? "standard input" : path, source.format());
  if (!stop.empty()) {
    r.stop_reason = stop;
    r.notes.push_back("The input ended early: " + stop);
  }
  return r;
}

}  // namespace synscope::analyze
