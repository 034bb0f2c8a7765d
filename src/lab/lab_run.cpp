#include "lab/lab_run.h"

#include <signal.h>
#include <sys/utsname.h>
#include <time.h>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "capture/capture_reader.h"
#include "core/error.h"
#include "lab/netns.h"
#include "lab/topology.h"
#include "model/kernel_profile.h"
#include "model/sysctls.h"

namespace synscope::lab {
namespace {

// One-way latency over veth + bridge between two namespaces on these machines (order of magnitude).
constexpr int kVethLatencyUs = 30;

volatile sig_atomic_t g_interrupted = 0;
void on_interrupt(int) { g_interrupted = 1; }

void check_interrupted() {
  if (g_interrupted) throw LabInterrupted("interrupted: the lab was torn down");
}

// Sleeps until the monotonic time `until_ns`, waking to notice an interrupt.
void sleep_until(std::int64_t until_ns) {
  for (;;) {
    check_interrupted();
    std::int64_t now = LabClock::now_ns();
    if (now >= until_ns) return;
    std::int64_t step = std::min<std::int64_t>(until_ns - now, 50'000'000);
    timespec ts{static_cast<time_t>(step / 1000000000), static_cast<long>(step % 1000000000)};
    ::nanosleep(&ts, nullptr);
  }
}

std::string slurp(const char* path) {
  std::ifstream f(path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Listener rows of /proc/net/tcp (§13): state 0A, rx_queue = accept queue length A; SYN_RECV rows
// (state 03) are the request socks of the SYN queue. "port A Q" per listening port.
std::string listener_snapshot_text() {
  std::istringstream in(slurp("/proc/net/tcp"));
  std::string line;
  std::getline(in, line);  // header
  std::map<unsigned, std::pair<unsigned long, int>> rows;
  std::vector<unsigned> syn_recv_ports;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, st, queues;
    f >> sl >> local >> remote >> st >> queues;
    const unsigned port = static_cast<unsigned>(std::stoul(local.substr(local.find(':') + 1), nullptr, 16));
    if (st == "0A") rows[port].first = std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
    if (st == "03") syn_recv_ports.push_back(port);
  }
  for (unsigned p : syn_recv_ports)
    if (rows.count(p)) ++rows[p].second;
  std::string out;
  for (const auto& [port, v] : rows) out += fmt::format("{} {} {}\n", port, v.first, v.second);
  return out;
}

std::string lab_outcome_text(const LabAttempt& a) {
  switch (a.outcome) {
    case LabOutcome::Pending: return "pending";
    case LabOutcome::Established: return "established";
    case LabOutcome::TimedOut: return "timed out (ETIMEDOUT)";
    case LabOutcome::Refused: return "refused (RST)";
    case LabOutcome::Reset: return "reset";
    case LabOutcome::Error: return "error: " + a.error;
  }
  return "?";
}

bool same_outcome(LabOutcome lab, sim::AttemptOutcome model) {
  switch (lab) {
    case LabOutcome::Pending: return model == sim::AttemptOutcome::Pending;
    case LabOutcome::Established: return model == sim::AttemptOutcome::Established;
    case LabOutcome::TimedOut: return model == sim::AttemptOutcome::TimedOut;
    case LabOutcome::Refused: return model == sim::AttemptOutcome::Refused;
    case LabOutcome::Reset: return model == sim::AttemptOutcome::Reset;
    case LabOutcome::Error: return false;
  }
  return false;
}

// Per attempt, its SYNs in a server-side capture: matched by source port and by a source address
// that is the client's own or one a NAT rewrites to (§ the seed's SNAT).
struct SynTrack {
  std::vector<WallTime> syns;
  std::vector<bool> answered;
};

std::map<std::pair<std::uint32_t, std::uint16_t>, SynTrack> syns_in_capture(const std::string& path) {
  std::map<std::pair<std::uint32_t, std::uint16_t>, SynTrack> out;
  auto reader = capture::CaptureReader::open(path);
  capture::CaptureItem item;
  while (reader.next(item)) {
    if (item.kind != capture::CaptureItem::Kind::Tcp) continue;
    const auto& p = item.tcp;
    auto src = p.src.addr.v4();
    auto dst = p.dst.addr.v4();
    if (!src || !dst) continue;
    if (p.is_syn()) {
      auto& t = out[{src->value, p.src.port}];
      t.syns.push_back(p.ts);
      t.answered.push_back(false);
    } else if (p.is_synack() || (p.flags & tcp_flag::RST)) {
      auto it = out.find({dst->value, p.dst.port});
      if (it != out.end() && !it->second.answered.empty()) it->second.answered.back() = true;
    }
  }
  return out;
}

std::string uname_release() {
  utsname u{};
  ::uname(&u);
  return u.release;
}

// The profile of the running kernel: "6.18" for 6.18.44 (§17); the newest profile when the model
// has none for this release.
const model::KernelProfile& running_profile(const std::string& release) {
  auto dot = release.find('.');
  auto end = release.find_first_not_of("0123456789", dot == std::string::npos ? 0 : dot + 1);
  if (const auto* p = model::try_find_profile(release.substr(0, end))) return *p;
  return model::newest_profile();
}

// Before anything is built: the scenario must be one the model can run on the running kernel's
// profile. Every sysctl is checked against model::Sysctls (name, and value range for this profile),
// then the simulation is tried once; a refusal is LabUnavailable (exit 2) and nothing is created.
// A sysctl the profile lacks (tcp_tw_recycle on 4.12+) is left to the topology, which reports it and
// honours `[lab] without`.
void validate_against_model(const sim::Scenario& sc, const model::KernelProfile& profile) {
  for (const auto& h : sc.hosts)
    for (const auto& [name, value] : h.sysctls) {
      if (model::sysctl_unavailable_reason(profile, name)) continue;
      auto s = model::Sysctls::defaults_for(profile);
      try {
        s.set(profile, name, value);
      } catch (const UsageError& e) {
        throw LabUnavailable(fmt::format("host {}: {} (checked before building anything)", h.name, e.what()));
      }
    }
  sim::Scenario probe = sc;
  for (auto& h : probe.hosts)
    for (auto it = h.sysctls.begin(); it != h.sysctls.end();)
      it = model::sysctl_unavailable_reason(profile, it->first) ? h.sysctls.erase(it) : std::next(it);
  sim::SimOptions opts;
  opts.kernel = std::string(profile.name);
  opts.capture = false;
  opts.decisions = false;
  try {
    (void)sim::simulate(probe, opts);
  } catch (const std::exception& e) {
    throw LabUnavailable(fmt::format("the model cannot run this scenario on profile {}: {} (checked before building "
                                     "anything)", profile.name, e.what()));
  }
}

}  // namespace

void install_lab_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

const std::vector<model::Counter>& compared_counters() {
  using model::Counter;
  static const std::vector<Counter> all = {
      Counter::ListenOverflows, Counter::ListenDrops,    Counter::TCPReqQFullDrop, Counter::TCPReqQFullDoCookies,
      Counter::SyncookiesSent,  Counter::SyncookiesRecv, Counter::SyncookiesFailed, Counter::EmbryonicRsts,
      Counter::PAWSPassive,     Counter::PassiveOpens,   Counter::ActiveOpens,     Counter::AttemptFails};
  return all;
}

model::CounterSet parse_counters(const std::string& snmp, const std::string& netstat) {
  model::CounterSet set;
  auto parse = [&](const std::string& text, std::string_view group, model::CounterGroup g) {
    std::istringstream in(text);
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
      if (names.rfind(std::string(group) + ":", 0) != 0) continue;
      std::istringstream n(names.substr(group.size() + 1)), v(values.substr(group.size() + 1));
      std::string name;
      long long value;
      while (n >> name && v >> value) {
        for (std::size_t i = 0; i < model::kCounterCount; ++i) {
          auto c = static_cast<model::Counter>(i);
          const auto& info = model::counter_info(c);
          if (info.group == g && info.field == name && value > 0) set.add(c, static_cast<std::uint64_t>(value));
        }
      }
    }
  };
  parse(snmp, "Tcp", model::CounterGroup::Tcp);
  parse(netstat, "TcpExt", model::CounterGroup::TcpExt);
  return set;
}

model::CounterSet read_counters(const std::string& netns) {
  std::string both = run_in_netns(netns, [] { return slurp("/proc/net/snmp") + "\x01" + slurp("/proc/net/netstat"); });
  auto cut = both.find('\x01');
  return parse_counters(both.substr(0, cut), both.substr(cut + 1));
}

bool LabReport::agrees() const {
  for (const auto& a : attempts)
    if (!a.agrees) return false;
  for (const auto& c : counters)
    if (!c.agrees()) return false;
  for (const auto& l : listeners)
    if (!l.agrees()) return false;
  return true;
}

LabReport run_lab(const sim::Scenario& scenario_in, const LabOptions& options) {
  auto say = [&](const std::string& s) {
    if (options.progress) options.progress(s);
  };
  sim::Scenario sc = scenario_in;
  if (sc.lab && sc.lab->duration) sc.duration = *sc.lab->duration;
  if (!sc.proxies.empty()) throw LabUnavailable("the lab does not run [[proxy]] applications yet");
  if (!sc.sweep) {} else throw LabUnavailable("a [sweep] scenario runs many random trials: the lab runs one real run");
  if (sc.duration > seconds(120)) throw LabUnavailable(fmt::format("the lab runs in real time and this scenario lasts {} s: set [lab] duration", sc.duration.count() / 1000000000));
  std::filesystem::create_directories(options.out_dir);
  g_interrupted = 0;

  LabReport report;
  report.scenario = sc.name;
  report.uname = uname_release();
  report.kernel = std::string(running_profile(report.uname).name);
  report.duration = sc.duration;

  validate_against_model(sc, running_profile(report.uname));

  say(fmt::format("building {} namespaces", sc.hosts.size() + 1 + (sc.floods.empty() ? 0 : 1)));
  LabTopology topo(sc, NetnsPrefix::for_pid(::getpid()));
  report.notes = topo.notes();
  check_interrupted();

  if (options.on_ready) options.on_ready(topo);
  std::map<std::string, model::CounterSet> before;
  for (const auto& h : sc.hosts) before[h.name] = read_counters(topo.netns_of(h.name));

  LabClock clock{LabClock::now_ns() + 400'000'000};  // t = 0 once every process is up
  std::vector<std::unique_ptr<NetnsChild>> captures, apps, servers;
  for (const auto& c : sc.captures) {
    std::string path = (std::filesystem::path(options.out_dir) / (c.name + ".pcap")).string();
    captures.push_back(std::make_unique<NetnsChild>(topo.netns_of(c.host), [path] { return run_capture(LabTopology::kInterface, path); }));
    captures.back()->wait_ready(5000);
    report.captures.push_back(path);
  }
  for (const auto& s : sc.servers) {
    servers.push_back(std::make_unique<NetnsChild>(topo.netns_of(s.host), [&s, clock] { return run_server(s, clock); }));
    servers.back()->wait_ready(5000);
  }
  for (const auto& h : sc.hosts) {
    auto plans = connect_plans(sc, h.name);
    if (plans.empty()) continue;
    apps.push_back(std::make_unique<NetnsChild>(topo.netns_of(h.name), [plans, clock] { return run_clients(plans, clock); }));
    apps.back()->wait_ready(5000);
  }
  std::vector<std::unique_ptr<NetnsChild>> floods;
  for (const auto& f : sc.floods) {
    const std::uint64_t seed = sc.seed + floods.size();
    floods.push_back(std::make_unique<NetnsChild>(topo.flood_netns(), [&f, seed, clock] { return run_flood(f, seed, clock); }));
    floods.back()->wait_ready(5000);
  }
  say(fmt::format("running {:.1f} s in real time", static_cast<double>(sc.duration.count()) / 1e9));
  sleep_until(clock.t0_ns + sc.duration.count());

  // The end of the run: counters and queues while every socket is still there.
  std::map<std::string, model::CounterSet> delta;
  for (const auto& h : sc.hosts) delta[h.name] = read_counters(topo.netns_of(h.name)) - before[h.name];
  std::map<std::string, std::string> queues;
  for (const auto& s : sc.servers)
    if (!queues.count(s.host)) queues[s.host] = run_in_netns(topo.netns_of(s.host), listener_snapshot_text);

  // The captures stop first: what the teardown sends (clients closing, the listener's close
  // resetting its queued children and requests) is not part of the scenario and would read, to
  // `synscope analyze`, like resets the scenario caused.
  for (auto& c : captures) c->signal(SIGTERM);
  for (auto& c : captures) c->finish();
  if (options.on_captured) options.on_captured();
  std::vector<LabAttempt> lab_attempts;
  for (auto& c : apps) c->signal(SIGTERM);
  for (auto& c : apps) {
    auto part = parse_attempts(c->finish());
    lab_attempts.insert(lab_attempts.end(), part.begin(), part.end());
  }
  for (auto& c : floods) c->signal(SIGTERM);
  for (auto& c : floods) c->finish();
  for (auto& c : servers) c->signal(SIGTERM);
  for (auto& c : servers) c->finish();
  std::stable_sort(lab_attempts.begin(), lab_attempts.end(), [](const auto& a, const auto& b) { return a.start < b.start; });

  // The model: the same scenario on the running kernel's profile, with the sysctls the namespaces
  // really have (a new namespace starts from compiled-in defaults, which may differ from the profile's).
  say("simulating with profile " + report.kernel);
  sim::Scenario model_sc = sc;
  if (!topo.latency_applied()) {
    // The model gets the latency the lab really had: veth + bridge, a few tens of µs one way.
    // (Timing matters: with no delay a handshake completes before the next client's SYN arrives.)
    model_sc.default_latency = micros(kVethLatencyUs);
    for (auto& l : model_sc.links) l.latency = micros(kVethLatencyUs);
    report.notes.push_back(fmt::format("the model runs with the lab's own latency, {} µs one way", kVethLatencyUs));
  }
  sim::SimOptions sim_opts;
  sim_opts.kernel = report.kernel;
  const auto& profile = running_profile(report.uname);
  for (auto& h : model_sc.hosts) {
    for (const auto& a : topo.sysctls())
      if (a.host == h.name && a.missing) h.sysctls.erase(a.name);
    const auto defaults = model::Sysctls::defaults_for(profile);
    auto eff = topo.effective_sysctls().find(h.name);
    if (eff == topo.effective_sysctls().end()) continue;
    for (const auto& [name, value] : eff->second)
      if (!model::sysctl_unavailable_reason(profile, name) && defaults.get(name) != value && !h.sysctls.count(name))
        sim_opts.sysctls.push_back(fmt::format("{}:{}={}", h.name, name, value));
  }
  sim_opts.queue_samples = true;  // kept in the report for its HTML queue-depth plot (cheap: a few listeners)
  auto model_run = std::make_shared<sim::SimResult>(sim::simulate(model_sc, sim_opts));
  const sim::SimResult& model = *model_run;
  report.model_run = model_run;

  // Attempts, matched per client label in order.
  std::map<std::string, std::vector<const sim::Attempt*>> model_by_client;
  for (const auto& a : model.attempts) model_by_client[a.client].push_back(&a);
  std::map<std::string, std::size_t> used;
  std::map<std::pair<std::uint32_t, std::uint16_t>, SynTrack> wire;
  for (const auto& path : report.captures) {
    auto part = syns_in_capture(path);
    for (auto& [k, v] : part) wire[k] = v;
  }
  std::set<std::uint32_t> nat_sources;
  for (const auto& n : sc.nats)
    for (const auto& r : n.snat) nat_sources.insert(r.to.value);
  std::map<std::string, Ipv4Addr> addr_of_client;
  for (const auto& c : sc.clients) addr_of_client[c.name.empty() ? c.host : c.name] = sc.hosts[static_cast<std::size_t>(std::find_if(sc.hosts.begin(), sc.hosts.end(), [&](const auto& h) { return h.name == c.host; }) - sc.hosts.begin())].addr;
  for (const auto& c : sc.connect_close)
    for (const auto& h : sc.hosts)
      if (h.name == c.host) addr_of_client[c.host] = h.addr;
  // Attempts of one client at the same instant are interchangeable: the model sends their SYNs
  // together, and which of them the kernel serves first is decided by timer order (their held-back
  // final ACKs, apps.h). Within such a group, each lab attempt is paired with a model attempt of the
  // same outcome where there is one.
  std::vector<const sim::Attempt*> paired(lab_attempts.size(), nullptr);
  for (std::size_t k = 0; k < lab_attempts.size(); ++k) {
    auto& list = model_by_client[lab_attempts[k].client];
    std::size_t& i = used[lab_attempts[k].client];
    if (i < list.size()) paired[k] = list[i++];
  }
  for (std::size_t k = 0; k < lab_attempts.size(); ++k) {
    if (!paired[k] || same_outcome(lab_attempts[k].outcome, paired[k]->outcome)) continue;
    for (std::size_t j = k + 1; j < lab_attempts.size(); ++j) {
      if (!paired[j] || lab_attempts[j].client != lab_attempts[k].client || paired[j]->start != paired[k]->start) continue;
      if (same_outcome(lab_attempts[k].outcome, paired[j]->outcome) && same_outcome(lab_attempts[j].outcome, paired[k]->outcome)) {
        std::swap(paired[k], paired[j]);
        break;
      }
    }
  }
  for (std::size_t k = 0; k < lab_attempts.size(); ++k) {
    const auto& la = lab_attempts[k];
    AttemptComparison cmp;
    cmp.client = la.client;
    cmp.lab = la;
    if (paired[k]) cmp.model = *paired[k];
    std::vector<std::uint32_t> sources = {addr_of_client[la.client].value};
    sources.insert(sources.end(), nat_sources.begin(), nat_sources.end());
    for (auto s : sources) {
      auto it = wire.find({s, la.local_port});
      if (it == wire.end()) continue;
      WireSyns w;
      w.sent = static_cast<int>(it->second.syns.size());
      for (bool ans : it->second.answered) w.dropped += ans ? 0 : 1;
      cmp.lab_syns = w;
      break;
    }
    cmp.agrees = cmp.model && same_outcome(la.outcome, cmp.model->outcome) &&
                 (!cmp.lab_syns || (cmp.lab_syns->sent == cmp.model->syns_sent && cmp.lab_syns->dropped == cmp.model->syns_dropped));
    report.attempts.push_back(std::move(cmp));
  }
  for (const auto& [client, list] : model_by_client)
    for (std::size_t i = used[client]; i < list.size(); ++i) {
      AttemptComparison cmp;
      cmp.client = client;
      cmp.lab.client = client;
      cmp.lab.outcome = LabOutcome::Error;
      cmp.lab.error = "not attempted in the lab";
      cmp.model = *list[i];
      report.attempts.push_back(std::move(cmp));
    }

  // Counters per host.
  for (const auto& h : model.hosts) {
    for (auto c : compared_counters()) {
      if (!model::profile_has_counter(profile, c)) continue;
      CounterComparison row{h.name, c, delta[h.name][c], h.counters[c]};
      if (row.lab || row.model) report.counters.push_back(row);
    }
  }
  // Listener queues.
  for (const auto& s : sc.servers) {
    ListenerComparison l;
    l.host = s.host;
    l.port = s.port;
    std::istringstream in(queues[s.host]);
    unsigned port;
    int a, q;
    while (in >> port >> a >> q)
      if (port == s.port) {
        l.lab_a = a;
        l.lab_q = q;
      }
    int hi = model.host_index(s.host);
    if (hi >= 0)
      for (const auto& snap : model.hosts[static_cast<std::size_t>(hi)].listeners)
        if (snap.port == s.port) {
          l.model_a = snap.a;
          l.model_q = snap.q;
        }
    report.listeners.push_back(l);
  }
  for (const auto& a : model.adjustments) report.notes.push_back("model: " + a);
  return report;
}

std::string LabReport::text() const {
  std::string out;
  out += fmt::format("synscope lab: {} — real kernel {} vs model profile {}, {:.1f} s in real time\n", scenario, uname, kernel,
                     static_cast<double>(duration.count()) / 1e9);
  for (const auto& n : notes) out += "note: " + n + "\n";
  out += "\nAttempts (lab = real kernel, seen in the server-side capture; model = simulator):\n";
  out += fmt::format("  {:<10} {:>8}  {:<24} {:<24} {:>9} {:>12}  {}\n", "client", "start", "lab outcome", "model outcome",
                     "SYNs l/m", "dropped l/m", "check");
  for (const auto& a : attempts) {
    std::string syns = a.lab_syns ? std::to_string(a.lab_syns->sent) : "-";
    std::string drop = a.lab_syns ? std::to_string(a.lab_syns->dropped) : "-";
    syns += "/" + (a.model ? std::to_string(a.model->syns_sent) : std::string("-"));
    drop += "/" + (a.model ? std::to_string(a.model->syns_dropped) : std::string("-"));
    out += fmt::format("  {:<10} {:>7.3f}s  {:<24} {:<24} {:>9} {:>12}  {}\n", a.client,
                       static_cast<double>(a.lab.start.count()) / 1e9, lab_outcome_text(a.lab),
                       a.model ? std::string(sim::to_string(a.model->outcome)) : "-", syns, drop, a.agrees ? "ok" : "DIFFERS");
  }
  out += "\nCounters (delta over the run, per namespace):\n";
  out += fmt::format("  {:<10} {:<24} {:>8} {:>8}  {}\n", "host", "counter", "lab", "model", "check");
  for (const auto& c : counters)
    out += fmt::format("  {:<10} {:<24} {:>8} {:>8}  {}\n", c.host, model::nstat_name(c.counter), c.lab, c.model,
                       c.agrees() ? "ok" : "DIFFERS");
  if (!listeners.empty()) {
    out += "\nListeners at the end (accept queue A = Recv-Q, §13; SYN queue Q = SYN_RECV requests):\n";
    out += fmt::format("  {:<10} {:>5} {:>9} {:>9}  {}\n", "host", "port", "A l/m", "Q l/m", "check");
    for (const auto& l : listeners)
      out += fmt::format("  {:<10} {:>5} {:>9} {:>9}  {}\n", l.host, l.port, fmt::format("{}/{}", l.lab_a, l.model_a),
                         fmt::format("{}/{}", l.lab_q, l.model_q), l.agrees() ? "ok" : "DIFFERS");
  }
  out += agrees() ? "\nResult: the model agrees with the kernel.\n" : "\nResult: the model DISAGREES with the kernel (see DIFFERS above).\n";
  return out;
}

}  // namespace synscope::lab
