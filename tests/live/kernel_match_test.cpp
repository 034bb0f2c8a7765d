// uname -r → profile, with how sure (the table in src/live/kernel_match.cpp, fact sheet §1, §17).
#include <gtest/gtest.h>

#include "live/kernel_match.h"

namespace synscope::live {
namespace {

struct Case {
  const char* release;
  const char* profile;
  MatchFit fit;
};

TEST(KernelMatch, ReleasesMapToProfiles) {
  const Case cases[] = {
      {"6.18.44", "6.18", MatchFit::Exact},
      {"6.18.44-fc-v669", "6.18", MatchFit::Exact},
      {"3.10.0-1160.el7.x86_64", "el7", MatchFit::Exact},
      {"3.10.0-957.21.3.el7.x86_64", "el7", MatchFit::Exact},
      {"3.10.105", "3.10", MatchFit::Exact},
      {"4.4.0-142-generic", "4.4.0", MatchFit::Exact},
      {"4.4.178", "4.4", MatchFit::Exact},
      {"4.9.0-8-amd64", "4.4", MatchFit::NearestOlder},
      {"4.11.3", "4.10", MatchFit::Family},
      {"4.19.0-25-amd64", "4.12", MatchFit::NearestOlder},
      {"5.4.0-150-generic", "5.4", MatchFit::Exact},
      {"5.15.0-91-generic", "5.4", MatchFit::Family},
      {"6.1.0-18-amd64", "5.4", MatchFit::Family},
      {"6.8.0-31-generic", "6.5", MatchFit::Family},
      {"6.13.2", "6.13", MatchFit::Exact},
      {"6.19.1", "6.13", MatchFit::Family},
      {"7.0.0", "7.0", MatchFit::Exact},
      {"7.3.1", "7.0", MatchFit::NearestOlder},
      {"2.6.32-754.el6.x86_64", "3.10", MatchFit::NearestOlder},
      {"not-a-kernel", "7.0", MatchFit::Unparsed},
  };
  for (const auto& c : cases) {
    auto m = match_kernel_release(c.release);
    ASSERT_NE(m.profile, nullptr) << c.release;
    EXPECT_EQ(m.profile->name, c.profile) << c.release;
    EXPECT_EQ(m.fit, c.fit) << c.release;
  }
}

TEST(KernelMatch, SummarySaysHowSure) {
  EXPECT_EQ(match_kernel_release("6.18.44").summary(), "6.18.44 → profile 6.18 (exact family)");
  EXPECT_EQ(match_kernel_release("5.15.0").summary(),
            "5.15.0 → profile 5.4 (same family, 5.4 … 6.4; not the version the profile was built from)");
  EXPECT_EQ(match_kernel_release("4.19.0").summary(), "4.19.0 → profile 4.12 (nearest older profile; it stands for 4.12 … 4.13)");
}

}  // namespace
}  // namespace synscope::live
