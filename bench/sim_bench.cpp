// Simulator throughput and memory benchmark (see bench/README.md).
//
//   sim_nat/...      simulated segments per second for an N-client NAT scenario built in code:
//                    100 client hosts behind a DNAT+SNAT box (10.85.3.51:29090 -> 10.85.3.111:19090,
//                    as in scenarios/seed-nat-recycle-server-close.toml), every connection
//                    SYN, SYN-ACK, ACK, FIN, ACK, FIN, ACK through the NAT.
//   peer_...         same-run peers that give the simulator figures a denominator: the bare cost of
//                    a discrete-event loop (heap pop+push per segment) and of copying a Segment
//                    through a hash lookup. Shared machines make absolute times noise; the ratios
//                    printed at the end ("ratio ...") are the figures to quote.
//   mem_nat_bounded/ peak RSS (measured in a forked child) and peak live sockets for 10k vs 100k
//                    total connections at a rate where live connections stay bounded.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/segment.h"
#include "core/time.h"
#include "sim/event_queue.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace {

using namespace synscope;
using synscope::sim::Scenario;

// ---------------------------------------------------------------------------------------------
// The scenario

struct NatCase {
  std::string kernel = "el7";    // server kernel (clients and the NAT box stay el7)
  int clients = 100000;          // total connections (one per client socket)
  int client_hosts = 100;        // hosts behind the NAT sharing them
  double rate = 250;             // connections per second, all client hosts together
  bool server_closes = true;     // seed experiment 3's order; false: the client closes first
  Duration hold = millis(50);    // time from accept / establishment to close()
};

// 250 conn/s keeps the NAT's conntrack TIME_WAIT population (120 s) at ~30k of the 64k reply ports
// one SNAT address has towards one server endpoint, so no SYN is dropped for lack of a port.

Ipv4Addr ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return Ipv4Addr{(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d};
}

Scenario make_nat_scenario(const NatCase& c) {
  Scenario sc;
  sc.name = "bench-nat-" + std::to_string(c.clients);
  sc.description = "sim_bench: many clients behind one DNAT+SNAT box";
  sc.source = "bench:nat";
  sc.seed = 7;
  parse_date_time("2019-06-03 22:45:10.015335", sc.start);
  sc.default_kernel = "el7";
  sc.default_latency = micros(360);

  sim::HostSpec server;
  server.name = "server";
  server.addr = ip(10, 85, 3, 111);
  server.kernel = c.kernel;
  server.sysctls["somaxconn"] = 4096;
  server.mss = 1260;
  server.syn_window = 25200;
  server.synack_window = 24960;
  server.window = 197;
  sc.hosts.push_back(server);

  sim::HostSpec nat;
  nat.name = "nat";
  nat.addr = ip(10, 85, 3, 51);
  nat.mss = 1260;
  sc.hosts.push_back(nat);

  const Endpoint service{ip(10, 85, 3, 51), 29090};
  const int per_host = c.clients / c.client_hosts;
  for (int i = 0; i < c.client_hosts; ++i) {
    sim::HostSpec h;
    h.name = "client" + std::to_string(i);
    h.addr = ip(10, 86, static_cast<std::uint8_t>(i / 200), static_cast<std::uint8_t>(i % 200 + 1));
    h.mss = 1260;
    h.syn_window = 25200;
    h.window = 197;
    sc.hosts.push_back(h);

    sim::ClientAppSpec app;
    app.name = "client";
    app.host = h.name;
    app.connect_to = service;
    app.count = per_host + (i < c.clients % c.client_hosts ? 1 : 0);
    app.rate = c.rate / c.client_hosts;
    // Interleave the hosts so the aggregate arrival process is one connect every 1/rate seconds.
    app.start = Duration{static_cast<std::int64_t>(1e9 * i / c.rate)};
    if (!c.server_closes) app.close_after = c.hold;
    sc.clients.push_back(app);
  }

  sim::NatSpec ns;
  ns.host = "nat";
  ns.dnat.push_back(sim::DnatRule{ip(10, 85, 3, 51), 29090, Endpoint{ip(10, 85, 3, 111), 19090}});
  ns.snat.push_back(sim::SnatRule{ip(10, 85, 3, 111), 19090, ip(10, 85, 3, 51)});
  sc.nats.push_back(ns);

  sim::ServerAppSpec srv;
  srv.host = "server";
  srv.port = 19090;
  srv.backlog = 4096;
  srv.accept = sim::AcceptMode::Immediate;
  if (c.server_closes) srv.close_after = c.hold;
  sc.servers.push_back(srv);

  // Long enough for every connection to finish and its TIME_WAIT timer (60 s) to fire.
  sc.duration = Duration{static_cast<std::int64_t>(1e9 * c.clients / c.rate)} + seconds(75);
  return sc;
}

sim::SimOptions fast_options() {
  sim::SimOptions o;
  o.capture = false;
  o.decisions = false;
  o.track_attempts = false;
  return o;
}

double max_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// A reference run per client count, shared by the peers so they use the simulator's segment count
// and (approximately) its agenda size. Measured once, outside any timed region.
struct Reference {
  std::uint64_t segments = 0;
  std::size_t heap = 0;  // ≈ the simulator's pending events: one TIME_WAIT timer per live socket
};
const Reference& reference(int clients) {
  static std::mutex mu;
  static std::map<int, Reference> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(clients);
  if (it != cache.end()) return it->second;
  NatCase c;
  c.clients = clients;
  auto r = sim::simulate(make_nat_scenario(c), fast_options());
  return cache[clients] = Reference{r.segments_sent, std::max<std::size_t>(r.peak_live_sockets, 1)};
}

// ---------------------------------------------------------------------------------------------
// Simulator benchmarks

void bm_sim(benchmark::State& state, NatCase c, sim::SimOptions opt) {
  const Scenario sc = make_nat_scenario(c);
  std::uint64_t segments = 0, events = 0;
  std::size_t peak_live = 0, established = 0, attempts = 0, decisions = 0;
  for (auto _ : state) {
    auto r = sim::simulate(sc, opt);
    segments += r.segments_sent;
    events += r.events;
    peak_live = std::max(peak_live, r.peak_live_sockets);
    attempts = r.attempts.size();
    decisions = r.decisions.size();
    established = 0;
    for (const auto& a : r.attempts) established += a.established_at.has_value();
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(segments));
  state.counters["segments/s"] = benchmark::Counter(static_cast<double>(segments), benchmark::Counter::kIsRate);
  state.counters["seg/conn"] =
      static_cast<double>(segments) / static_cast<double>(state.iterations()) / c.clients;
  state.counters["events/seg"] = static_cast<double>(events) / static_cast<double>(std::max<std::uint64_t>(segments, 1));
  state.counters["peak_live_sockets"] = static_cast<double>(peak_live);
  state.counters["max_rss_MB"] = max_rss_mb();
  if (opt.track_attempts) {
    state.counters["attempts"] = static_cast<double>(attempts);
    state.counters["established"] = static_cast<double>(established);
  }
  if (opt.decisions) state.counters["decisions"] = static_cast<double>(decisions);
  // 7 segments end to end, each forwarded by the NAT: anything far below 14 means connections failed.
  if (static_cast<double>(segments) / static_cast<double>(state.iterations()) < 13.0 * c.clients)
    state.SkipWithError("fewer segments than 13 per connection: connections are failing");
}

// ---------------------------------------------------------------------------------------------
// Peers

struct Later {
  bool operator()(const sim::Event& x, const sim::Event& y) const {
    return x.time_ns > y.time_ns || (x.time_ns == y.time_ns && x.seq > y.seq);
  }
};

// Next delay after popping an event: mostly a 360 µs link hop, sometimes a timer up to 60 s out.
std::int64_t next_delay(std::uint64_t& x) {
  x = mix64(x + 0x9e3779b97f4a7c15ULL);
  return (x & 3) ? 360'000 : static_cast<std::int64_t>((x >> 8) % 60'000'000'000ULL);
}

// The irreducible cost of a discrete-event loop: one pop and one push of a 32-byte event per
// simulated segment, on a heap as large as the simulator's agenda.
void peer_priority_queue(benchmark::State& state, int clients) {
  const Reference& ref = reference(clients);
  std::uint64_t done = 0, sink = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<sim::Event> storage;
    storage.reserve(ref.heap + 1);
    std::priority_queue<sim::Event, std::vector<sim::Event>, Later> q(Later{}, std::move(storage));
    std::uint64_t x = 1, seq = 0;
    for (std::size_t i = 0; i < ref.heap; ++i)
      q.push(sim::Event{next_delay(x), seq++, sim::EventKind::Deliver, 0, 0, 0, static_cast<std::uint32_t>(i), 0});
    state.ResumeTiming();
    for (std::uint64_t i = 0; i < ref.segments; ++i) {
      sim::Event e = q.top();
      q.pop();
      sink += e.a;
      e.time_ns += next_delay(x);
      e.seq = seq++;
      q.push(e);
    }
    done += ref.segments;
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["segments/s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
  state.counters["heap"] = static_cast<double>(ref.heap);
}

// The same workload on the simulator's own sim::EventQueue (a check on the hand-rolled heap).
void peer_sim_event_queue(benchmark::State& state, int clients) {
  const Reference& ref = reference(clients);
  std::uint64_t done = 0, sink = 0;
  for (auto _ : state) {
    state.PauseTiming();
    sim::EventQueue q;
    q.reserve(ref.heap + 1);
    std::uint64_t x = 1;
    for (std::size_t i = 0; i < ref.heap; ++i)
      q.push(SimTime{next_delay(x)}, sim::EventKind::Deliver, 0, 0, static_cast<std::uint32_t>(i), 0);
    state.ResumeTiming();
    for (std::uint64_t i = 0; i < ref.segments; ++i) {
      sim::Event e = q.pop();
      sink += e.a;
      q.push(SimTime{e.time_ns + next_delay(x)}, e.kind, e.sub, e.target, e.a, e.b);
    }
    done += ref.segments;
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["segments/s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
  state.counters["heap"] = static_cast<double>(ref.heap);
}

// Copying each Segment into a pool slot and out again after a std::unordered_map lookup of the
// destination host: the routing step without any TCP.
void peer_segment_copy_map(benchmark::State& state, int clients) {
  const Reference& ref = reference(clients);
  NatCase c;
  std::unordered_map<std::uint32_t, int> host_by_addr;
  std::vector<Ipv4Addr> addrs;
  for (int i = 0; i < c.client_hosts + 2; ++i) {
    Ipv4Addr a = ip(10, 86, static_cast<std::uint8_t>(i / 200), static_cast<std::uint8_t>(i % 200 + 1));
    host_by_addr[a.value] = i;
    addrs.push_back(a);
  }
  Segment seg;
  seg.src = Endpoint{ip(10, 85, 3, 51), 40000};
  seg.flags = tcp_flag::SYN;
  seg.options.mss(1260);
  seg.options.sack_ok();
  seg.options.timestamp(1, 0);
  seg.options.nop();
  seg.options.wscale(7);
  std::vector<Segment> pool(1024);
  std::uint64_t done = 0, sink = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < ref.segments; ++i) {
      seg.dst = Endpoint{addrs[i % addrs.size()], 19090};
      seg.seq = static_cast<std::uint32_t>(i);
      auto it = host_by_addr.find(seg.dst.addr.value);
      std::size_t slot = i & 1023;
      pool[slot] = seg;
      benchmark::ClobberMemory();
      Segment out = pool[slot];
      sink += out.seq + static_cast<std::uint64_t>(it->second);
    }
    done += ref.segments;
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<std::int64_t>(done));
  state.counters["segments/s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------------------------------------
// Memory proportionality: run in a forked child so each measurement has its own peak RSS.

long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0) return std::strtol(line.c_str() + n, nullptr, 10);
  return -1;
}

struct MemSample {
  long baseline_kb = -1;  // VmRSS just before simulate()
  long peak_kb = -1;      // VmHWM after it, the high-water mark having been reset first
  int hwm_reset = 0;      // 1 if /proc/self/clear_refs accepted the reset
  std::uint64_t segments = 0;
  std::uint64_t peak_live = 0;
  double seconds = 0;
};

MemSample run_in_child(const Scenario& sc, const sim::SimOptions& opt) {
  MemSample out;
  int fds[2];
  if (pipe(fds) != 0) return out;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    MemSample s;
    // Return the parent's free heap pages to the kernel first, or the child's allocations would
    // land in memory that is already resident and not show up as growth.
    malloc_trim(0);
    s.baseline_kb = status_kb("VmRSS:");
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd >= 0) {
      s.hwm_reset = write(fd, "5", 1) == 1;
      close(fd);
    }
    auto t0 = std::chrono::steady_clock::now();
    {
      auto r = sim::simulate(sc, opt);
      s.segments = r.segments_sent;
      s.peak_live = r.peak_live_sockets;
      s.peak_kb = status_kb("VmHWM:");
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    [[maybe_unused]] auto w = write(fds[1], &s, sizeof s);
    _exit(0);
  }
  close(fds[1]);
  if (pid > 0) {
    [[maybe_unused]] auto r = read(fds[0], &out, sizeof out);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  close(fds[0]);
  return out;
}

void mem_nat_bounded(benchmark::State& state, int clients, bool track_attempts) {
  NatCase c;
  c.clients = clients;
  c.rate = 50;              // 10k connections take 200 s, longer than any state lives (conntrack TW 120 s)
  c.server_closes = false;  // clients close after a short hold: TIME_WAIT sits on the client hosts
  const Scenario sc = make_nat_scenario(c);
  auto opt = fast_options();
  opt.track_attempts = track_attempts;
  MemSample s;
  for (auto _ : state) s = run_in_child(sc, opt);
  if (s.peak_kb < 0) {
    state.SkipWithError("child measurement failed");
    return;
  }
  state.counters["segments/s"] = static_cast<double>(s.segments) / std::max(s.seconds, 1e-9);
  state.counters["peak_live_sockets"] = static_cast<double>(s.peak_live);
  state.counters["peak_rss_MB"] = static_cast<double>(s.peak_kb) / 1024.0;
  state.counters["rss_growth_MB"] = static_cast<double>(s.peak_kb - s.baseline_kb) / 1024.0;
  state.counters["bytes/live_socket"] =
      static_cast<double>(s.peak_kb - s.baseline_kb) * 1024.0 / static_cast<double>(std::max<std::uint64_t>(s.peak_live, 1));
  state.counters["hwm_reset"] = s.hwm_reset;
}

// ---------------------------------------------------------------------------------------------
// Ratio reporter: the console output plus "simulator ÷ peer" lines for every case.

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      auto it = r.counters.find("segments/s");
      if (it == r.counters.end()) continue;
      std::string name = r.run_name.str();
      if (r.run_type == Run::RT_Iteration && rate_.count(name) && r.repetitions > 1) continue;  // keep the median
      rate_[name] = it->second.value;
      order_.push_back(name);
    }
  }
  void Finalize() override {
    auto& os = GetOutputStream();
    os << "\nRatios (segments/s of the simulator case ÷ segments/s of the peer, same run):\n";
    for (const auto& name : order_) {
      if (name.rfind("sim_nat/", 0) != 0) continue;
      const std::string n = name.substr(name.rfind('/') + 1);
      char buf[256];
      std::snprintf(buf, sizeof buf, "  %-40s %7.2f M seg/s", name.c_str(), rate_[name] / 1e6);
      os << buf;
      for (const char* peer : {"peer_priority_queue/", "peer_sim_event_queue/", "peer_segment_copy_map/"}) {
        auto p = rate_.find(peer + n);
        if (p == rate_.end() || p->second <= 0) continue;
        std::snprintf(buf, sizeof buf, "  = %.3f x %s", rate_[name] / p->second, (peer + n).c_str());
        os << buf;
      }
      os << "\n";
    }
  }

 private:
  std::map<std::string, double> rate_;
  std::vector<std::string> order_;
};

void register_all() {
  using benchmark::RegisterBenchmark;
  auto ms = benchmark::kMillisecond;
  for (int n : {10000, 100000}) {
    for (const char* kernel : {"el7", "6.18"}) {
      NatCase c;
      c.kernel = kernel;
      c.clients = n;
      RegisterBenchmark(("sim_nat/" + std::string(kernel) + "/server_close/" + std::to_string(n)).c_str(),
                        [c](benchmark::State& s) { bm_sim(s, c, fast_options()); })
          ->Unit(ms);
    }
  }
  {
    NatCase c;
    c.server_closes = false;
    RegisterBenchmark("sim_nat/el7/client_close/100000", [c](benchmark::State& s) { bm_sim(s, c, fast_options()); })
        ->Unit(ms);
    NatCase d;
    auto opt = fast_options();
    opt.decisions = true;
    opt.track_attempts = true;
    RegisterBenchmark("sim_nat/el7/server_close+decisions+attempts/100000",
                      [d, opt](benchmark::State& s) { bm_sim(s, d, opt); })
        ->Unit(ms);
  }
  for (int n : {10000, 100000}) {
    RegisterBenchmark(("peer_priority_queue/" + std::to_string(n)).c_str(),
                      [n](benchmark::State& s) { peer_priority_queue(s, n); })
        ->Unit(ms);
    RegisterBenchmark(("peer_sim_event_queue/" + std::to_string(n)).c_str(),
                      [n](benchmark::State& s) { peer_sim_event_queue(s, n); })
        ->Unit(ms);
    RegisterBenchmark(("peer_segment_copy_map/" + std::to_string(n)).c_str(),
                      [n](benchmark::State& s) { peer_segment_copy_map(s, n); })
        ->Unit(ms);
  }
  for (bool track : {false, true}) {
    for (int n : {10000, 100000}) {
      RegisterBenchmark(
          ("mem_nat_bounded/" + std::string(track ? "attempts" : "no_attempts") + "/" + std::to_string(n)).c_str(),
          [n, track](benchmark::State& s) { mem_nat_bounded(s, n, track); })
          ->Unit(ms)
          ->Iterations(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
