#pragma once
// Names the likely causes of a failed or late attempt from the facts the tracker gathered, ranked,
// each with its evidence and a confidence. Never forces a cause: with nothing telling, the attempt is
// "unexplained" and its facts are listed.
#include <functional>
#include <string>

#include "analyze/attempt.h"

namespace synscope::analyze {

// How to print an address (tcpdump text may carry host names instead).
using AddressNamer = std::function<std::string(const IpAddress&)>;

// Whether the causes get their evidence sentences, or only their kind and confidence (the same
// ones, in the same order) for an attempt that is counted but not shown.
enum class Evidence : bool { None, Full };

// Fills a.causes (cleared first). Attempts that simply worked, or that the capture cannot judge
// (one-sided, cut by the capture's end, SYN-ACK'd but abandoned by the client), get none.
void diagnose(Attempt& a, const AddressNamer& name, Evidence evidence = Evidence::Full);

std::string endpoint_text(const PacketEndpoint& e, const AddressNamer& name);  // "10.0.0.1:80", "[::1]:80"

}  // namespace synscope::analyze
