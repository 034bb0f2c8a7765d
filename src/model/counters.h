#pragma once
// Per-host SNMP counters with the kernel's field names (fact sheet §4), printable as `nstat`
// lines, as `netstat -s` sentences (net-tools wording) and as JSON.
#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "model/kernel_profile.h"

namespace synscope::model {

enum class Counter : std::uint8_t {
  // Tcp: (RFC 1213 MIB)
  ActiveOpens, PassiveOpens, AttemptFails, EstabResets, InSegs, OutSegs, RetransSegs, InErrs, OutRsts,
  // TcpExt: (LINUX_MIB_*)
  SyncookiesSent, SyncookiesRecv, SyncookiesFailed, EmbryonicRsts, PAWSPassive, PAWSActive, PAWSEstab,
  PAWSTimewait, TW, TWRecycled, TWKilled, ListenOverflows, ListenDrops, TCPTimeouts, TCPSynRetrans,
  TCPReqQFullDoCookies, TCPReqQFullDrop, TCPACKSkippedSynRecv, TCPTimeWaitOverflow,
  kCount
};
constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount);

enum class CounterGroup { Tcp, TcpExt };

struct CounterInfo {
  Counter id;
  CounterGroup group;
  std::string_view field;     // /proc/net/netstat or /proc/net/snmp field name
  std::string_view netstat;   // net-tools 2.10 sentence with %llu, or "" for a raw "Field: N" line
  std::string_view netstat_160;  // net-tools 1.60 wording where it differs, "raw" if it has none, else ""
};
const CounterInfo& counter_info(Counter c);
// "TcpExtListenDrops", "TcpActiveOpens": the nstat name.
std::string nstat_name(Counter c);

// Which net-tools build prints `netstat -s` (§4: "dropped" vs "ignored").
enum class NetToolsWording { V2_10, V1_60 };

class CounterSet {
 public:
  void add(Counter c, std::uint64_t n = 1) { values_[static_cast<std::size_t>(c)] += n; }
  std::uint64_t operator[](Counter c) const { return values_[static_cast<std::size_t>(c)]; }
  CounterSet operator-(const CounterSet& earlier) const;
  bool any() const;

  // `nstat`-style lines ("#kernel" header, non-zero counters, `%-32s%-16llu%6.1f`).
  std::string nstat_text() const;
  // `netstat -s`-style "Tcp:" and "TcpExt:" sections, non-zero counters only.
  std::string netstat_text(NetToolsWording wording = NetToolsWording::V2_10) const;
  nlohmann::json to_json() const;  // {"TcpExtListenDrops": 3, ...} non-zero only

 private:
  std::array<std::uint64_t, kCounterCount> values_{};
};

// Whether the profile's kernel has this counter field at all (PAWSPassive gone in 4.12, §4).
bool profile_has_counter(const KernelProfile& p, Counter c);

}  // namespace synscope::model
