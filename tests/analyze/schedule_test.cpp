// SYN retransmission schedules (§9) from the gaps between SYNs.
#include <gtest/gtest.h>

#include "analyze/schedule.h"

namespace synscope::analyze {
namespace {

TEST(SynSchedule, LinuxExponentialBackoff) {
  EXPECT_EQ(classify_gaps({1.0}), Schedule::LinuxExponential);
  EXPECT_EQ(classify_gaps({1.0, 2.0, 4.0, 8.0, 16.0, 32.0}), Schedule::LinuxExponential);
  EXPECT_EQ(classify_gaps({1.03, 2.01, 4.02}), Schedule::LinuxExponential);  // timer slack
}

TEST(SynSchedule, LinearFirstThenDoubling) {
  // §9 6.5+: SYNs at 0,1,2,3,4,5,7,11 s.
  EXPECT_EQ(classify_gaps({1, 1, 1, 1, 1, 2, 4}), Schedule::LinearThenExponential);
  EXPECT_EQ(classify_gaps({1, 1}), Schedule::LinearThenExponential);
}

TEST(SynSchedule, ThreeSecondInitialRto) { EXPECT_EQ(classify_gaps({3, 6, 12}), Schedule::Exponential3s); }

TEST(SynSchedule, ConstantAndIrregular) {
  EXPECT_EQ(classify_gaps({}), Schedule::Single);
  EXPECT_EQ(classify_gaps({0.5, 0.5, 0.5}), Schedule::Constant);
  EXPECT_EQ(classify_gaps({0.2, 5.0, 0.7}), Schedule::Irregular);
}

}  // namespace
}  // namespace synscope::analyze
