#include "model/counters.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace synscope::model {
namespace {

using G = CounterGroup;
// net-tools 1.60 has no sentence for the field: it prints it raw (§4 table, "—").
constexpr std::string_view kRaw = "raw";
// Sentences: fact sheet §4 for TcpExt; the Tcp: lines are net-tools' RFC 1213 wording.
constexpr std::array<CounterInfo, kCounterCount> kInfo = {{
    {Counter::ActiveOpens, G::Tcp, "ActiveOpens", "%llu active connection openings", ""},
    {Counter::PassiveOpens, G::Tcp, "PassiveOpens", "%llu passive connection openings", ""},
    {Counter::AttemptFails, G::Tcp, "AttemptFails", "%llu failed connection attempts", ""},
    {Counter::EstabResets, G::Tcp, "EstabResets", "%llu connection resets received", ""},
    {Counter::InSegs, G::Tcp, "InSegs", "%llu segments received", ""},
    {Counter::OutSegs, G::Tcp, "OutSegs", "%llu segments sent out", ""},
    {Counter::RetransSegs, G::Tcp, "RetransSegs", "%llu segments retransmitted", ""},
    {Counter::InErrs, G::Tcp, "InErrs", "%llu bad segments received", ""},
    {Counter::OutRsts, G::Tcp, "OutRsts", "%llu resets sent", ""},
    {Counter::SyncookiesSent, G::TcpExt, "SyncookiesSent", "%llu SYN cookies sent", ""},
    {Counter::SyncookiesRecv, G::TcpExt, "SyncookiesRecv", "%llu SYN cookies received", ""},
    {Counter::SyncookiesFailed, G::TcpExt, "SyncookiesFailed", "%llu invalid SYN cookies received", ""},
    {Counter::EmbryonicRsts, G::TcpExt, "EmbryonicRsts", "%llu resets received for embryonic SYN_RECV sockets", ""},
    {Counter::PAWSPassive, G::TcpExt, "PAWSPassive", "%llu passive connections rejected because of time stamp", ""},
    {Counter::PAWSActive, G::TcpExt, "PAWSActive", "%llu active connections rejected because of time stamp", ""},
    {Counter::PAWSEstab, G::TcpExt, "PAWSEstab", "%llu packets rejected in established connections because of timestamp",
     "%llu packets rejects in established connections because of timestamp"},
    {Counter::PAWSTimewait, G::TcpExt, "PAWSTimewait", "", ""},
    // net-tools swaps TW and TWKilled relative to the kernel (§4 notes).
    {Counter::TW, G::TcpExt, "TW", "%llu TCP sockets finished time wait in fast timer", ""},
    {Counter::TWRecycled, G::TcpExt, "TWRecycled", "%llu time wait sockets recycled by time stamp", ""},
    {Counter::TWKilled, G::TcpExt, "TWKilled", "%llu TCP sockets finished time wait in slow timer", ""},
    {Counter::ListenOverflows, G::TcpExt, "ListenOverflows", "%llu times the listen queue of a socket overflowed", ""},
    {Counter::ListenDrops, G::TcpExt, "ListenDrops", "%llu SYNs to LISTEN sockets dropped",
     "%llu SYNs to LISTEN sockets ignored"},
    {Counter::TCPTimeouts, G::TcpExt, "TCPTimeouts", "%llu other TCP timeouts", kRaw},
    {Counter::TCPSynRetrans, G::TcpExt, "TCPSynRetrans", "", ""},
    {Counter::TCPReqQFullDoCookies, G::TcpExt, "TCPReqQFullDoCookies", "", ""},
    {Counter::TCPReqQFullDrop, G::TcpExt, "TCPReqQFullDrop", "", ""},
    {Counter::TCPACKSkippedSynRecv, G::TcpExt, "TCPACKSkippedSynRecv", "", ""},
    {Counter::TCPTimeWaitOverflow, G::TcpExt, "TCPTimeWaitOverflow", "", ""},
}};

std::string sentence(std::string_view pattern, std::uint64_t value) {
  std::string out(pattern);
  auto pos = out.find("%llu");
  out.replace(pos, 4, std::to_string(value));
  return out;
}

}  // namespace

const CounterInfo& counter_info(Counter c) { return kInfo[static_cast<std::size_t>(c)]; }

std::string nstat_name(Counter c) {
  const auto& info = counter_info(c);
  return std::string(info.group == G::Tcp ? "Tcp" : "TcpExt") + std::string(info.field);
}

CounterSet CounterSet::operator-(const CounterSet& earlier) const {
  CounterSet d;
  for (std::size_t i = 0; i < kCounterCount; ++i) d.values_[i] = values_[i] - earlier.values_[i];
  return d;
}

bool CounterSet::any() const {
  for (auto v : values_)
    if (v) return true;
  return false;
}

std::string CounterSet::nstat_text() const {
  std::string out = "#kernel\n";
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (!values_[i]) continue;
    out += fmt::format("{:<32}{:<16}{:>6.1f}\n", nstat_name(static_cast<Counter>(i)), values_[i], 0.0);
  }
  return out;
}

std::string CounterSet::netstat_text(NetToolsWording wording) const {
  std::string out;
  for (G group : {G::Tcp, G::TcpExt}) {
    std::string section;
    for (const auto& info : kInfo) {
      auto v = (*this)[info.id];
      if (info.group != group || !v) continue;
      std::string_view pattern = info.netstat;
      if (wording == NetToolsWording::V1_60 && !info.netstat_160.empty())
        pattern = info.netstat_160 == kRaw ? std::string_view{} : info.netstat_160;
      // Fields net-tools has no sentence for are printed raw (§4).
      section += "    " + (pattern.empty() ? fmt::format("{}: {}", info.field, v) : sentence(pattern, v)) + "\n";
    }
    if (!section.empty()) out += (group == G::Tcp ? "Tcp:\n" : "TcpExt:\n") + section;
  }
  return out;
}

nlohmann::json CounterSet::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t i = 0; i < kCounterCount; ++i)
    if (values_[i]) j[nstat_name(static_cast<Counter>(i))] = values_[i];
  return j;
}

bool profile_has_counter(const KernelProfile& p, Counter c) {
  if (c == Counter::PAWSPassive) return p.has_paws_passive_counter;
  if (c == Counter::PAWSTimewait) return p.has_paws_timewait_counter;
  return true;
}

}  // namespace synscope::model
