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

// Cancelling lane events in place must leave every other event in its (time, insertion) place, and
// a cancelled event must never come out. The simulator cancels timers this way.
TEST(EventQueue, CancelledEventsNeverPopAndOthersKeepTheirOrder) {
  Rng rng(11);
  EventQueue q;
  struct Pending {
    std::int64_t t;
    std::uint32_t id;
    std::uint64_t handle;
  };
  std::vector<Pending> pending;
  std::vector<std::pair<std::int64_t, std::uint32_t>> expected, popped;
  std::vector<bool> cancelled;
  SimTime now{};
  const Duration fixed[] = {micros(360), seconds(1), seconds(60)};
  std::uint32_t next_id = 0;
  int lane_cancels = 0;
  while (next_id < 50000 || !q.empty()) {
    for (int n = static_cast<int>(rng.below(3)); n > 0 && next_id < 50000; --n) {
      Duration d = rng.below(5) == 0 ? Duration{static_cast<std::int64_t>(rng.below(3'000'000'000ULL))}
                                     : fixed[rng.below(3)];
      std::uint32_t id = next_id++;
      std::uint64_t h = q.push_after(now, d, EventKind::Timer, 0, 0, id, 0);
      pending.push_back({(now + d).count(), id, h});
      cancelled.push_back(false);
    }
    if (!pending.empty() && rng.below(3) == 0) {  // cancel one of the latest events (or a popped one)
      const Pending& p = pending[pending.size() - 1 - rng.below(std::min<std::size_t>(pending.size(), 256))];
      auto at = q.cancel(p.handle);
      if (at) {
        EXPECT_EQ(*at, p.t);
        EXPECT_FALSE(cancelled[p.id]);
        cancelled[p.id] = true;
        ++lane_cancels;
        EXPECT_FALSE(q.cancel(p.handle).has_value());  // only once
      }
    }
    if (q.empty()) continue;
    Event e = q.pop();
    now = SimTime{e.time_ns};
    ASSERT_NE(e.kind, EventKind::Cancelled);
    ASSERT_FALSE(cancelled[e.a]) << e.a;
    EXPECT_FALSE(q.cancel(pending[e.a].handle).has_value());  // popped: no longer cancellable
    popped.push_back({e.time_ns, e.a});
  }
  for (const auto& p : pending)
    if (!cancelled[p.id]) expected.push_back({p.t, p.id});
  std::sort(expected.begin(), expected.end());
  EXPECT_GT(lane_cancels, 300);
  ASSERT_EQ(popped, expected);
}

// More recurring delays than there are lanes: every lane is used (the lanes' tournament tree is
// exercised on all its branches), the rest share the heap, and fronts change by pops and by
// cancellations. The order must still be exactly (time, insertion).
TEST(EventQueue, EveryLaneAndTheHeapTogetherKeepTheOrder) {
  Rng rng(23);
  EventQueue q;
  std::vector<Duration> fixed;
  for (int i = 0; i < 12; ++i) fixed.push_back(micros(100 + 700 * i));
  struct Pending {
    std::int64_t t;
    std::uint64_t handle;
  };
  std::vector<Pending> pending;
  std::vector<bool> cancelled;
  std::vector<std::pair<std::int64_t, std::uint32_t>> expected, popped;
  SimTime now{};
  int cancels = 0;
  while (pending.size() < 100000 || !q.empty()) {
    for (int n = static_cast<int>(rng.below(3)); n > 0 && pending.size() < 100000; --n) {
      const Duration d = rng.below(8) == 0 ? Duration{static_cast<std::int64_t>(rng.below(20'000'000))}
                                           : fixed[rng.below(fixed.size())];
      const auto id = static_cast<std::uint32_t>(pending.size());
      pending.push_back({(now + d).count(), q.push_after(now, d, EventKind::Timer, 0, 0, id, 0)});
      cancelled.push_back(false);
    }
    if (!pending.empty() && rng.below(4) == 0) {
      const auto id = static_cast<std::uint32_t>(pending.size() - 1 - rng.below(std::min<std::size_t>(pending.size(), 64)));
      if (q.cancel(pending[id].handle)) {
        cancelled[id] = true;
        ++cancels;
      }
    }
    Event e;
    if (!q.pop_until(now.count() + 1'000'000, e)) {  // nothing within 1 ms: jump to the next event
      if (q.empty()) continue;
      e = q.pop();
    }
    ASSERT_GE(e.time_ns, now.count());
    now = SimTime{e.time_ns};
    ASSERT_FALSE(cancelled[e.a]) << e.a;
    popped.push_back({e.time_ns, e.a});
  }
  for (std::uint32_t id = 0; id < pending.size(); ++id)
    if (!cancelled[id]) expected.push_back({pending[id].t, id});
  std::sort(expected.begin(), expected.end());
  EXPECT_GT(cancels, 1000);
  ASSERT_EQ(popped, expected);
}

}  // namespace
}  // namespace synscope::sim
