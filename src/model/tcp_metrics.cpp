#include "model/tcp_metrics.h"

#include <algorithm>

namespace synscope::model {

std::vector<TcpMetrics::Row> TcpMetrics::rows() const {
  std::vector<Row> out;
  out.reserve(entries_.size());
  for (const auto& [k, m] : entries_) {
    Row r;
    r.peer = Ipv4Addr{static_cast<std::uint32_t>(k & 0xffffffffu)};
    r.local = key_ == MetricsKey::PeerIp ? Ipv4Addr{} : Ipv4Addr{static_cast<std::uint32_t>(k >> 32)};
    r.memory = m;
    out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) {
    return std::pair(a.local, a.peer) < std::pair(b.local, b.peer);
  });
  return out;
}

}  // namespace synscope::model
