#include "live/kernel_match.h"

#include <sys/utsname.h>

#include <array>
#include <charconv>
#include <fmt/format.h>
#include <optional>

namespace synscope::live {
namespace {

constexpr int kAny = 1 << 20;

// One row: releases in [first, last] map to `profile`. `exact` is the version the profile was
// built from (§1, §17); other versions in the row are "family", rows with fit NearestOlder are gaps
// between families that no profile describes.
struct ReleaseRule {
  KernelVersion first, last;
  std::string_view profile;
  MatchFit fit;
  KernelVersion exact_from, exact_to;  // the profile's own minor versions
  std::string_view family;
};

// Fact sheet §1 (families), §17 (6.18.44, measured here). Sorted by `first`.
constexpr std::array kRules = {
    ReleaseRule{{3, 10, 0}, {3, 10, kAny}, "3.10", MatchFit::Family, {3, 10, 0}, {3, 10, kAny}, "3.10"},
    ReleaseRule{{3, 11, 0}, {4, 3, kAny}, "3.10", MatchFit::NearestOlder, {}, {}, "3.10"},
    ReleaseRule{{4, 4, 0}, {4, 4, 0}, "4.4.0", MatchFit::Family, {4, 4, 0}, {4, 4, 0}, "4.4.0"},
    ReleaseRule{{4, 4, 1}, {4, 4, kAny}, "4.4", MatchFit::Family, {4, 4, 1}, {4, 4, kAny}, "4.4.y"},
    ReleaseRule{{4, 5, 0}, {4, 9, kAny}, "4.4", MatchFit::NearestOlder, {}, {}, "4.4.y"},
    ReleaseRule{{4, 10, 0}, {4, 10, 0}, "4.10.0", MatchFit::Family, {4, 10, 0}, {4, 10, 0}, "4.10.0"},
    ReleaseRule{{4, 10, 1}, {4, 11, kAny}, "4.10", MatchFit::Family, {4, 10, 1}, {4, 10, kAny}, "4.10.y … 4.11"},
    ReleaseRule{{4, 12, 0}, {4, 13, kAny}, "4.12", MatchFit::Family, {4, 12, 0}, {4, 12, kAny}, "4.12 … 4.13"},
    ReleaseRule{{4, 14, 0}, {5, 3, kAny}, "4.12", MatchFit::NearestOlder, {}, {}, "4.12 … 4.13"},
    ReleaseRule{{5, 4, 0}, {6, 4, kAny}, "5.4", MatchFit::Family, {5, 4, 0}, {5, 4, kAny}, "5.4 … 6.4"},
    ReleaseRule{{6, 5, 0}, {6, 12, kAny}, "6.5", MatchFit::Family, {6, 5, 0}, {6, 5, kAny}, "6.5 … 6.12"},
    ReleaseRule{{6, 13, 0}, {6, 17, kAny}, "6.13", MatchFit::Family, {6, 13, 0}, {6, 13, kAny}, "6.13 … 6.19"},
    ReleaseRule{{6, 18, 0}, {6, 18, kAny}, "6.18", MatchFit::Family, {6, 18, 0}, {6, 18, kAny}, "6.18.y"},
    ReleaseRule{{6, 19, 0}, {6, 19, kAny}, "6.13", MatchFit::Family, {}, {}, "6.13 … 6.19"},
    ReleaseRule{{7, 0, 0}, {7, 0, kAny}, "7.0", MatchFit::Family, {7, 0, 0}, {7, 0, kAny}, "7.0"},
    ReleaseRule{{7, 1, 0}, {kAny, 0, 0}, "7.0", MatchFit::NearestOlder, {}, {}, "7.0"},
};

// Distribution kernels whose behaviour is not their base version's (§3.3: EL7 carries 4.x code).
struct DistroRule {
  std::string_view marker;  // substring of the release
  KernelVersion base;       // the release must start with this version
  std::string_view profile;
  std::string_view family;
};
constexpr std::array kDistroRules = {
    DistroRule{".el7", {3, 10, 0}, "el7", "CentOS/RHEL 7 (3.10.0-*.el7)"},
};

std::optional<KernelVersion> parse_version(std::string_view s) {
  KernelVersion v;
  int* parts[] = {&v.major, &v.minor, &v.patch};
  const char* p = s.data();
  const char* end = s.data() + s.size();
  for (int i = 0; i < 3; ++i) {
    auto [next, ec] = std::from_chars(p, end, *parts[i]);
    if (ec != std::errc{}) {
      if (i < 2) return std::nullopt;  // need at least major.minor
      break;
    }
    p = next;
    if (i < 2) {
      if (p == end || *p != '.') {
        if (i == 0) return std::nullopt;
        break;
      }
      ++p;
    }
  }
  return v;
}

}  // namespace

std::string_view to_string(MatchFit fit) {
  switch (fit) {
    case MatchFit::Exact: return "exact family";
    case MatchFit::Family: return "same family";
    case MatchFit::NearestOlder: return "nearest older profile";
    case MatchFit::Unparsed: return "release not understood; newest profile assumed";
  }
  return "?";
}

std::string ProfileMatch::summary() const {
  if (!profile) return release + " → no profile";
  std::string how(to_string(fit));
  if (fit == MatchFit::Family) how += ", " + family + "; not the version the profile was built from";
  if (fit == MatchFit::NearestOlder) how = fmt::format("nearest older profile; it stands for {}", family);
  return fmt::format("{} → profile {} ({})", release, profile->name, how);
}

ProfileMatch match_kernel_release(std::string_view release) {
  ProfileMatch m;
  m.release = std::string(release);
  auto v = parse_version(release);
  if (!v) {
    m.profile = &model::newest_profile();
    m.family = std::string(m.profile->name);
    return m;
  }
  for (const auto& d : kDistroRules) {
    if (release.find(d.marker) != std::string_view::npos && v->major == d.base.major && v->minor == d.base.minor) {
      m.profile = &model::find_profile(d.profile);
      m.fit = MatchFit::Exact;
      m.family = std::string(d.family);
      return m;
    }
  }
  const ReleaseRule* chosen = nullptr;
  for (const auto& r : kRules)
    if (*v >= r.first && *v <= r.last) chosen = &r;
  if (!chosen) {  // older than every profile
    m.profile = &model::find_profile(kRules.front().profile);
    m.fit = MatchFit::NearestOlder;
    m.family = "older than every profile; the oldest (" + std::string(kRules.front().family) + ")";
    return m;
  }
  m.profile = &model::find_profile(chosen->profile);
  m.family = std::string(chosen->family);
  m.fit = chosen->fit;
  if (m.fit == MatchFit::Family && *v >= chosen->exact_from && *v <= chosen->exact_to &&
      chosen->exact_to != KernelVersion{})
    m.fit = MatchFit::Exact;
  return m;
}

std::string running_release() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

}  // namespace synscope::live
