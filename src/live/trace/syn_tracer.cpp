#include "live/trace/syn_tracer.h"

#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "fentry_probe.skel.h"
#include "live/kernel_match.h"
#include "live/snapshot.h"
#include "syn_trace.skel.h"

namespace synscope::live::trace {
namespace {

// Our tc filters: one handle and priority, so that they are ours to remove and nobody else's.
constexpr std::uint32_t kTcHandle = 0x5359;   // "SY"
constexpr std::uint32_t kTcPriority = 0x5359;

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// libbpf's own messages: kept (the last few lines explain a failed load) and printed only when
// SYNSCOPE_TRACE_DEBUG is set.
std::mutex g_log_mutex;
std::string g_libbpf_log;
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, format, args);
  if (std::getenv("SYNSCOPE_TRACE_DEBUG")) std::fputs(buf, stderr);
  if (level == LIBBPF_DEBUG) return 0;
  std::lock_guard<std::mutex> lock(g_log_mutex);
  g_libbpf_log += buf;
  if (g_libbpf_log.size() > 8192) g_libbpf_log.erase(0, g_libbpf_log.size() - 8192);
  return 0;
}
void install_libbpf_print() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpf_print); });
}

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// A file in the traced namespace, opened once from inside it (a /proc/sys/net or /proc/net file
// keeps the namespace it was opened in), re-read from the start at each sample.
class NsFile {
 public:
  NsFile() = default;
  explicit NsFile(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~NsFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  NsFile(NsFile&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  NsFile& operator=(NsFile&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  bool ok() const { return fd_ >= 0; }
  std::string read() const {
    std::string out;
    if (fd_ < 0 || ::lseek(fd_, 0, SEEK_SET) < 0) return out;
    char buf[16384];
    ssize_t n;
    while ((n = ::read(fd_, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }

 private:
  int fd_ = -1;
};

// One interface's hooks: tcx links (fds; closing them detaches, and the kernel closes them if
// we die), or, on kernels before 6.6, clsact filters that stop() must remove.
struct Attachment {
  std::string iface;
  int ifindex = 0;
  std::array<int, 2> tcx_links{-1, -1};  // ingress, egress
  bool ingress_only = false;             // a loopback device: syn_ingress_lo alone
  bool created_qdisc = false;
  bool ingress = false, egress = false;  // clsact filters added
};

// tcx (kernel 6.6+): BPF links on the device's ingress/egress hooks. Debian 12's uapi headers
// and libbpf 1.1 predate them, so the attach types are spelled out (include/uapi/linux/bpf.h).
constexpr int kTcxIngress = 46;
constexpr int kTcxEgress = 47;

// Closing a tcx link's fd detaches its program.
void close_tcx_links(Attachment& a) {
  for (int& l : a.tcx_links)
    if (l >= 0) ::close(std::exchange(l, -1));
}

// Attach the programs as tcx links (no egress program when `egress_fd` < 0): 0, or the negative
// errno (nothing left attached) when the kernel has no tcx. tcx runs the programs without the
// cls_bpf/tcf_classify layers around them: a measurable part of the per-packet cost on a SYN load
// (bench/trace_overhead.sh).
int attach_tcx(Attachment& a, int ingress_fd, int egress_fd) {
  const std::array<std::pair<int, int>, 2> hooks{{{ingress_fd, kTcxIngress}, {egress_fd, kTcxEgress}}};
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    if (hooks[i].first < 0) continue;
    int fd = bpf_link_create(hooks[i].first, a.ifindex, static_cast<bpf_attach_type>(hooks[i].second), nullptr);
    if (fd < 0) {
      close_tcx_links(a);
      return fd;
    }
    a.tcx_links[i] = fd;
  }
  return 0;
}

// HookProbe::tc_hook: "tcx", "clsact", or "tcx+clsact" when an interface refused a tcx link that
// others took.
std::string hooks_in_use(const std::vector<Attachment>& attachments) {
  const auto on_tcx = [](const Attachment& a) { return a.tcx_links[0] >= 0; };
  const bool tcx = std::any_of(attachments.begin(), attachments.end(), on_tcx);
  const bool clsact = !std::all_of(attachments.begin(), attachments.end(), on_tcx);
  return tcx && clsact ? "tcx+clsact" : tcx ? "tcx" : clsact ? "clsact" : "";
}

// IFF_LOOPBACK on `name`, asked through a socket of the calling thread's namespace.
bool is_loopback(const std::string& name) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  const bool lo = ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_LOOPBACK) != 0;
  ::close(fd);
  return lo;
}

std::uint32_t netns_inode(const std::string& netns) {
  struct stat st{};
  const std::string path = netns.empty() ? "/proc/self/ns/net" : "/run/netns/" + netns;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::uint32_t>(st.st_ino);
}

}  // namespace

struct SynTracer::Impl {
  const model::KernelProfile* profile = nullptr;
  std::unique_ptr<Correlator> correlator;
  syn_trace* skel = nullptr;
  ring_buffer* rb = nullptr;
  bpf_link* retrans_link = nullptr;
  std::vector<Attachment> attachments;
  bool started = false, stopped = false;

  // The namespace's files.
  NsFile snmp, netstat;
  std::map<std::string, NsFile> sysctl_files;
  std::int64_t sysctls_read_ns = 0;
  model::CounterSet counters_at_start;
  // Taken by stop(), which then closes the namespace's files: an open /proc file would keep a
  // deleted namespace (and its interfaces) alive.
  std::optional<model::CounterSet> counters_at_stop;
  std::uint64_t final_lost = 0;

  // Owners of listeners, looked up through sock_diag when an unknown listener shows up.
  std::vector<Listener> listeners;
  std::map<TraceEndpoint, std::string> owner_by_listener;  // binary keys: no formatting per event
  std::int64_t owners_read_ns = 0;

  std::vector<TraceEvent> batch;  // filled by the ring-buffer callback

  static int on_record(void* ctx, void* data, std::size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    if (size < sizeof(syn_trace_event)) return 0;
    syn_trace_event r;
    std::memcpy(&r, data, sizeof r);
    self->correlator->add(r);
    return 0;
  }

  model::CounterSet read_counters() const { return counters_from_proc(snmp.read(), netstat.read()); }
  model::CounterSet counter_delta() const { return (counters_at_stop ? *counters_at_stop : read_counters()) - counters_at_start; }

  void read_sysctls(const model::KernelProfile& p) {
    model::Sysctls s = correlator->sysctls();
    for (auto& [name, file] : sysctl_files) {
      auto text = file.read();
      if (text.empty()) continue;
      try {
        s.set(p, name, std::stoll(text));
      } catch (const std::exception&) {
        // A value the model refuses (out of its range) keeps the previous one.
      }
    }
    correlator->set_sysctls(s);
  }
};

std::string bpf_unavailable_reason() {
  if (::geteuid() != 0)
    return "synscope trace needs root (CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN to load BPF programs and attach them "
           "to tc): run it with sudo, or use --fallback for counters and sock_diag sampling";
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0)
    return "synscope trace needs kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF=y) for its CO-RE "
           "programs: use a kernel built with BTF, or --fallback for counters and sock_diag sampling";
  return "";
}

std::chrono::milliseconds parse_trace_duration(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw UsageError(fmt::format("duration '{}': expected a number with s, ms or m (e.g. 5s)", text));
  }
  const std::string unit = text.substr(used);
  double ms = unit == "ms" ? v : unit == "s" || unit.empty() ? v * 1000 : unit == "m" ? v * 60000 : -1;
  if (ms < 0 || !std::isfinite(ms) || v < 0 || ms > 7 * 24 * 3600e3)
    throw UsageError(fmt::format("duration '{}': expected a non-negative number with s, ms or m (e.g. 5s)", text));
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

SynTracer::SynTracer(TraceOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

SynTracer::~SynTracer() {
  try {
    stop();
  } catch (...) {
    // Destructors do not throw; stop() already reported what it could.
  }
}

const TraceTally& SynTracer::tally() const {
  static const TraceTally empty;
  return impl_->correlator ? impl_->correlator->tally() : empty;
}

const std::vector<Listener>& SynTracer::listeners() const { return impl_->listeners; }

std::uint64_t SynTracer::lost() const {
  if (!impl_->skel) return impl_->final_lost;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return 0;
  std::vector<std::uint64_t> values(static_cast<std::size_t>(ncpu));
  std::uint32_t key = SYN_TRACE_STAT_LOST;
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.stats), &key, values.data()) != 0) return 0;
  std::uint64_t sum = 0;
  for (auto v : values) sum += v;
  return sum;
}

void SynTracer::start() {
  if (impl_->started) return;
  install_libbpf_print();
  const auto match = match_kernel_release(running_release());
  impl_->profile = match.profile ? match.profile : &model::newest_profile();
  impl_->correlator = std::make_unique<Correlator>(*impl_->profile, options_.window_ns);
  probe_.btf = ::access("/sys/kernel/btf/vmlinux", R_OK) == 0;

  if (options_.mode == Mode::Bpf) {
    if (auto why = bpf_unavailable_reason(); !why.empty()) throw TraceUnavailable(why);
    // §17: fentry is refused on this kernel and kprobes are absent; probe and say so.
    if (auto* p = fentry_probe__open_and_load()) {
      probe_.fentry = "loads (the TC path is used all the same: it also sees what leaves)";
      fentry_probe__destroy(p);
    } else {
      probe_.fentry = fmt::format("refused: {}", errno_text(errno));
    }
    probe_.kprobe = ::access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0
                        ? "available"
                        : "absent (no kprobe event source: kernel without CONFIG_KPROBE_EVENTS)";
    probe_.path = "tc+raw_tracepoint";
  } else {
    probe_.path = "sampling";
  }

  // Everything that belongs to the namespace is opened from inside it.
  std::string attach_error;
  run_in_netns(options_.netns, [&] {
    impl_->snmp = NsFile("/proc/thread-self/net/snmp");
    impl_->netstat = NsFile("/proc/thread-self/net/netstat");
    for (const char* name : {"tcp_syncookies", "tcp_max_syn_backlog", "tcp_abort_on_overflow", "tcp_timestamps",
                             "tcp_synack_retries"})
      impl_->sysctl_files.emplace(name, NsFile(std::string("/proc/sys/net/ipv4/") + name));
    impl_->sysctl_files.emplace("somaxconn", NsFile("/proc/sys/net/core/somaxconn"));
    if (options_.mode != Mode::Bpf) return;

    std::vector<std::pair<std::string, int>> ifaces;
    if (!options_.iface.empty()) {
      unsigned idx = if_nametoindex(options_.iface.c_str());
      if (idx == 0) {
        attach_error = fmt::format("--iface {}: no such interface in {}", options_.iface,
                                   options_.netns.empty() ? "this namespace" : "namespace " + options_.netns);
        return;
      }
      ifaces.emplace_back(options_.iface, static_cast<int>(idx));
    } else if (auto* list = if_nameindex()) {
      for (auto* i = list; i->if_index != 0; ++i) ifaces.emplace_back(i->if_name, static_cast<int>(i->if_index));
      if_freenameindex(list);
    }
    impl_->skel = syn_trace__open();
    if (!impl_->skel) {
      attach_error = fmt::format("cannot open the BPF object: {}", errno_text(errno));
      return;
    }
    if (int err = syn_trace__load(impl_->skel); err != 0) {
      std::lock_guard<std::mutex> lock(g_log_mutex);
      attach_error = fmt::format("the kernel refused the TC programs ({}); SYNSCOPE_TRACE_DEBUG=1 shows the verifier log; "
                                 "--fallback samples counters instead",
                                 errno_text(err));
      return;
    }
    for (const auto& [name, index] : ifaces) {
      Attachment a{name, index};
      // A loopback device hands every packet from its egress straight to its ingress: one program
      // there sees SYNs, ACKs and this host's answers alike, at half the hook runs (docs/trace.md).
      a.ingress_only = !options_.loopback_egress && is_loopback(name);
      bpf_program* const ingress_prog = a.ingress_only ? impl_->skel->progs.syn_ingress_lo : impl_->skel->progs.syn_ingress;
      auto attached = [&](const Attachment& done) {
        probe_.interfaces.push_back(done.iface);
        if (done.ingress_only) probe_.ingress_only.push_back(done.iface);
      };
      if (options_.tc_hook != TcHook::Clsact) {
        const int err = attach_tcx(a, bpf_program__fd(ingress_prog),
                                   a.ingress_only ? -1 : bpf_program__fd(impl_->skel->progs.syn_egress));
        if (err == 0) {
          impl_->attachments.push_back(a);
          attached(a);
          continue;
        }
        if (options_.tc_hook == TcHook::Tcx) {
          attach_error = fmt::format("--tc-hook tcx: cannot attach a tcx link to {}: {} (tcx needs kernel 6.6+; "
                                     "--tc-hook clsact uses a clsact qdisc)",
                                     name, errno_text(err));
          break;
        }
      }
      bpf_tc_hook hook{};
      hook.sz = sizeof hook;
      hook.ifindex = index;
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      int err = bpf_tc_hook_create(&hook);
      if (err != 0 && err != -EEXIST) {
        attach_error = fmt::format("cannot add a clsact qdisc to {}: {}", name, errno_text(err));
        break;
      }
      a.created_qdisc = err == 0;
      impl_->attachments.push_back(a);
      auto& added = impl_->attachments.back();
      for (auto [point, prog, flag] : {std::tuple{BPF_TC_INGRESS, ingress_prog, &added.ingress},
                                       std::tuple{BPF_TC_EGRESS, impl_->skel->progs.syn_egress, &added.egress}}) {
        if (point == BPF_TC_EGRESS && added.ingress_only) continue;
        hook.attach_point = point;
        bpf_tc_opts opts{};
        opts.sz = sizeof opts;
        opts.handle = kTcHandle;
        opts.priority = kTcPriority;
        opts.prog_fd = bpf_program__fd(prog);
        if (int e = bpf_tc_attach(&hook, &opts); e != 0) {
          attach_error = fmt::format("cannot attach the TC program to {} {}: {}", name,
                                     point == BPF_TC_INGRESS ? "ingress" : "egress", errno_text(e));
          break;
        }
        *flag = true;
      }
      if (!attach_error.empty()) break;
      attached(added);
    }
    probe_.tc_hook = hooks_in_use(impl_->attachments);
  });
  impl_->started = true;
  if (!attach_error.empty()) {
    stop();
    throw TraceUnavailable(attach_error);
  }

  impl_->counters_at_start = impl_->read_counters();
  impl_->read_sysctls(*impl_->profile);
  if (options_.mode != Mode::Bpf) {
    run_in_netns(options_.netns, [&] { impl_->listeners = dump_tcp_sockets().listeners; });
    return;
  }

  syn_trace_config cfg{};
  cfg.port = options_.port;
  cfg.netns_ino = netns_inode(options_.netns);
  std::uint32_t zero = 0;
  if (bpf_map__update_elem(impl_->skel->maps.trace_config, &zero, sizeof zero, &cfg, sizeof cfg, BPF_ANY) != 0) {
    stop();
    throw TraceUnavailable(fmt::format("cannot configure the BPF programs: {}", errno_text(errno)));
  }
  impl_->retrans_link = bpf_program__attach_raw_tracepoint(impl_->skel->progs.synack_retrans, "tcp_retransmit_synack");
  if (!impl_->retrans_link) {
    int err = errno;
    stop();
    throw TraceUnavailable(fmt::format("cannot attach to the tracepoint tcp:tcp_retransmit_synack: {}", errno_text(err)));
  }
  impl_->rb = ring_buffer__new(bpf_map__fd(impl_->skel->maps.events), &Impl::on_record, impl_.get(), nullptr);
  if (!impl_->rb) {
    int err = errno;
    stop();
    throw TraceUnavailable(fmt::format("cannot open the BPF ring buffer: {}", errno_text(err)));
  }
}

namespace {

// A sock_diag listener as the tracer's endpoint; a wildcard listener keeps its bound address (0.0.0.0).
TraceEndpoint endpoint_of(const Listener& l) {
  TraceEndpoint ep;
  ep.addr.family = l.family == AF_INET6 ? 6 : 4;
  inet_pton(l.family, l.address.c_str(), ep.addr.bytes.data());
  ep.port = l.port;
  return ep;
}

void attach_owners(std::vector<TraceEvent>& events, SynTracer::Impl& impl, const std::string& netns) {
  bool missing = false;
  for (const auto& e : events)
    if (e.listener && !impl.owner_by_listener.count(*e.listener)) missing = true;
  const auto now = monotonic_ns();
  if (missing && now - impl.owners_read_ns > 1'000'000'000) {
    impl.owners_read_ns = now;
    try {
      run_in_netns(netns, [&] {
        auto dump = dump_tcp_sockets();
        find_owners(dump.listeners);
        impl.listeners = std::move(dump.listeners);
      });
    } catch (const std::exception&) {
      // Owners are a courtesy: events go out without them.
    }
    for (const auto& l : impl.listeners) {
      std::string who;
      for (const auto& o : l.owners) who += fmt::format("{}{} (pid {})", who.empty() ? "" : ", ", o.comm, o.pid);
      impl.owner_by_listener[endpoint_of(l)] = who;
    }
    for (const auto& e : events)
      if (e.listener) impl.owner_by_listener.emplace(*e.listener, "");  // do not look again for a second
  }
  for (auto& e : events)
    if (e.listener)
      if (auto it = impl.owner_by_listener.find(*e.listener); it != impl.owner_by_listener.end())
        e.process = it->second;
}

}  // namespace

std::vector<TraceEvent> SynTracer::poll(int timeout_ms) {
  if (!impl_->started || impl_->stopped) return {};
  const auto now = monotonic_ns();
  if (now - impl_->sysctls_read_ns > 200'000'000) {
    impl_->read_sysctls(*impl_->profile);
    impl_->sysctls_read_ns = now;
  }
  if (options_.mode != Mode::Bpf) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    try {
      run_in_netns(options_.netns, [&] {
        auto dump = dump_tcp_sockets();
        find_owners(dump.listeners);
        impl_->listeners = std::move(dump.listeners);
      });
    } catch (const std::exception&) {
      // Keep the last sample.
    }
    return {};
  }
  ring_buffer__poll(impl_->rb, timeout_ms);
  // Everything the kernel produced before `settled` is in the correlator once consume() returns,
  // so a window that ended before it has seen all of its answers.
  const auto settled = monotonic_ns();
  ring_buffer__consume(impl_->rb);
  auto out = impl_->correlator->settle(settled);
  attach_owners(out, *impl_, options_.netns);
  return out;
}

std::vector<TraceEvent> SynTracer::stop() {
  if (!impl_->started || impl_->stopped) return {};
  impl_->stopped = true;
  std::vector<TraceEvent> out;
  if (impl_->rb) {
    // Let the last segments' windows run out so that their answers (or silence) are seen.
    const auto deadline = monotonic_ns() + options_.window_ns;
    while (monotonic_ns() < deadline) ring_buffer__poll(impl_->rb, 20);
    ring_buffer__consume(impl_->rb);
    out = impl_->correlator->settle(monotonic_ns(), true);
    attach_owners(out, *impl_, options_.netns);
  }
  for (auto& a : impl_->attachments) close_tcx_links(a);
  // Remove our clsact filters (and the qdisc when we added it) from inside the namespace. A
  // namespace that is already gone took its interfaces, qdiscs and filters with it.
  if (!impl_->attachments.empty() && (options_.netns.empty() || netns_inode(options_.netns) != 0)) {
    try {
      run_in_netns(options_.netns, [&] {
        for (const auto& a : impl_->attachments) {
          bpf_tc_hook hook{};
          hook.sz = sizeof hook;
          hook.ifindex = a.ifindex;
          for (auto [point, attached] : {std::pair{BPF_TC_INGRESS, a.ingress}, std::pair{BPF_TC_EGRESS, a.egress}}) {
            if (!attached) continue;
            hook.attach_point = point;
            bpf_tc_opts opts{};
            opts.sz = sizeof opts;
            opts.handle = kTcHandle;
            opts.priority = kTcPriority;
            bpf_tc_detach(&hook, &opts);
          }
          if (a.created_qdisc) {
            hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
            bpf_tc_hook_destroy(&hook);
          }
        }
      });
    } catch (const std::exception&) {
      // The namespace vanished between the check and setns: nothing of ours is left in it.
    }
  }
  impl_->attachments.clear();
  if (impl_->snmp.ok()) impl_->counters_at_stop = impl_->read_counters();
  impl_->snmp = NsFile();
  impl_->netstat = NsFile();
  impl_->sysctl_files.clear();
  if (impl_->rb) ring_buffer__free(impl_->rb);
  impl_->rb = nullptr;
  if (impl_->retrans_link) bpf_link__destroy(impl_->retrans_link);
  impl_->retrans_link = nullptr;
  if (impl_->skel) {
    impl_->final_lost = lost();
    syn_trace__destroy(impl_->skel);
  }
  impl_->skel = nullptr;
  return out;
}

std::vector<CauseDrops> SynTracer::drops_by_cause() const {
  std::vector<CauseDrops> out;
  if (options_.mode == Mode::Bpf) {
    for (const auto& [rule, c] : tally().by_rule) {
      const auto& info = model::rule_info(rule);
      bool refusing = false;
      switch (rule) {
        case model::Rule::NoListener:
        case model::Rule::SynQueueFullDrop:
        case model::Rule::AcceptQueueFull:
        case model::Rule::PerHostPaws:
        case model::Rule::UnprovenPeer:
        case model::Rule::FinalAckQueueFull:
        case model::Rule::FinalAckAbortOnOverflow:
        case model::Rule::CookieAckInvalid: refusing = true; break;
        default: break;
      }
      if (refusing && c.predicted) out.push_back({std::string(info.id), std::string(info.section), c.predicted});
    }
  } else if (impl_->correlator) {
    // Counters say how many, not which SYN (§3.8): ListenOverflows covers SYN time and final ACK.
    const auto d = impl_->counter_delta();
    using model::Counter;
    const std::uint64_t overflows = d[Counter::ListenOverflows], qfull = d[Counter::TCPReqQFullDrop];
    const std::uint64_t drops = d[Counter::ListenDrops];
    const std::uint64_t other = drops > overflows + qfull ? drops - overflows - qfull : 0;
    if (overflows) out.push_back({"accept_queue_full", "§3.8, §5.2", overflows});
    if (qfull) out.push_back({"syn_queue_full_drop", "§3.8", qfull});
    if (other) out.push_back({"listen_drops_other", "§3.8", other});
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  return out;
}

std::vector<CounterCheck> SynTracer::counter_checks() const {
  std::vector<CounterCheck> out;
  if (!impl_->correlator || (!impl_->snmp.ok() && !impl_->counters_at_stop)) return out;
  const auto d = impl_->counter_delta();
  for (auto c : checked_counters()) {
    CounterCheck row{c, d[c], tally().predicted_counters[c]};
    if (row.kernel || row.predicted) out.push_back(row);
  }
  return out;
}

}  // namespace synscope::live::trace
