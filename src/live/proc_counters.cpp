#include "live/proc_counters.h"

#include <charconv>
#include <fmt/format.h>
#include <set>

#include "core/error.h"

namespace synscope::live {
namespace {

constexpr std::size_t kMaxFields = 4096;

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\r') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

const CounterField* CounterTable::find(std::string_view group, std::string_view name) const {
  for (const auto& f : fields)
    if (f.group == group && f.name == name) return &f;
  return nullptr;
}

CounterTable parse_counter_text(std::string_view text, std::string_view source) {
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    auto line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!split_ws(line).empty()) lines.push_back(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  if (lines.empty()) throw UsageError(fmt::format("{}: empty counter file", source));
  if (lines.size() % 2 != 0)
    throw UsageError(fmt::format("{}: {} lines, expected header/value pairs (truncated?)", source, lines.size()));
  CounterTable t;
  for (std::size_t i = 0; i < lines.size(); i += 2) {
    auto head = split_ws(lines[i]);
    auto vals = split_ws(lines[i + 1]);
    const auto where = fmt::format("{} line {}", source, i + 2);
    if (head.empty() || head[0].size() < 2 || head[0].back() != ':')
      throw UsageError(fmt::format("{} line {}: expected 'Group: Field …'", source, i + 1));
    if (vals.empty() || vals[0] != head[0])
      throw UsageError(fmt::format("{}: values of '{}' missing", where, head[0]));
    if (vals.size() != head.size())
      throw UsageError(fmt::format("{}: {} has {} field names but {} values", where, head[0].substr(0, head[0].size() - 1),
                                   head.size() - 1, vals.size() - 1));
    std::string group(head[0].substr(0, head[0].size() - 1));
    std::set<std::string_view> seen;
    for (std::size_t k = 1; k < head.size(); ++k) {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(vals[k].data(), vals[k].data() + vals[k].size(), v);
      if (ec != std::errc{} || p != vals[k].data() + vals[k].size())
        throw UsageError(fmt::format("{}: {} {} = '{}' is not a number", where, group, head[k], vals[k]));
      if (!seen.insert(head[k]).second)
        throw UsageError(fmt::format("{}: field {} {} appears twice", where, group, head[k]));
      // Real files have a few hundred fields (6.x: ~400 in netstat); look-ups are linear, so a file
      // (or a bundle member) with millions would make every diff quadratic: refuse it.
      if (t.fields.size() >= kMaxFields)
        throw UsageError(fmt::format("{}: more than {} counter fields: not a /proc counter file", source, kMaxFields));
      t.fields.push_back({group, std::string(head[k]), v});
    }
  }
  return t;
}

std::optional<std::int64_t> CounterSample::get(std::string_view group, std::string_view name) const {
  if (const auto* f = netstat.find(group, name)) return f->value;
  if (const auto* f = snmp.find(group, name)) return f->value;
  return std::nullopt;
}

CounterSample parse_counter_sample(std::string netstat_text, std::string snmp_text, double at_seconds) {
  CounterSample s;
  s.at_seconds = at_seconds;
  s.netstat = parse_counter_text(netstat_text, "netstat");
  s.snmp = parse_counter_text(snmp_text, "snmp");
  s.netstat_text = std::move(netstat_text);
  s.snmp_text = std::move(snmp_text);
  return s;
}

const std::vector<WatchedCounter>& watched_counters() {
  static const std::vector<WatchedCounter> kWatched = {
      {"TcpExt", "ListenOverflows", "accept queue full (§3.8, §5.2)"},
      {"TcpExt", "ListenDrops", "every SYN/ACK dropped at a listener (§3.8)"},
      {"TcpExt", "TCPReqQFullDrop", "SYN queue full, no cookie (§3.8, §6.3)"},
      {"TcpExt", "TCPReqQFullDoCookies", "SYN queue full, cookie sent (§10)"},
      {"TcpExt", "SyncookiesSent", "SYN cookies sent (§10)"},
      {"TcpExt", "SyncookiesRecv", "valid cookie ACKs (§10)"},
      {"TcpExt", "SyncookiesFailed", "invalid cookie ACKs (§10)"},
      {"TcpExt", "PAWSPassive", "SYNs rejected by per-host PAWS, tw_recycle (§7.3; gone in 4.12)"},
      {"TcpExt", "PAWSActive", "SYN-ACKs rejected by PAWS (§4)"},
      {"TcpExt", "EmbryonicRsts", "tcp_abort_on_overflow RSTs / resets of SYN_RECV (§5.2)"},
      {"TcpExt", "TCPSynRetrans", "this host's SYN retransmissions, client side (§9)"},
      {"TcpExt", "TCPTimeouts", "retransmission timeouts (§9)"},
      {"Tcp", "ActiveOpens", "connect() calls (§9)"},
      {"Tcp", "PassiveOpens", "connections accepted by the kernel"},
      {"Tcp", "AttemptFails", "failed connection attempts"},
  };
  return kWatched;
}

std::vector<CounterChange> diff_samples(const CounterSample& before, const CounterSample& after) {
  std::vector<CounterChange> out;
  std::set<std::pair<std::string, std::string>> done;
  auto add = [&](const std::string& g, const std::string& n) {
    if (!done.insert({g, n}).second) return;
    out.push_back({g, n, before.get(g, n), after.get(g, n)});
  };
  for (const auto& w : watched_counters()) add(std::string(w.group), std::string(w.name));
  for (const auto* t : {&after.netstat, &after.snmp, &before.netstat, &before.snmp})
    for (const auto& f : t->fields) add(f.group, f.name);
  return out;
}

}  // namespace synscope::live
