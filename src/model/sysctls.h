#pragma once
// The sysctls that shape the listen path, with each profile's defaults. Setting a sysctl that the
// profile's kernel does not have is an error that says why (e.g. tcp_tw_recycle on 4.12+).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "model/kernel_profile.h"

namespace synscope::model {

struct Sysctls {
  int tcp_tw_recycle = 0;           // §7 (≤ 4.11)
  int tcp_timestamps = 1;           // §8, §7.7
  int tcp_syncookies = 1;           // §10: 0 never, 1 when the SYN queue is full, 2 always
  int tcp_max_syn_backlog = 1024;   // §6.2 (3.10/EL7 cap), §3.1 step 7b (unproven peer clause)
  int somaxconn = 4096;             // net.core.somaxconn, §6.1
  int tcp_abort_on_overflow = 0;    // §5.2
  int tcp_syn_retries = 6;          // §9
  int tcp_synack_retries = 5;       // §5.3
  int tcp_syn_linear_timeouts = 0;  // §9 (6.5+, default 4)
  int tcp_tw_reuse = 0;             // §7.6

  static Sysctls defaults_for(const KernelProfile& profile);

  // Accepts "tcp_tw_recycle", "net.ipv4.tcp_tw_recycle", "somaxconn", "net.core.somaxconn".
  // Throws UsageError for unknown names, names the profile lacks, and values out of range.
  void set(const KernelProfile& profile, std::string_view name, std::int64_t value);
  // Parses "name=value" and calls set().
  void set_assignment(const KernelProfile& profile, std::string_view assignment);
  std::int64_t get(std::string_view name) const;
};

struct SysctlInfo {
  std::string_view name;          // short name: "tcp_tw_recycle"
  std::string_view full_name;     // "net.ipv4.tcp_tw_recycle"
  std::string_view section;       // fact sheet section
  std::string_view meaning;
};
std::span<const SysctlInfo> known_sysctls();
// Why the profile lacks this sysctl ("removed in 4.12"), or nullopt when it has it.
std::optional<std::string> sysctl_unavailable_reason(const KernelProfile& profile, std::string_view name);

}  // namespace synscope::model
