// parse_date_time (scenario `start`, --date): dates synscope can hold as nanoseconds since 1970.
// Found by fuzz/scenario_fuzzer.cpp (issue 8): a year like "-999" (sscanf's %d takes a sign) or a
// negative hour overflowed the 64-bit nanosecond count (undefined behaviour) instead of being refused.
#include <gtest/gtest.h>

#include "core/time.h"

namespace synscope {
namespace {

TEST(ParseDateTime, AcceptsTheEpochAndOrdinaryDates) {
  WallTime t;
  ASSERT_TRUE(parse_date_time("1970-01-01 00:00:00", t));
  EXPECT_EQ(t.unix_ns, 0);
  ASSERT_TRUE(parse_date_time("2019-06-03T22:45:10.015335Z", t));
  EXPECT_EQ(t.unix_ns, 1559601910015335000);
  ASSERT_TRUE(parse_date_time("2200-12-31 23:59:59", t));
}

TEST(ParseDateTime, RefusesWhatNanosecondsSince1970CannotHold) {
  WallTime t;
  for (const char* bad : {"-999-01-01 00:00:00", "1969-12-31 23:59:59", "9999-01-01 00:00:00", "2019-06-03 -1:00:00",
                          "2019-06-03 00:-5:00", "2019-06-03 00:00:-7", "2019-13-01 00:00:00", "2019-06-03 24:00:00"})
    EXPECT_FALSE(parse_date_time(bad, t)) << bad;
}

}  // namespace
}  // namespace synscope
