#pragma once
// Recognising a client's SYN retransmission schedule from the gaps between its SYNs (§9).
#include <vector>

#include "analyze/attempt.h"

namespace synscope::analyze {

// The gaps between successive (non-duplicate) SYN transmissions, in seconds.
std::vector<double> syn_gaps(const Attempt& a);
Schedule classify_schedule(const Attempt& a);
Schedule classify_gaps(const std::vector<double>& gaps);

}  // namespace synscope::analyze
