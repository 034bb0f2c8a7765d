#include "analyze/schedule.h"

#include <cmath>

namespace synscope::analyze {

std::vector<double> syn_gaps(const Attempt& a) {
  std::vector<double> gaps;
  for (const SynSend* s = a.syns_begin() + 1; s < a.syns_end(); ++s)
    gaps.push_back(static_cast<double>(s->at.unix_ns - (s - 1)->at.unix_ns) / 1e9);
  return gaps;
}

namespace {

// Timers fire late by up to a tick or two (and 3.10's 200 ms scan, §5.3, only affects SYN-ACKs):
// a gap matches an expected RTO within 15 % + 60 ms.
bool near(double gap, double want) { return std::fabs(gap - want) <= 0.15 * want + 0.06; }

bool doubling_from(const std::vector<double>& g, std::size_t from, double first) {
  double want = first;
  for (std::size_t i = from; i < g.size(); ++i, want *= 2)
    if (!near(g[i], std::min(want, 120.0))) return false;
  return true;
}

}  // namespace

Schedule classify_gaps(const std::vector<double>& g) {
  if (g.empty()) return Schedule::Single;
  // §9: 3.x–6.4: RTO 1 s doubling: 1, 2, 4, 8 …
  if (doubling_from(g, 0, 1.0) && (g.size() == 1 || !near(g[1], 1.0))) return Schedule::LinuxExponential;
  // §9: 6.5+ (tcp_syn_linear_timeouts = 4) and macOS: several 1 s gaps, then doubling from 2 s.
  std::size_t ones = 0;
  while (ones < g.size() && near(g[ones], 1.0)) ++ones;
  if (ones >= 2 && ones <= 6 && doubling_from(g, ones, 2.0)) return Schedule::LinearThenExponential;
  // §9: a 3 s initial RTO (TCP_TIMEOUT_FALLBACK; Windows; Linux before RFC 6298).
  if (doubling_from(g, 0, 3.0)) return Schedule::Exponential3s;
  if (g.size() >= 2) {
    bool constant = true;
    for (double x : g) constant = constant && near(x, g[0]);
    if (constant) return Schedule::Constant;
  }
  return Schedule::Irregular;
}

Schedule classify_schedule(const Attempt& a) { return classify_gaps(syn_gaps(a)); }

}  // namespace synscope::analyze
