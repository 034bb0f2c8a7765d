#include "model/sysctls.h"

#include <array>
#include <charconv>
#include <fmt/format.h>

#include "core/error.h"

namespace synscope::model {
namespace {

struct SysctlSlot {
  SysctlInfo info;
  int Sysctls::*field;
  std::int64_t min;
  std::int64_t max;
};

constexpr std::array kSlots = {
    SysctlSlot{{"tcp_tw_recycle", "net.ipv4.tcp_tw_recycle", "§7", "fast TIME_WAIT recycling + per-host PAWS on SYNs"},
               &Sysctls::tcp_tw_recycle, 0, 1},
    SysctlSlot{{"tcp_timestamps", "net.ipv4.tcp_timestamps", "§8", "send/accept TCP timestamps (2: without offsets)"},
               &Sysctls::tcp_timestamps, 0, 2},
    SysctlSlot{{"tcp_syncookies", "net.ipv4.tcp_syncookies", "§10", "0 never, 1 when the SYN queue is full, 2 always"},
               &Sysctls::tcp_syncookies, 0, 2},
    SysctlSlot{{"tcp_max_syn_backlog", "net.ipv4.tcp_max_syn_backlog", "§6.2, §6.4", "SYN-queue cap input (3.10/EL7) and unproven-peer threshold"},
               &Sysctls::tcp_max_syn_backlog, 0, 1 << 30},
    SysctlSlot{{"somaxconn", "net.core.somaxconn", "§6.1", "upper bound on listen() backlog"},
               &Sysctls::somaxconn, 0, 65535 * 32},
    SysctlSlot{{"tcp_abort_on_overflow", "net.ipv4.tcp_abort_on_overflow", "§5.2", "RST instead of ignoring the final ACK when the accept queue is full"},
               &Sysctls::tcp_abort_on_overflow, 0, 1},
    SysctlSlot{{"tcp_syn_retries", "net.ipv4.tcp_syn_retries", "§9", "client SYN retransmissions before ETIMEDOUT"},
               &Sysctls::tcp_syn_retries, 1, 127},
    SysctlSlot{{"tcp_synack_retries", "net.ipv4.tcp_synack_retries", "§5.3", "SYN-ACK retransmissions before a request is dropped"},
               &Sysctls::tcp_synack_retries, 0, 255},
    SysctlSlot{{"tcp_syn_linear_timeouts", "net.ipv4.tcp_syn_linear_timeouts", "§9", "SYN RTOs that stay at 1 s (6.5+)"},
               &Sysctls::tcp_syn_linear_timeouts, 0, 255},
    SysctlSlot{{"tcp_tw_reuse", "net.ipv4.tcp_tw_reuse", "§7.6", "connect() may reuse TIME_WAIT 4-tuples (outgoing only)"},
               &Sysctls::tcp_tw_reuse, 0, 2},
};

std::string_view short_name(std::string_view name) {
  for (std::string_view prefix : {"net.ipv4.", "net.core."})
    if (name.substr(0, prefix.size()) == prefix) return name.substr(prefix.size());
  return name;
}

const SysctlSlot& find_slot(std::string_view name) {
  auto s = short_name(name);
  for (const auto& slot : kSlots)
    if (slot.info.name == s) return slot;
  std::string known;
  for (const auto& slot : kSlots) known += (known.empty() ? "" : ", ") + std::string(slot.info.name);
  throw UsageError(fmt::format("unknown sysctl '{}' (known: {})", name, known));
}

}  // namespace

std::span<const SysctlInfo> known_sysctls() {
  static const auto infos = [] {
    std::array<SysctlInfo, kSlots.size()> out{};
    for (std::size_t i = 0; i < kSlots.size(); ++i) out[i] = kSlots[i].info;
    return out;
  }();
  return infos;
}

Sysctls Sysctls::defaults_for(const KernelProfile& p) {
  Sysctls s;
  s.tcp_tw_recycle = 0;
  s.tcp_timestamps = 1;
  s.tcp_syncookies = 1;
  s.tcp_max_syn_backlog = p.max_syn_backlog_default;
  s.somaxconn = p.somaxconn_default;
  s.tcp_abort_on_overflow = 0;
  s.tcp_syn_retries = 6;
  s.tcp_synack_retries = 5;
  s.tcp_syn_linear_timeouts = p.has_syn_linear_timeouts ? 4 : 0;
  s.tcp_tw_reuse = p.tw_reuse_default;
  return s;
}

std::optional<std::string> sysctl_unavailable_reason(const KernelProfile& p, std::string_view name) {
  auto s = short_name(name);
  if (s == "tcp_tw_recycle" && !p.has_tw_recycle)
    return fmt::format("removed in 4.12 (commit 4396e46187ca), so kernel profile {} does not have it", p.name);
  if (s == "tcp_syn_linear_timeouts" && !p.has_syn_linear_timeouts)
    return fmt::format("added in 6.5, so kernel profile {} does not have it", p.name);
  return std::nullopt;
}

void Sysctls::set(const KernelProfile& p, std::string_view name, std::int64_t value) {
  const auto& slot = find_slot(name);
  if (auto why = sysctl_unavailable_reason(p, name))
    throw UsageError(fmt::format("sysctl {}: {}", slot.info.name, *why));
  std::int64_t max = slot.max;
  if (slot.info.name == "tcp_syncookies" && !p.has_syncookies_always) max = 1;
  if (slot.info.name == "tcp_timestamps" && !p.has_ts_offsets) max = 1;
  if (slot.info.name == "tcp_tw_reuse" && !p.has_tw_reuse_loopback) max = 1;
  if (value < slot.min || value > max) {
    std::string extra;
    if (slot.info.name == "tcp_syncookies" && value == 2 && max == 1)
      extra = " (tcp_syncookies=2 arrived after 3.10 mainline)";
    throw UsageError(fmt::format("sysctl {}={} out of range for kernel profile {}: allowed {}..{}{}", slot.info.name,
                                 value, p.name, slot.min, max, extra));
  }
  this->*slot.field = static_cast<int>(value);
}

void Sysctls::set_assignment(const KernelProfile& p, std::string_view assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw UsageError(fmt::format("sysctl '{}': expected NAME=VALUE", assignment));
  auto name = assignment.substr(0, eq);
  auto text = assignment.substr(eq + 1);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    throw UsageError(fmt::format("sysctl '{}': value '{}' is not an integer", name, text));
  set(p, name, value);
}

std::int64_t Sysctls::get(std::string_view name) const { return this->*find_slot(name).field; }

}  // namespace synscope::model
