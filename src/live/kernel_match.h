#pragma once
// `uname -r` → model profile, with how sure the match is. The mapping is the data table in
// kernel_match.cpp (family ranges from fact sheet §1); nothing else tests version numbers.
#include <string>
#include <string_view>

#include "model/kernel_profile.h"

namespace synscope::live {

// How well a release fits the profile chosen for it.
enum class MatchFit {
  Exact,         // the profile's own version (6.18.44 → 6.18; 3.10.0-1160.el7 → el7)
  Family,        // inside the family the profile stands for (§1), but not the version it was built from
  NearestOlder,  // no profile covers it: the newest profile older than it
  Unparsed,      // not a Linux release we can read: the newest profile, as a guess
};
std::string_view to_string(MatchFit fit);

struct KernelVersion {
  int major = 0, minor = 0, patch = 0;
  auto operator<=>(const KernelVersion&) const = default;
};

struct ProfileMatch {
  std::string release;                       // as read from uname / the bundle
  const model::KernelProfile* profile = nullptr;
  MatchFit fit = MatchFit::Unparsed;
  std::string family;                        // "5.4 … 6.4": the range the profile stands for
  // "6.18.44 → profile 6.18 (exact family)"
  std::string summary() const;
};

ProfileMatch match_kernel_release(std::string_view release);
// This machine's `uname -r`.
std::string running_release();

}  // namespace synscope::live
