#pragma once
// Everything the doctor reads from one host (or one network namespace), whether just now or from a
// support bundle: kernel release, sysctls, two counter samples, listeners, and what could not be read.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "live/proc_counters.h"
#include "live/sock_diag.h"

namespace synscope::live {

struct SysctlValue {
  std::string name;                   // "net.ipv4.tcp_syncookies"
  std::optional<std::int64_t> value;  // nullopt: absent on this kernel or unreadable (see note)
  std::string note;                   // "absent", "unreadable: Permission denied"
};

struct HostSnapshot {
  std::string origin;        // "live" or "bundle FILE"
  std::string hostname;
  std::string netns;         // "" = the doctor's own namespace
  std::string collected_at;  // "2026-11-22 01:50:00 UTC"
  std::string release;       // uname -r
  double interval_s = 0;     // requested gap between the samples
  std::vector<SysctlValue> sysctls;
  std::vector<CounterSample> samples;     // 1 or 2, oldest first
  std::vector<Listener> listeners_first;  // listeners at the first sample (per-listener drop deltas)
  std::vector<Listener> listeners;        // listeners at the last sample, with owners
  std::uint32_t syn_sent = 0;             // connect()s in SYN_SENT at the last sample
  std::vector<std::string> unreadable;    // "process owners of 12 processes (not root)", …

  std::optional<std::int64_t> sysctl(std::string_view short_or_full_name) const;
  // Seconds between the two samples, 0 with one sample.
  double elapsed() const;
};

struct SnapshotOptions {
  std::string netns;     // /run/netns/NAME, or "" for our own
  double interval_s = 5;  // 0: one sample
};

// Reads the live kernel. Throws UsageError when the namespace cannot be entered.
HostSnapshot take_snapshot(const SnapshotOptions& options);

// Runs `fn` on a thread that has joined /run/netns/NAME (setns affects only the calling thread, so
// /proc/thread-self/net, /proc/sys/net and new netlink sockets then belong to that namespace, §12).
void run_in_netns(const std::string& name, const std::function<void()>& fn);

}  // namespace synscope::live
