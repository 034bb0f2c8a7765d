#pragma once
// Everything the doctor reads from one host (or one network namespace), whether just now or from a
// support bundle: kernel release, sysctls, two counter samples, listeners, and what could not be read.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "live/proc_counters.h"
#include "live/sock_diag.h"

namespace synscope::live {

struct SysctlValue {
  std::string name;                   // "net.ipv4.tcp_syncookies"
  std::optional<std::int64_t> value;  // nullopt: absent on this kernel or unreadable (see note)
  std::string note;                   // "absent", "unreadable: Permission denied"
};

// Whose owning processes a snapshot looks up. find_owners() reads every fd of every process, so at
// 10,000 sockets it costs more than the rest of the doctor; by default only the listeners a report
// shows are looked up.
enum class OwnerLookup { None, Shown, All };

// A host with at most this many listeners has all of them shown (and their owners looked up);
// above it, reports show the notable ones (HostSnapshot::notable) and count the rest.
inline constexpr std::size_t kShowAllListenersUpTo = 64;

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
  OwnerLookup owners = OwnerLookup::None;  // which listeners' owners were looked up

  std::optional<std::int64_t> sysctl(std::string_view short_or_full_name) const;
  // Seconds between the two samples, 0 with one sample.
  double elapsed() const;
  // The same socket at the first sample (matched by inode and endpoint), or nullptr.
  const Listener* at_first_sample(const Listener& l) const;
  // sk_drops growth between the samples; nullopt with one sample or when not reported.
  std::optional<std::int64_t> drops_moved(const Listener& l) const;
  // Something to say about this listener: a non-empty accept queue, SYN_RECV requests, or drops
  // (moving between the samples; with one sample, any since the socket was created).
  bool notable(const Listener& l) const;
  // Whether reports show it (and its owners were looked up under OwnerLookup::Shown).
  bool shown(const Listener& l) const { return listeners.size() <= kShowAllListenersUpTo || notable(l); }
  bool owners_looked_up(const Listener& l) const {
    return owners == OwnerLookup::All || (owners == OwnerLookup::Shown && shown(l));
  }

 private:
  mutable std::unordered_map<std::uint64_t, std::size_t> first_by_inode_;  // built on first use
};

struct SnapshotOptions {
  std::string netns;     // /run/netns/NAME, or "" for our own
  double interval_s = 5;  // 0: one sample
  OwnerLookup owners = OwnerLookup::Shown;
};

// Reads the live kernel. Throws UsageError when the namespace cannot be entered.
HostSnapshot take_snapshot(const SnapshotOptions& options);

// Runs `fn` on a thread that has joined /run/netns/NAME (setns affects only the calling thread, so
// /proc/thread-self/net, /proc/sys/net and new netlink sockets then belong to that namespace, §12).
void run_in_netns(const std::string& name, const std::function<void()>& fn);

}  // namespace synscope::live
