#include "sim/event_queue.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/rng.h"

namespace synscope::sim {
namespace {

// The FIFO lanes must not change the order: events leave in (time, insertion) order, exactly as
// a single heap would give them. The simulator's byte-identical output depends on it.
TEST(EventQueue, LanesKeepTheGlobalTimeThenInsertionOrder) {
  Rng rng(7);
  EventQueue q;
  struct Ref {
    std::int64_t t;
    std::uint32_t id;
  };
  std::vector<Ref> popped, expected;
  SimTime now{};
  std::uint32_t next_id = 0;
  const Duration fixed[] = {micros(360), micros(90), seconds(1), seconds(60)};
  auto push_some = [&] {
    int n = static_cast<int>(rng.below(4));
    for (int i = 0; i < n; ++i) {
      std::uint32_t id = next_id++;
      if (rng.below(4) == 0) {
        Duration d{static_cast<std::int64_t>(rng.below(5'000'000'000ULL))};  // one-off delay
        q.push_after(now, d, EventKind::Timer, 0, 0, id, 0);
        expected.push_back({(now + d).count(), id});
      } else {
        Duration d = fixed[rng.below(4)];
        q.push_after(now, d, EventKind::Deliver, 0, 0, id, 0);
        expected.push_back({(now + d).count(), id});
      }
    }
  };
  for (int i = 0; i < 64; ++i) push_some();
  while (!q.empty()) {
    ASSERT_EQ(q.size(), expected.size() - popped.size());
    std::int64_t t = q.next_time();
    Event e = q.pop();
    EXPECT_EQ(e.time_ns, t);
    now = SimTime{e.time_ns};
    popped.push_back({e.time_ns, e.a});
    if (next_id < 100000) push_some();
  }
  // ids were assigned in insertion order, so (time, id) is the reference order.
  std::stable_sort(expected.begin(), expected.end(), [](const Ref& x, const Ref& y) {
    return x.t < y.t || (x.t == y.t && x.id < y.id);
  });
  ASSERT_EQ(popped.size(), expected.size());
  for (std::size_t i = 0; i < popped.size(); ++i) {
    ASSERT_EQ(popped[i].t, expected[i].t) << i;
    ASSERT_EQ(popped[i].id, expected[i].id) << i;
  }
}

}  // namespace
}  // namespace synscope::sim
