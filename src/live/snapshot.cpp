#include "live/snapshot.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "live/kernel_match.h"
#include "model/sysctls.h"

namespace synscope::live {
namespace {

struct FileRead {
  bool ok = false;
  std::string text;
  int error = 0;
};

FileRead read_whole(const std::string& path) {
  FileRead r;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = errno;
      close(fd);
      return r;
    }
    if (n == 0) break;
    r.text.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  r.ok = true;
  return r;
}

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// §12: which of these are per network namespace depends on the kernel; inside a netns the values
// read here are that namespace's where the kernel scopes them so, the init namespace's otherwise.
std::vector<SysctlValue> read_sysctls() {
  std::vector<SysctlValue> out;
  for (const auto& info : model::known_sysctls()) {
    SysctlValue v;
    v.name = std::string(info.full_name);
    std::string path = "/proc/sys/" + v.name;
    for (auto& c : path)
      if (c == '.') c = '/';
    auto r = read_whole(path);
    if (!r.ok) {
      v.note = r.error == ENOENT ? "absent" : fmt::format("unreadable: {}", std::strerror(r.error));
    } else {
      try {
        v.value = std::stoll(r.text);
      } catch (const std::exception&) {
        v.note = "unparsable: " + r.text.substr(0, 20);
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

CounterSample read_counters() {
  // /proc/thread-self/net, not /proc/self/net (= the thread-group leader's namespace).
  auto netstat = read_whole("/proc/thread-self/net/netstat");
  auto snmp = read_whole("/proc/thread-self/net/snmp");
  if (!netstat.ok || !snmp.ok)
    throw std::runtime_error(fmt::format("cannot read /proc/net/{}: {}", netstat.ok ? "snmp" : "netstat",
                                         std::strerror(netstat.ok ? snmp.error : netstat.error)));
  return parse_counter_sample(std::move(netstat.text), std::move(snmp.text), monotonic_seconds());
}

std::string utc_now() {
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(std::time(nullptr)));
}

std::string host_name() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

std::optional<std::int64_t> HostSnapshot::sysctl(std::string_view name) const {
  for (const auto& s : sysctls) {
    std::string_view full = s.name;
    if (full == name || (full.size() > name.size() && full.ends_with(name) && full[full.size() - name.size() - 1] == '.'))
      return s.value;
  }
  return std::nullopt;
}

double HostSnapshot::elapsed() const {
  return samples.size() < 2 ? 0.0 : samples.back().at_seconds - samples.front().at_seconds;
}

const Listener* HostSnapshot::at_first_sample(const Listener& l) const {
  if (listeners_first.empty()) return nullptr;
  if (first_by_inode_.empty())
    for (std::size_t i = 0; i < listeners_first.size(); ++i) first_by_inode_.emplace(listeners_first[i].inode, i);
  auto it = first_by_inode_.find(l.inode);
  if (it == first_by_inode_.end()) return nullptr;
  const auto& e = listeners_first[it->second];
  return e.port == l.port && e.address == l.address && e.family == l.family ? &e : nullptr;
}

std::optional<std::int64_t> HostSnapshot::drops_moved(const Listener& l) const {
  const auto* e = at_first_sample(l);
  if (!e || !e->drops || !l.drops) return std::nullopt;
  return static_cast<std::int64_t>(*l.drops) - static_cast<std::int64_t>(*e->drops);
}

bool HostSnapshot::notable(const Listener& l) const {
  if (l.accept_queue > 0 || l.syn_recv > 0) return true;
  if (samples.size() < 2) return l.drops.value_or(0) > 0;
  return drops_moved(l).value_or(0) > 0;
}

void run_in_netns(const std::string& name, const std::function<void()>& fn) {
  if (name.empty()) {
    fn();
    return;
  }
  if (name.find('/') != std::string::npos || name == "." || name == "..")
    throw UsageError(fmt::format("--netns {}: a name under /run/netns, not a path", name));
  const std::string path = "/run/netns/" + name;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw UsageError(fmt::format("--netns {}: cannot open {}: {}", name, path, std::strerror(errno)));
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      if (setns(fd, CLONE_NEWNET) != 0)
        throw UsageError(fmt::format("--netns {}: setns: {}{}", name, std::strerror(errno),
                                     errno == EPERM ? " (needs CAP_SYS_ADMIN: run as root)" : ""));
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  close(fd);
  if (failure) std::rethrow_exception(failure);
}

HostSnapshot take_snapshot(const SnapshotOptions& options) {
  HostSnapshot snap;
  snap.origin = "live";
  snap.hostname = host_name();
  snap.netns = options.netns;
  snap.collected_at = utc_now();
  snap.release = running_release();
  snap.interval_s = options.interval_s;
  run_in_netns(options.netns, [&] {
    snap.sysctls = read_sysctls();
    for (const auto& s : snap.sysctls)
      if (s.note.starts_with("unreadable")) snap.unreadable.push_back(fmt::format("sysctl {} ({})", s.name, s.note));
    snap.samples.push_back(read_counters());
    // Without the socket dump the counters and sysctls still say a lot: note it and go on.
    auto dump_or_note = [&snap] {
      try {
        return dump_tcp_sockets();
      } catch (const std::runtime_error& e) {
        snap.unreadable.push_back(fmt::format("the listeners ({})", e.what()));
        return SocketDump{};
      }
    };
    auto first = dump_or_note();
    if (options.interval_s > 0) {
      snap.listeners_first = std::move(first.listeners);
      std::this_thread::sleep_for(std::chrono::duration<double>(options.interval_s));
      snap.samples.push_back(read_counters());
      auto last = dump_or_note();
      snap.listeners = std::move(last.listeners);
      snap.syn_sent = last.syn_sent;
    } else {
      snap.listeners = std::move(first.listeners);
      snap.syn_sent = first.syn_sent;
    }
  });
  // /proc/PID/fd is namespace-independent (same PID namespace): scan from the main thread.
  snap.owners = options.owners;
  std::vector<Listener*> wanted;
  for (auto& l : snap.listeners)
    if (snap.owners_looked_up(l)) wanted.push_back(&l);
  auto owners = find_owners(wanted);
  if (owners.unreadable > 0) {
    int unknown = 0;
    for (const auto* l : wanted) unknown += l->owners.empty() ? 1 : 0;
    snap.unreadable.push_back(fmt::format(
        "the fd tables of {} of {} processes (other users' processes; run as root to see them): "
        "{} listener(s) without a known owner",
        owners.unreadable, owners.processes, unknown));
  }
  return snap;
}

}  // namespace synscope::live
