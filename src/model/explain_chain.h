#pragma once
// Text renderings of the model for `synscope explain` and `synscope profiles`.
#include <string>

#include "model/kernel_profile.h"
#include "model/sysctls.h"

namespace synscope::model {

// The ordered checks a SYN goes through on this kernel with these sysctls (§2, §3, §14), with
// thresholds for a listener of `backlog`, and what happens after the SYN-ACK (§5, §9).
std::string explain_chain(const KernelProfile& p, const Sysctls& s, int backlog);

// One row per profile: how they differ.
std::string profiles_table();

}  // namespace synscope::model
