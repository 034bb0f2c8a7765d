#include "core/tuple_table.h"

#include <gtest/gtest.h>

#include <map>

#include "core/rng.h"

namespace synscope {
namespace {

FourTuple tuple(Rng& rng, int space) {
  // A small address/port space forces collisions, long probe runs and wrap-around.
  return FourTuple{{Ipv4Addr{0x0a000001}, static_cast<std::uint16_t>(rng.below(static_cast<std::uint64_t>(space)))},
                   {Ipv4Addr{static_cast<std::uint32_t>(0x0a000100 + rng.below(4))}, 80}};
}

std::pair<std::uint64_t, std::uint64_t> key(const FourTuple& t) { return {endpoint_key(t.local), endpoint_key(t.remote)}; }

TEST(TupleTable, BehavesLikeAMapUnderRandomInsertEraseAndLookup) {
  Rng rng(42);
  TupleTable<int> table;
  std::map<std::pair<std::uint64_t, std::uint64_t>, int> reference;
  for (int step = 0; step < 200000; ++step) {
    FourTuple t = tuple(rng, 3000);
    switch (rng.below(3)) {
      case 0:
        table.set(t, step);
        reference[key(t)] = step;
        break;
      case 1:
        EXPECT_EQ(table.erase(t), reference.erase(key(t)) == 1);
        break;
      default: {
        auto* v = table.find(t);
        auto it = reference.find(key(t));
        ASSERT_EQ(v != nullptr, it != reference.end()) << step;
        if (v) {
          EXPECT_EQ(*v, it->second);
        }
      }
    }
    ASSERT_EQ(table.size(), reference.size());
  }
}

TEST(TupleTable, EraseOfAMissingKeyChangesNothing) {
  TupleTable<int> t;
  FourTuple a{{Ipv4Addr{1}, 1}, {Ipv4Addr{2}, 2}};
  EXPECT_FALSE(t.erase(a));
  t.set(a, 7);
  EXPECT_TRUE(t.contains(a));
  EXPECT_EQ(*t.find(a), 7);
  t.set(a, 8);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(*t.find(a), 8);
  EXPECT_TRUE(t.erase(a));
  EXPECT_FALSE(t.contains(a));
}

}  // namespace
}  // namespace synscope
