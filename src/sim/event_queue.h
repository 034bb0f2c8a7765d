#pragma once
// The simulator's agenda: a binary min-heap of small POD events ordered by (time, insertion
// sequence). The sequence number makes ties deterministic, which the byte-identical-output
// guarantee depends on. std::priority_queue would do the same; a hand-rolled heap lets us reserve
// and keep events at 32 bytes for the millions-of-segments benchmark.
#include <cstdint>
#include <vector>

#include "core/time.h"

namespace synscope::sim {

enum class EventKind : std::uint8_t { Deliver, Timer, App };

// 32 bytes: small enough that the heap of a 100k-connection run stays cache-friendly.
struct Event {
  std::int64_t time_ns;
  std::uint64_t seq;
  EventKind kind;
  std::uint8_t sub;       // timer kind / app action
  std::uint16_t pad;
  std::uint32_t target;   // host index or app index
  std::uint32_t a;        // segment slot / timer index / connection index
  std::uint32_t b;        // timer generation / connection generation
};

static_assert(sizeof(Event) == 32);

class EventQueue {
 public:
  void push(SimTime at, EventKind kind, std::uint8_t sub, std::uint32_t target, std::uint32_t a, std::uint32_t b) {
    heap_.push_back(Event{at.count(), next_seq_++, kind, sub, 0, target, a, b});
    sift_up(heap_.size() - 1);
  }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  const Event& top() const { return heap_.front(); }
  Event pop() {
    Event e = heap_.front();
    heap_.front() = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(0);
    return e;
  }
  void reserve(std::size_t n) { heap_.reserve(n); }

 private:
  static bool less(const Event& x, const Event& y) {
    return x.time_ns < y.time_ns || (x.time_ns == y.time_ns && x.seq < y.seq);
  }
  void sift_up(std::size_t i) {
    Event e = heap_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!less(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  void sift_down(std::size_t i) {
    Event e = heap_[i];
    std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && less(heap_[child + 1], heap_[child])) ++child;
      if (!less(heap_[child], e)) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = e;
  }
  std::vector<Event> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace synscope::sim
