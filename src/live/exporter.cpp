#include "live/exporter.h"

#include <sys/socket.h>

#include <chrono>
#include <cmath>
#include <fmt/format.h>

#include "live/findings.h"
#include "live/kernel_match.h"

namespace synscope::live {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Summary: return "summary";
    case MetricType::Histogram: return "histogram";
    default: return "untyped";
  }
}

double value_of(const ClientMetric& m, MetricType t) {
  switch (t) {
    case MetricType::Counter: return m.counter.value;
    case MetricType::Gauge: return m.gauge.value;
    default: return m.untyped.value;
  }
}

// Text format 0.0.4: HELP escapes \ and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  if (text.find_first_of(quote ? std::string_view("\\\n\"") : std::string_view("\\\n")) == std::string_view::npos) {
    out += text;  // the common case: nothing to escape
    return;
  }
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
}

void append_value(std::string& out, double v) {
  if (std::isnan(v)) out += "NaN";
  else if (std::isinf(v)) out += v > 0 ? "+Inf" : "-Inf";
  else if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) fmt::format_to(std::back_inserter(out), "{}", static_cast<std::int64_t>(v));
  else fmt::format_to(std::back_inserter(out), "{}", v);  // shortest round-trip form
}


double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  switch (f.type) {
    case MetricType::Counter: m.counter.value = value; break;
    case MetricType::Gauge: m.gauge.value = value; break;
    default: m.untyped.value = value; break;
  }
  f.metric.push_back(std::move(m));
}

// Counters as node_exporter names them (node_netstat_TcpExt_ListenOverflows), under synscope_: the
// same names `nstat` and `netstat -s` users know. Only the listen path's (§3.8, §4), present ones.
void counter_families(const Diagnosis& d, std::vector<MetricFamily>& out) {
  for (const auto& c : d.counters) {
    if (!c.present) continue;
    auto f = family(fmt::format("synscope_netstat_{}_{}", c.group, c.name),
                    fmt::format("/proc/net/{} {}: {} (total since boot or namespace creation)",
                                c.group == "Tcp" ? "snmp" : "netstat", c.group, c.name),
                    MetricType::Counter);
    add(f, {}, static_cast<double>(c.total));
    out.push_back(std::move(f));
  }
}


// The per-listener families, in this order; both the MetricFamily form and the direct text form
// (append_listener_exposition) come from this table.
struct ListenerFamily {
  const char* name;
  const char* help;
  MetricType type;
};
constexpr ListenerFamily kListenerFamilies[] = {
    {"synscope_listener_accept_queue",
     "Connections waiting in the listener's accept queue (Recv-Q, sk_ack_backlog, A; full when A > B, §6.1, §13)",
     MetricType::Gauge},
    {"synscope_listener_backlog",
     "The listener's accept-queue limit (Send-Q, sk_max_ack_backlog, B = min(backlog, somaxconn), §6.1)", MetricType::Gauge},
    {"synscope_listener_syn_recv", "Request socks (SYN_RECV) on the listener: the SYN queue's length (§5, §13)",
     MetricType::Gauge},
    {"synscope_listener_drops_total",
     "Packets the listener dropped (sk_drops: SYNs and final ACKs refused by the listen path, §13, §17)", MetricType::Counter},
    {"synscope_listener_owner_info",
     "A process holding the listening socket (refreshed in the background, not at every scrape)", MetricType::Gauge},
};
enum ListenerFamilyIndex { kAccept, kBacklog, kSynRecv, kDrops, kOwner };

}  // namespace

std::vector<MetricFamily> listener_metric_families(const HostSnapshot& snap) {
  std::vector<MetricFamily> out;
  for (const auto& f : kListenerFamilies) {
    out.push_back(family(f.name, f.help, f.type));
    out.back().metric.reserve(snap.listeners.size());
  }
  for (const auto& l : snap.listeners) {
    std::vector<ClientMetric::Label> labels = {{"address", l.address}, {"port", std::to_string(l.port)}};
    add(out[kAccept], labels, l.accept_queue);
    add(out[kBacklog], labels, l.backlog);
    add(out[kSynRecv], labels, l.syn_recv);
    if (l.drops) add(out[kDrops], labels, *l.drops);
    for (const auto& o : l.owners) {
      auto ol = labels;
      ol.push_back({"pid", std::to_string(o.pid)});
      ol.push_back({"comm", o.comm});
      add(out[kOwner], std::move(ol), 1);
    }
  }
  return out;
}

// The same text as append_exposition(listener_metric_families(snap)), written straight from the
// listeners: at 10,000 listeners building 50,000 ClientMetric objects (and freeing them) was a
// third of a scrape's CPU. tests/live/exporter_test.cpp checks that the two are identical.
void append_listener_exposition(std::string& out, const HostSnapshot& snap) {
  auto series = [&](const char* name, const Listener& l) {
    out += name;
    out += "{address=\"";
    append_escaped(out, l.address, true);
    fmt::format_to(std::back_inserter(out), "\",port=\"{}\"", l.port);
  };
  for (int i = kAccept; i <= kOwner; ++i) {
    const auto& f = kListenerFamilies[i];
    fmt::format_to(std::back_inserter(out), "# HELP {} ", f.name);
    append_escaped(out, f.help, false);
    fmt::format_to(std::back_inserter(out), "\n# TYPE {} {}\n", f.name, type_name(f.type));
    for (const auto& l : snap.listeners) {
      switch (i) {
        case kAccept: series(f.name, l); fmt::format_to(std::back_inserter(out), "}} {}\n", l.accept_queue); break;
        case kBacklog: series(f.name, l); fmt::format_to(std::back_inserter(out), "}} {}\n", l.backlog); break;
        case kSynRecv: series(f.name, l); fmt::format_to(std::back_inserter(out), "}} {}\n", l.syn_recv); break;
        case kDrops:
          if (l.drops) {
            series(f.name, l);
            fmt::format_to(std::back_inserter(out), "}} {}\n", *l.drops);
          }
          break;
        case kOwner:
          for (const auto& o : l.owners) {
            series(f.name, l);
            fmt::format_to(std::back_inserter(out), ",pid=\"{}\",comm=\"", o.pid);
            append_escaped(out, o.comm, true);
            out += "\"} 1\n";
          }
          break;
      }
    }
  }
}

namespace {

void host_families(const HostSnapshot& snap, const Diagnosis& d, std::vector<MetricFamily>& out) {
  auto kernel = family("synscope_kernel_info", "The running kernel and the model profile synscope maps it to",
                       MetricType::Gauge);
  add(kernel, {{"release", d.kernel.release}, {"profile", std::string(d.kernel.profile->name)}, {"fit", std::string(to_string(d.kernel.fit))}},
      1);
  out.push_back(std::move(kernel));

  auto sysctl = family("synscope_sysctl", "Listen-path sysctls as this namespace reads them (§12); absent ones are left out",
                       MetricType::Gauge);
  for (const auto& s : snap.sysctls)
    if (s.value) add(sysctl, {{"name", s.name}}, static_cast<double>(*s.value));
  out.push_back(std::move(sysctl));

  auto listeners = family("synscope_listeners", "TCP listeners (IPv4 and IPv6) seen through sock_diag", MetricType::Gauge);
  add(listeners, {}, static_cast<double>(snap.listeners.size()));
  out.push_back(std::move(listeners));
  auto syn_sent = family("synscope_syn_sent", "This namespace's own connect()s waiting for a SYN-ACK (SYN_SENT, §9)",
                         MetricType::Gauge);
  add(syn_sent, {}, snap.syn_sent);
  out.push_back(std::move(syn_sent));

  // One series per (finding, severity, listener); the value counts findings that share them.
  std::map<std::tuple<std::string, std::string, std::string>, int> active;
  for (const auto& x : d.findings) ++active[{x.id, std::string(to_string(x.severity)), x.listener}];
  auto findings = family("synscope_finding",
                         "The doctor's findings for this scrape (compared with the previous one): 1 per active finding; "
                         "`synscope doctor` explains each",
                         MetricType::Gauge);
  for (const auto& [key, n] : active) {
    const auto& [id, severity, listener] = key;
    add(findings, {{"id", id}, {"severity", severity}, {"listener", listener}}, n);
  }
  out.push_back(std::move(findings));

  auto window = family("synscope_findings_window_seconds",
                       "Seconds between the two samples the findings compared (0: first scrape, totals only)",
                       MetricType::Gauge);
  add(window, {}, d.window_s);
  out.push_back(std::move(window));
}

}  // namespace

ListenPathCollector::ListenPathCollector(ExporterOptions options) : options_(std::move(options)) {}

ListenPathCollector::~ListenPathCollector() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (owner_thread_.joinable()) owner_thread_.join();
}

void ListenPathCollector::add_extra(ExtraMetrics extra) { extras_.push_back(std::move(extra)); }

void ListenPathCollector::start_owner_refresh() {
  owner_thread_ = std::thread([this] {
    for (;;) {
      try {
        refresh_owners();
      } catch (const std::exception&) {
        // Owners are a nicety: a failed refresh leaves the previous ones; the scrape reports the rest.
      }
      std::unique_lock lock(wake_mutex_);
      if (wake_.wait_for(lock, std::chrono::duration<double>(options_.owner_refresh_s), [this] { return stopping_.load(); }))
        return;
    }
  });
}

void ListenPathCollector::refresh_owners() {
  std::vector<Listener> listeners;
  run_in_netns(options_.netns, [&] { listeners = dump_tcp_sockets().listeners; });
  find_owners(listeners);
  std::map<std::uint64_t, std::vector<ListenerOwner>> fresh;
  for (auto& l : listeners)
    if (!l.owners.empty()) fresh[l.inode] = std::move(l.owners);
  std::lock_guard lock(mutex_);
  owners_ = std::move(fresh);
}

HostSnapshot ListenPathCollector::scrape_snapshot() const {
  HostSnapshot now = take_snapshot({options_.netns, 0, OwnerLookup::None});
  std::lock_guard lock(mutex_);
  HostSnapshot snap = now;
  if (baseline_) {
    snap.samples.insert(snap.samples.begin(), baseline_->sample);
    snap.listeners_first = baseline_->listeners;
    snap.interval_s = snap.elapsed();
  }
  if (!baseline_ || now.samples.back().at_seconds - baseline_->sample.at_seconds >= options_.min_window_s)
    baseline_ = Baseline{now.samples.back(), std::move(now.listeners)};
  for (auto& l : snap.listeners)
    if (auto it = owners_.find(l.inode); it != owners_.end()) l.owners = it->second;
  return snap;
}

bool ListenPathCollector::read_host(HostSnapshot& snap, Diagnosis& d, std::vector<MetricFamily>& out) const {
  try {
    snap = scrape_snapshot();
  } catch (const std::exception& e) {
    // The scrape still answers: Prometheus sees synscope_scrape_error and keeps the target up.
    auto err = family("synscope_scrape_error", "1 when this scrape could not read the host; the reason is the label",
                      MetricType::Gauge);
    add(err, {{"reason", e.what()}}, 1);
    out.push_back(std::move(err));
    return false;
  }
  d = diagnose(snap);
  host_families(snap, d, out);
  counter_families(d, out);
  auto unreadable = family("synscope_unreadable", "1 per thing this scrape could not read (the doctor's \"Could not read\")",
                           MetricType::Gauge);
  for (const auto& u : snap.unreadable) add(unreadable, {{"what", u}}, 1);
  out.push_back(std::move(unreadable));
  for (const auto& extra : extras_)
    for (auto& f : extra()) out.push_back(std::move(f));
  return true;
}

namespace {
MetricFamily duration_since(std::chrono::steady_clock::time_point t0) {
  auto took = family("synscope_scrape_duration_seconds",
                     "Seconds this scrape took to read the host and build its metrics", MetricType::Gauge);
  add(took, {}, seconds_since(t0));
  return took;
}
}  // namespace

std::vector<MetricFamily> ListenPathCollector::Collect() const {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<MetricFamily> out;
  HostSnapshot snap;
  Diagnosis d;
  if (!read_host(snap, d, out)) return out;
  for (auto& f : listener_metric_families(snap)) out.push_back(std::move(f));
  out.push_back(duration_since(t0));
  return out;
}

void ListenPathCollector::write_exposition(std::string& out) const {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<MetricFamily> host;
  HostSnapshot snap;
  Diagnosis d;
  const bool ok = read_host(snap, d, host);
  append_exposition(out, host);
  if (!ok) return;
  append_listener_exposition(out, snap);
  append_exposition(out, {duration_since(t0)});
}

void append_exposition(std::string& out, const std::vector<MetricFamily>& families) {
  for (const auto& f : families) {
    if (f.type == MetricType::Summary || f.type == MetricType::Histogram)
      throw std::logic_error("append_exposition: summaries and histograms are not used by synscope");
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    for (const auto& m : f.metric) {
      out += f.name;
      if (!m.label.empty()) {
        out += '{';
        for (std::size_t i = 0; i < m.label.size(); ++i) {
          if (i) out += ',';
          out += m.label[i].name;
          out += "=\"";
          append_escaped(out, m.label[i].value, true);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      append_value(out, value_of(m, f.type));
      out += '\n';
    }
  }
}

std::string render_exposition(const std::vector<MetricFamily>& families) {
  std::string out;
  append_exposition(out, families);
  return out;
}

}  // namespace synscope::live
