#include "live/findings.h"

#include <algorithm>
#include <fmt/format.h>
#include <tuple>
#include <nlohmann/json.hpp>

#include "live/bundle.h"
#include "model/counters.h"
#include "model/sysctls.h"

namespace synscope::live {
namespace {

using model::KernelProfile;

// The counter's model identity, when the model knows it (for "absent on this kernel", §4).
const model::CounterInfo* model_counter(std::string_view group, std::string_view name) {
  for (std::size_t i = 0; i < model::kCounterCount; ++i) {
    const auto& info = model::counter_info(static_cast<model::Counter>(i));
    const bool tcp = info.group == model::CounterGroup::Tcp;
    if (info.field == name && (tcp ? group == "Tcp" : group == "TcpExt")) return &info;
  }
  return nullptr;
}

class Facts {
 public:
  Facts(const HostSnapshot& snap, const Diagnosis& d) : snap_(snap), d_(d) {}
  const CounterMove* counter(std::string_view name) const {
    for (const auto& c : d_.counters)
      if (c.name == name) return &c;
    return nullptr;
  }
  std::int64_t delta(std::string_view name) const {
    const auto* c = counter(name);
    return c && c->present ? c->delta : 0;
  }
  bool windowed() const { return d_.window_s > 0; }
  // "+12 over 5.0 s (2.4/s), total 120" or "120 since the namespace started (one sample)"
  std::string movement(std::string_view name) const {
    const auto* c = counter(name);
    if (!c || !c->present) return fmt::format("{}: not reported by this kernel", name);
    if (!windowed()) return fmt::format("{} {} (total since boot or namespace creation; one sample)", name, c->total);
    return fmt::format("{} +{} over {:.1f} s ({:.1f}/s), total {}", name, c->delta, d_.window_s, c->rate, c->total);
  }
  std::optional<std::int64_t> sysctl(std::string_view n) const { return snap_.sysctl(n); }
  std::string sysctl_text(std::string_view n) const {
    auto v = sysctl(n);
    return v ? fmt::format("{} = {}", n, *v) : fmt::format("{} not present", n);
  }
  const KernelProfile& profile() const { return *d_.kernel.profile; }

 private:
  const HostSnapshot& snap_;
  const Diagnosis& d_;
};

std::string process_text(const Listener& l) {
  std::string out;
  for (const auto& o : l.owners) out += fmt::format("{}{} (pid {})", out.empty() ? "" : ", ", o.comm, o.pid);
  return out;
}

std::string who(const Listener& l) {
  auto p = process_text(l);
  return p.empty() ? "the owning application (process not visible)" : p;
}

// §6.2/§6.3: does this listener's SYN_RECV count meet the profile's "SYN queue full" test?
bool syn_queue_at_cap(const KernelProfile& p, const Listener& l, std::int64_t max_syn_backlog) {
  const std::int64_t q = l.syn_recv, b = l.backlog;
  switch (p.syn_queue_full) {
    case model::SynQueueFullTest::AboveBacklog: return q > b;
    case model::SynQueueFullTest::AtLeastBacklog: return q >= b;
    case model::SynQueueFullTest::PowerOfTwoTable: {
      std::int64_t n = std::max<std::int64_t>(std::min(b, max_syn_backlog), 8) + 1, cap = 1;
      while (cap < n) cap <<= 1;
      return q >= cap;
    }
  }
  return false;
}

void tw_recycle(const Facts& f, std::vector<Finding>& out) {
  auto recycle = f.sysctl("tcp_tw_recycle");
  auto ts = f.sysctl("tcp_timestamps");
  if (!recycle || *recycle == 0 || !ts || *ts == 0) return;
  Finding x;
  x.id = "tw-recycle-with-timestamps";
  const bool now = f.delta("PAWSPassive") > 0;
  x.severity = now ? Severity::Critical : Severity::Warning;
  x.title = now ? "tcp_tw_recycle is dropping SYNs now (per-host PAWS; PAWSPassive is moving)"
                : "tcp_tw_recycle is on with timestamps: clients behind NAT will be dropped";
  x.evidence = {f.sysctl_text("net.ipv4.tcp_tw_recycle"), f.sysctl_text("net.ipv4.tcp_timestamps"),
                f.movement("PAWSPassive"), f.movement("ListenDrops")};
  x.explanation =
      "When this host closes a connection first, tcp_tw_recycle makes it remember the peer's last TS "
      "value per peer IP in tcp_metrics (§7.1, §7.2); for 60 s it then silently drops any SYN from that IP "
      "whose TSval is behind the remembered one (§7.3; PAWSPassive + ListenDrops, no SYN-ACK, §3.8). "
      "Clients behind one NAT share the IP but not the TS clock, so some of them are dropped and keep "
      "retransmitting the same SYN (§9).";
  x.fix =
      "sysctl -w net.ipv4.tcp_tw_recycle=0 and remove it from /etc/sysctl.conf and /etc/sysctl.d; the option "
      "was removed in 4.12 for exactly this (§7.7). If TIME_WAIT exhaustion on outgoing connections was the "
      "reason, tcp_tw_reuse=1 is the safe one (§7.6).";
  out.push_back(std::move(x));
}

void accept_queue(const HostSnapshot& snap, const Facts& f, std::vector<Finding>& out) {
  const std::int64_t overflows = f.delta("ListenOverflows");
  const auto somaxconn = f.sysctl("net.core.somaxconn");
  bool named = false;
  for (const auto& l : snap.listeners) {
    auto dd = snap.drops_moved(l);
    const bool dropping = dd && *dd > 0 && overflows > 0;
    if (!l.full() && !dropping) continue;
    named = true;
    Finding x;
    x.id = "accept-queue-overflow";
    x.listener = l.endpoint();
    x.process = process_text(l);
    x.severity = overflows > 0 && f.windowed() ? Severity::Critical : Severity::Warning;
    x.title = fmt::format("accept queue {} on {}{}", l.full() ? "full" : "overflowing", l.endpoint(),
                          x.process.empty() ? "" : ", " + x.process);
    x.evidence.push_back(fmt::format("Recv-Q (accept queue) {} {} backlog {} — full when A > B, so it holds B+1 (§6.1, §13)",
                                     l.accept_queue, l.full() ? ">" : "<=", l.backlog));
    x.evidence.push_back(f.movement("ListenOverflows"));
    x.evidence.push_back(f.movement("ListenDrops"));
    if (l.drops)
      x.evidence.push_back(dd ? fmt::format("listener drops (skmem d) +{}, now {}", *dd, *l.drops)
                              : fmt::format("listener drops (skmem d) {}", *l.drops));
    if (somaxconn && l.backlog == *somaxconn)
      x.evidence.push_back(fmt::format(
          "backlog {} equals net.core.somaxconn: listen() asked for at least that much and may have been capped "
          "(§6.1); the requested backlog is not visible, only the effective one", l.backlog));
    else if (somaxconn)
      x.evidence.push_back(fmt::format("net.core.somaxconn = {} (not the cap here: the application asked for {})",
                                       *somaxconn, l.backlog));
    x.explanation = fmt::format(
        "{} is not accept()ing as fast as handshakes complete. While A > B the kernel drops each new SYN "
        "outright — no SYN-ACK, ListenOverflows + ListenDrops, the listener's sk_drops +1 (§3.1 step 3, §17) — "
        "and a final ACK that finds the queue full is dropped too, leaving the request to retransmit its "
        "SYN-ACK (§5.2). Clients see SYNs retransmitted {} (§9) and connect late or time out.",
        who(l), f.profile().syn_schedule == model::SynRetransmitSchedule::Exponential
                    ? "1, 2, 4 … s apart"
                    : "1 s apart for the first tcp_syn_linear_timeouts, then doubling");
    x.fix = fmt::format(
        "Make {} accept faster (more workers or threads, nothing blocking in the accept loop). Raise its "
        "listen() backlog{}; net.core.somaxconn is per network namespace (§6.1, §12). "
        "tcp_abort_on_overflow=1 makes clients fail fast with a RST instead of waiting (§5.2).",
        who(l), somaxconn && l.backlog == *somaxconn ? " and net.core.somaxconn, which caps it" : "");
    out.push_back(std::move(x));
  }
  if (!named && overflows > 0) {
    Finding x;
    x.id = "accept-queue-overflow";
    x.severity = f.windowed() ? Severity::Warning : Severity::Info;
    x.title = f.windowed() ? "accept queues overflowed during the window (listener not caught while full)"
                           : "accept queues have overflowed since boot";
    x.evidence = {f.movement("ListenOverflows"), f.movement("ListenDrops")};
    for (const auto& l : snap.listeners)
      if (l.drops && *l.drops > 0)
        x.evidence.push_back(fmt::format("{} {}: drops {}, Recv-Q {} backlog {}", l.endpoint(), process_text(l), *l.drops,
                                         l.accept_queue, l.backlog));
    x.explanation = "Some listener's accept queue was full (A > B, §6.1) when SYNs or final ACKs arrived (§3.8, §5.2); "
                    "listeners with a non-zero drop count above are the candidates (sk_drops, §13).";
    x.fix = "Run with a longer --interval while the problem happens; make the application accept faster and raise its backlog.";
    out.push_back(std::move(x));
  }
}

struct AtCap {
  const Listener* listener;
  std::string text;
};
std::vector<AtCap> syn_queue_listeners(const HostSnapshot& snap, const Facts& f) {
  std::vector<AtCap> out;
  const auto msb = f.sysctl("tcp_max_syn_backlog").value_or(f.profile().max_syn_backlog_default);
  for (const auto& l : snap.listeners)
    if (l.syn_recv > 0 && syn_queue_at_cap(f.profile(), l, msb))
      out.push_back({&l, fmt::format("{}{}: SYN_RECV {} at the cap for backlog {} ({})", l.endpoint(),
                                l.owners.empty() ? "" : " " + process_text(l), l.syn_recv, l.backlog,
                                model::to_string(f.profile().syn_queue_full))});
  return out;
}

void syn_queue(const HostSnapshot& snap, const Facts& f, std::vector<Finding>& out) {
  const auto cookies = f.sysctl("tcp_syncookies");
  const std::int64_t full_drops = f.delta("TCPReqQFullDrop");
  if (full_drops > 0) {
    Finding x;
    x.id = "syn-queue-overflow";
    x.severity = f.windowed() ? Severity::Critical : Severity::Warning;
    x.title = cookies && *cookies == 0 ? "SYN queue overflowing without syncookies: SYNs are dropped"
                                       : "SYN queue overflowed and SYNs were dropped";
    x.evidence = {f.movement("TCPReqQFullDrop"), f.movement("ListenDrops"), f.sysctl_text("net.ipv4.tcp_syncookies")};
    auto at_cap = syn_queue_listeners(snap, f);
    for (auto& s : at_cap) x.evidence.push_back(std::move(s.text));
    if (at_cap.empty()) x.evidence.push_back("no listener's SYN_RECV count is at its cap right now");
    if (at_cap.size() == 1) {
      x.listener = at_cap[0].listener->endpoint();
      x.process = process_text(*at_cap[0].listener);
      x.title += " on " + x.listener;
    }
    x.explanation = fmt::format(
        "A listener's SYN queue was full ({}; on 4.4+ its size is the listen() backlog, not tcp_max_syn_backlog, "
        "§6.3) and with tcp_syncookies=0 the kernel drops every further SYN silently: TCPReqQFullDrop + "
        "ListenDrops, no SYN-ACK (§3.8, §17). Spoofed SYNs of a flood occupy the queue until their SYN-ACK "
        "retries run out (≈7 s under queue pressure, §5.3, §17); legitimate clients retransmit (§9).",
        model::to_string(f.profile().syn_queue_full));
    x.fix = "sysctl -w net.ipv4.tcp_syncookies=1 (per network namespace from 4.10, §10, §12) so a full SYN queue "
            "answers with cookies instead of dropping; raise the application's listen() backlog if the load is legitimate.";
    out.push_back(std::move(x));
  } else if (cookies && *cookies == 0) {
    Finding x;
    x.id = "syncookies-disabled";
    x.severity = Severity::Info;
    x.title = "tcp_syncookies=0: a SYN burst larger than a listener's backlog will be dropped";
    x.evidence = {f.sysctl_text("net.ipv4.tcp_syncookies"), f.movement("TCPReqQFullDrop")};
    x.explanation = "Without cookies a full SYN queue has no fallback (§10, §3.8).";
    x.fix = "sysctl -w net.ipv4.tcp_syncookies=1 (the default).";
    out.push_back(std::move(x));
  }
}

void syncookies(const HostSnapshot& snap, const Facts& f, std::vector<Finding>& out) {
  const std::int64_t sent = f.delta("SyncookiesSent");
  if (sent <= 0) return;
  const auto cookies = f.sysctl("tcp_syncookies");
  Finding x;
  x.id = "syncookies-firing";
  const bool always = cookies && *cookies == 2;
  x.severity = always || !f.windowed() ? Severity::Info : Severity::Warning;
  x.title = always ? "SYN cookies sent for every SYN (tcp_syncookies=2)"
                   : "SYN cookies are being sent: a SYN queue is full (possible SYN flood)";
  x.evidence = {f.movement("SyncookiesSent"), f.movement("TCPReqQFullDoCookies"), f.movement("SyncookiesRecv"),
                f.movement("SyncookiesFailed"), f.sysctl_text("net.ipv4.tcp_syncookies")};
  for (auto& s : syn_queue_listeners(snap, f)) x.evidence.push_back(std::move(s.text));
  x.explanation =
      "A listener's SYN queue was full, so the kernel answered SYNs with cookies instead of queueing them "
      "(§10). Few SyncookiesRecv compared with SyncookiesSent means the final ACKs never come — a SYN flood; "
      "about as many means a legitimate burst larger than the backlog. Cookie connections lose window "
      "scaling and SACK unless the SYN carried timestamps (§10), and still face the accept-queue check.";
  x.fix = "If legitimate: raise the application's listen() backlog (and net.core.somaxconn if it caps it, §6.1). "
          "If a flood: filter it upstream; keep tcp_syncookies=1.";
  out.push_back(std::move(x));
}

void zero_backlog(const HostSnapshot& snap, const Facts& f, std::vector<Finding>& out) {
  const auto cookies = f.sysctl("tcp_syncookies").value_or(1);
  for (const auto& l : snap.listeners) {
    if (l.backlog != 0) continue;
    Finding x;
    x.id = "listen-backlog-zero";
    x.listener = l.endpoint();
    x.process = process_text(l);
    std::string effect;
    switch (f.profile().syn_queue_full) {
      case model::SynQueueFullTest::AtLeastBacklog:
        x.severity = cookies == 0 ? Severity::Critical : Severity::Warning;
        effect = cookies == 0 ? "on this kernel the SYN queue test is Q >= 0, so with tcp_syncookies=0 every SYN is "
                                "dropped (TCPReqQFullDrop, §6.3)"
                              : "on this kernel the SYN queue test is Q >= 0, so every SYN is answered with a cookie "
                                "(§6.3, §10)";
        break;
      case model::SynQueueFullTest::AboveBacklog:
        x.severity = Severity::Warning;
        effect = "on this kernel (6.13+, Q > B) one handshake at a time can be pending (§6.3)";
        break;
      case model::SynQueueFullTest::PowerOfTwoTable:
        x.severity = Severity::Warning;
        effect = "the SYN queue still gets the minimum table of 16 (§6.2)";
        break;
    }
    x.title = fmt::format("listen(fd, 0) on {}{}", l.endpoint(), x.process.empty() ? "" : ", " + x.process);
    x.evidence = {fmt::format("backlog {} Recv-Q {} SYN_RECV {}", l.backlog, l.accept_queue, l.syn_recv),
                  fmt::format("tcp_syncookies = {}", cookies)};
    x.explanation = fmt::format("A backlog of 0 admits one connection to the accept queue (full when A > 0, §6.1); {}.", effect);
    x.fix = "Call listen() with a real backlog (e.g. SOMAXCONN, or the expected burst of connections).";
    out.push_back(std::move(x));
  }
}

// TCPSynRetrans counts SYN-ACK retransmissions of the listeners as well as the SYNs of connect()
// (measured here: a spoofed flood with no connect() at all moved it, docs/doctor.md); the SYN_SENT
// and SYN_RECV sockets of the last sample tell which side is retransmitting.
void syn_retransmissions(const HostSnapshot& snap, const Facts& f, std::vector<Finding>& out) {
  const auto* r = f.counter("TCPSynRetrans");
  if (!r || !r->present || r->delta <= 0) return;
  const std::int64_t opens = f.delta("ActiveOpens");
  std::int64_t requests = 0;
  for (const auto& l : snap.listeners) requests += l.syn_recv;
  const bool client = snap.syn_sent > 0 || opens > 0 || requests == 0;
  if (!client) return;  // only SYN-ACKs: the SYN-queue findings speak for the server side
  const double ratio = opens > 0 ? static_cast<double>(r->delta) / static_cast<double>(opens) : 0;
  Finding x;
  x.id = "syn-retransmissions";
  x.severity = !f.windowed() ? Severity::Info
               : (r->rate >= 1.0 || ratio >= 0.1) ? Severity::Warning
                                                   : Severity::Info;
  x.title = f.windowed() ? fmt::format("this host's outgoing connections retransmit SYNs ({:.1f}/s{})", r->rate,
                                       requests > 0 ? ", SYN-ACK retransmissions included" : "")
                         : "this host's outgoing connections have retransmitted SYNs (since boot)";
  x.evidence = {f.movement("TCPSynRetrans"), f.movement("ActiveOpens"), f.movement("TCPTimeouts"),
                fmt::format("{} connect()s waiting in SYN_SENT now; {} request socks in SYN_RECV now (their SYN-ACK "
                            "retransmissions count TCPSynRetrans too)", snap.syn_sent, requests)};
  if (opens > 0) x.evidence.push_back(fmt::format("{:.0f} SYN retransmissions per 100 connect()s", ratio * 100));
  x.explanation = fmt::format(
      "Client side: the servers this host connects to (or the path) did not answer the first SYN. Each "
      "retransmission counts TCPSynRetrans, RetransSegs and TCPTimeouts (§9); this kernel's schedule is {} (§9, "
      "§17). The usual causes are on the servers: accept-queue or SYN-queue overflow, per-host PAWS with "
      "tcp_tw_recycle (§3.8).",
      model::to_string(f.profile().syn_schedule));
  x.fix = "Find the peers with `ss -tn state syn-sent`, run synscope doctor on them, or capture the SYNs and run "
          "`synscope analyze` on the trace.";
  out.push_back(std::move(x));
}

void other_listen_drops(const Facts& f, std::vector<Finding>& out) {
  if (!f.windowed()) return;
  std::int64_t explained = f.delta("ListenOverflows") + f.delta("TCPReqQFullDrop") + f.delta("PAWSPassive");
  if (f.profile().cookie_counts_listen_drop) explained += f.delta("TCPReqQFullDoCookies");
  const std::int64_t other = f.delta("ListenDrops") - explained;
  if (other <= 0) return;
  Finding x;
  x.id = "listen-drops-other";
  x.severity = Severity::Warning;
  x.title = fmt::format("{} SYNs dropped at listeners for reasons without their own counter", other);
  x.evidence = {f.movement("ListenDrops"), f.movement("ListenOverflows"), f.movement("TCPReqQFullDrop")};
  x.explanation = "ListenDrops counts every drop at a listener; the ones not explained by overflows, a full SYN "
                  "queue or PAWS are the unproven-peer clause, LSM, route, allocation or SYN-ACK send failures (§3.8). "
                  "None of them appear as skb drop reasons (§11).";
  x.fix = "Check tcp_max_syn_backlog against the SYN_RECV counts (unproven-peer clause, §3.1 step 7b), SELinux/LSM "
          "denials and routes back to the clients.";
  out.push_back(std::move(x));
}

}  // namespace

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Critical: return "critical";
  }
  return "?";
}

Diagnosis diagnose(const HostSnapshot& snap) {
  Diagnosis d;
  d.kernel = match_kernel_release(snap.release);
  d.window_s = snap.elapsed();
  const auto& last = snap.samples.back();
  const auto& first = snap.samples.front();
  for (const auto& w : watched_counters()) {
    CounterMove m;
    m.group = std::string(w.group);
    m.name = std::string(w.name);
    auto after = last.get(w.group, w.name);
    auto before = first.get(w.group, w.name);
    m.present = after.has_value();
    if (after) {
      m.total = *after;
      m.delta = snap.samples.size() > 1 ? (before ? *after - *before : 0) : *after;
      if (d.window_s > 0) m.rate = static_cast<double>(m.delta) / d.window_s;
    } else {
      const auto* info = model_counter(w.group, w.name);
      const bool expected = info && model::profile_has_counter(*d.kernel.profile, info->id);
      m.note = expected ? fmt::format("missing, although profile {} has it", d.kernel.profile->name)
                        : fmt::format("absent, as expected on profile {} (§4)", d.kernel.profile->name);
    }
    if (snap.samples.size() > 1 && after && !before) m.note = "missing in the first sample";
    d.counters.push_back(std::move(m));
  }
  Facts f(snap, d);
  tw_recycle(f, d.findings);
  accept_queue(snap, f, d.findings);
  syn_queue(snap, f, d.findings);
  syncookies(snap, f, d.findings);
  zero_backlog(snap, f, d.findings);
  syn_retransmissions(snap, f, d.findings);
  other_listen_drops(f, d.findings);
  std::stable_sort(d.findings.begin(), d.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return d;
}

std::string render_doctor_text(const HostSnapshot& snap, const Diagnosis& d, bool all_listeners) {
  std::string o = "synscope doctor: why this host may be dropping SYNs\n";
  o += fmt::format("source: {}, host {}, network namespace {}, {}\n", snap.origin, snap.hostname,
                   snap.netns.empty() ? "(own)" : snap.netns, snap.collected_at);
  o += fmt::format("kernel: {}\n", d.kernel.summary());
  o += fmt::format("        {}\n", d.kernel.profile->title);
  if (d.window_s > 0)
    o += fmt::format("counters: /proc/net/netstat and /proc/net/snmp read twice, {:.1f} s apart\n", d.window_s);
  else
    o += "counters: one sample (--interval 0): totals since boot or namespace creation, no rates\n";

  o += "\nSysctls (per namespace or global depending on the kernel, §12):\n";
  for (const auto& s : snap.sysctls) {
    std::string shown = s.value ? std::to_string(*s.value) : s.note;
    if (!s.value && s.note == "absent")
      if (auto why = model::sysctl_unavailable_reason(*d.kernel.profile, s.name)) shown += " (" + *why + ")";
    o += fmt::format("  {:<36} {}\n", s.name, shown);
  }

  o += d.window_s > 0 ? fmt::format("\nCounters (change over {:.1f} s, per second, total):\n", d.window_s)
                      : "\nCounters (total):\n";
  for (const auto& c : d.counters) {
    const auto name = (c.group == "Tcp" ? "Tcp" : "TcpExt") + c.name;
    if (!c.present) o += fmt::format("  {:<28} {}\n", name, c.note);
    else if (d.window_s > 0) o += fmt::format("  {:<28} {:>+8} {:>9.1f}/s {:>12}\n", name, c.delta, c.rate, c.total);
    else o += fmt::format("  {:<28} {:>12}\n", name, c.total);
  }
  std::size_t fields = snap.samples.back().netstat.fields.size() + snap.samples.back().snmp.fields.size();
  o += fmt::format("  ({} fields read in all; the rest are in --json)\n", fields);

  o += fmt::format("\nListeners ({}, IPv4 and IPv6):\n", snap.listeners.size());
  o += fmt::format("  {:<40} {:>6} {:>7} {:>8} {:>6}  {}\n", "local address:port", "Recv-Q", "backlog", "SYN_RECV",
                   "drops", "process");
  std::vector<const Listener*> sorted;
  for (const auto& l : snap.listeners)
    if (all_listeners || snap.shown(l)) sorted.push_back(&l);
  std::sort(sorted.begin(), sorted.end(), [](const Listener* a, const Listener* b) {
    return std::tie(a->port, a->family, a->address) < std::tie(b->port, b->family, b->address);
  });
  for (const auto* l : sorted) {
    auto p = process_text(*l);
    // "?": looked up but not visible; "-": not looked up (an idle listener on a busy host).
    if (p.empty()) p = snap.owners_looked_up(*l) ? "?" : "-";
    o += fmt::format("  {:<40} {:>6} {:>7} {:>8} {:>6}  {}\n", l->endpoint(), l->accept_queue, l->backlog, l->syn_recv,
                     l->drops ? std::to_string(*l->drops) : "-", p);
  }
  if (const auto hidden = snap.listeners.size() - sorted.size(); hidden > 0)
    o += fmt::format("  … and {} idle listeners (empty queues, no SYN_RECV, no drops{}); --all-listeners lists them\n",
                     hidden, snap.samples.size() > 1 ? " moving" : "");
  o += fmt::format("Outgoing connections waiting in SYN_SENT: {}\n", snap.syn_sent);

  o += "\nFindings:\n";
  if (d.findings.empty()) o += "  none: no listen-path problem visible in these numbers\n";
  for (const auto& x : d.findings) {
    o += fmt::format("  [{}] {}\n", to_string(x.severity), x.title);
    for (const auto& e : x.evidence) o += fmt::format("      evidence: {}\n", e);
    o += fmt::format("      why: {}\n", x.explanation);
    o += fmt::format("      fix: {}\n", x.fix);
  }
  if (!snap.unreadable.empty()) {
    o += "\nCould not read:\n";
    for (const auto& u : snap.unreadable) o += fmt::format("  - {}\n", u);
  }
  return o;
}

nlohmann::json render_doctor_json(const HostSnapshot& snap, const Diagnosis& d) {
  using nlohmann::json;
  json j;
  j["schema"] = "synscope.doctor/1";
  j["source"] = snap.origin;
  j["hostname"] = snap.hostname;
  j["netns"] = snap.netns;
  j["collected_at"] = snap.collected_at;
  j["kernel"] = {{"release", d.kernel.release}, {"profile", d.kernel.profile->name},
                 {"fit", to_string(d.kernel.fit)}, {"family", d.kernel.family}, {"summary", d.kernel.summary()}};
  j["window_s"] = d.window_s;
  j["sysctls"] = json::object();
  for (const auto& s : snap.sysctls) j["sysctls"][s.name] = s.value ? json(*s.value) : json(nullptr);
  j["counters"] = json::array();
  for (const auto& c : d.counters) {
    json cj = {{"group", c.group}, {"name", c.name}, {"present", c.present}};
    if (c.present) {
      cj["total"] = c.total;
      cj["delta"] = c.delta;
      cj["rate"] = c.rate;
    } else {
      cj["note"] = c.note;
    }
    j["counters"].push_back(cj);
  }
  // Every field, watched or not, by name (unknown fields kept).
  j["all_counters"] = json::object();
  const auto& first = snap.samples.front();
  for (const auto* t : {&snap.samples.back().netstat, &snap.samples.back().snmp})
    for (const auto& f : t->fields) {
      json v = {{"total", f.value}};
      if (snap.samples.size() > 1)
        if (auto b = first.get(f.group, f.name)) v["delta"] = f.value - *b;
      j["all_counters"][f.group + "." + f.name] = v;
    }
  j["listeners"] = json::array();
  for (const auto& l : snap.listeners) {
    json lj = listener_json(l);
    if (auto dd = snap.drops_moved(l)) lj["drops_delta"] = *dd;
    j["listeners"].push_back(lj);
  }
  j["owners_looked_up"] = snap.owners == OwnerLookup::All ? "all" : snap.owners == OwnerLookup::Shown ? "shown" : "none";
  j["syn_sent"] = snap.syn_sent;
  j["findings"] = json::array();
  for (const auto& x : d.findings)
    j["findings"].push_back({{"id", x.id}, {"severity", to_string(x.severity)}, {"title", x.title},
                             {"listener", x.listener}, {"process", x.process}, {"evidence", x.evidence},
                             {"explanation", x.explanation}, {"fix", x.fix}});
  j["unreadable"] = snap.unreadable;
  return j;
}

}  // namespace synscope::live
