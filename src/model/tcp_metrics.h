#pragma once
// tcp_metrics: the per-destination cache that, with tcp_tw_recycle, remembers the last timestamp
// received from a peer when this host closed first (§7.1, §7.2).
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/ipv4.h"
#include "model/kernel_profile.h"
#include "model/listen_rules.h"

namespace synscope::model {

class TcpMetrics {
 public:
  explicit TcpMetrics(MetricsKey key) : key_(key) {}

  std::optional<TsMemory> find(Ipv4Addr local, Ipv4Addr peer) const {
    auto it = entries_.find(key(local, peer));
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void store(Ipv4Addr local, Ipv4Addr peer, TsMemory m) { entries_[key(local, peer)] = m; }
  void note_rtt(Ipv4Addr local, Ipv4Addr peer) {
    auto [it, inserted] = entries_.try_emplace(key(local, peer));
    it->second.has_rtt = true;
  }
  std::size_t size() const { return entries_.size(); }

  struct Row {
    Ipv4Addr local, peer;
    TsMemory memory;
  };
  // Entries in key order (deterministic output).
  std::vector<Row> rows() const;

 private:
  std::uint64_t key(Ipv4Addr local, Ipv4Addr peer) const {
    // §7.2: 3.10 keys by peer IP only; EL7 and 4.4+ by (local IP, peer IP).
    return key_ == MetricsKey::PeerIp ? peer.value : (std::uint64_t{local.value} << 32) | peer.value;
  }
  MetricsKey key_;
  std::unordered_map<std::uint64_t, TsMemory> entries_;
};

}  // namespace synscope::model
