#pragma once
// The simulator's agenda: small POD events ordered by (time, insertion sequence). The sequence number makes ties deterministic, which the byte-identical-output
// guarantee depends on. std::priority_queue would do the same; a hand-rolled heap lets us reserve
// and keep events at 32 bytes for the millions-of-segments benchmark.
#include <array>
#include <climits>
#include <optional>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/ipv4.h"

#include "core/time.h"

namespace synscope::sim {

enum class EventKind : std::uint8_t { Deliver, Timer, App, Cancelled };

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

// Most events are scheduled a fixed delay ahead (a link's latency, a 60 s TIME_WAIT, a 1 s RTO), or on
// a grid that rounds up (EL7's 200 ms SYN-table scan), so events of one stream are scheduled in time
// order and leave in FIFO order too. Such events go to a FIFO lane per stream (an append to a
// vector) instead of the heap; pop() takes the smallest
// (time, seq) among the heap top and the lane fronts, so the global order — and therefore the
// simulator's output — is exactly the same as with one heap, at a fraction of the sift cost.
class EventQueue {
 public:
  static constexpr std::size_t kMaxLanes = 8;

  // An event at an absolute time (goes to the heap).
  void push(SimTime at, EventKind kind, std::uint8_t sub, std::uint32_t target, std::uint32_t a, std::uint32_t b) {
    heap_push(Event{at.count(), next_seq_++, kind, sub, 0, target, a, b});
  }
  // An event `delay` after `now`; events of one delay share a lane.
  std::uint64_t push_after(SimTime now, Duration delay, EventKind kind, std::uint8_t sub, std::uint32_t target,
                  std::uint32_t a, std::uint32_t b) {
    return push_stream(now + delay, static_cast<std::uint64_t>(delay.count()), kind, sub, target, a, b);
  }
  // An event on a caller-chosen stream whose times mostly grow (e.g. one kind of timer). It joins
  // the stream's lane when that keeps the lane sorted, and the heap otherwise, so any stream key is
  // correct; a good one just keeps most events out of the heap.
  //
  // Returns a handle for cancel(): non-zero when the event went to a lane, where it can be
  // cancelled in place; 0 for a heap event (its owner must recognise it as stale when it fires).
  std::uint64_t push_stream(SimTime at, std::uint64_t stream, EventKind kind, std::uint8_t sub,
                            std::uint32_t target, std::uint32_t a, std::uint32_t b) {
    int li = lane_for(stream);
    if (li >= 0) {
      Lane& lane = lanes_[static_cast<std::size_t>(li)];
      if (lane.empty() || lane.back_time() <= at.count()) {
        const bool was_empty = lane.empty();
        const std::uint64_t pos = lane.tail;
        Event& e = lane.append();
        fill(e, at.count(), kind, sub, target, a, b);
        ++lane_events_;
        if (was_empty) front_[static_cast<std::size_t>(li)] = Key{e.time_ns, e.seq};
        return (static_cast<std::uint64_t>(li + 1) << kLaneShift) | pos;
      }
    }
    heap_push(Event{at.count(), next_seq_++, kind, sub, 0, target, a, b});
    return 0;
  }
  // Cancels a pending lane event: it is dropped when it reaches its lane's front, without being
  // returned, and every other event keeps its place. Returns its time when it was pending and not
  // already cancelled; nullopt otherwise (handle 0, popped, or cancelled before).
  std::optional<std::int64_t> cancel(std::uint64_t handle) {
    if (handle == 0) return std::nullopt;
    const auto li = static_cast<std::size_t>((handle >> kLaneShift) - 1);
    const std::uint64_t pos = handle & ((std::uint64_t{1} << kLaneShift) - 1);
    Lane& lane = lanes_[li];
    if (pos < lane.head || pos >= lane.tail) return std::nullopt;
    Event& e = lane.at(pos);
    if (e.kind == EventKind::Cancelled) return std::nullopt;
    e.kind = EventKind::Cancelled;
    if (pos == lane.head) drop_cancelled_front(li);
    return e.time_ns;
  }
  bool empty() const { return heap_.empty() && lane_events_ == 0; }
  // Pending events, counting cancelled ones not yet dropped from the middle of their lane.
  std::size_t size() const { return heap_.size() + lane_events_; }
  // Time of the next event; the queue must not be empty.
  std::int64_t next_time() const { return peek(next_source()).time_ns; }
  // Pops the next event if it is due at or before `end_ns`.
  bool pop_until(std::int64_t end_ns, Event& out) {
    if (empty()) return false;
    int src = next_source();
    if (peek(src).time_ns > end_ns) return false;
    out = pop_from(src);
    return true;
  }
  Event pop() { return pop_from(next_source()); }
  void reserve(std::size_t n) { heap_.reserve(n); }

 private:
  Event pop_from(int src) {
    if (src < 0) {
      Event e = heap_.front();
      heap_.front() = heap_.back();
      heap_.pop_back();
      if (!heap_.empty()) sift_down(0);
      return e;
    }
    Lane& lane = lanes_[static_cast<std::size_t>(src)];
    Event e = lane.take();
    --lane_events_;
    drop_cancelled_front(static_cast<std::size_t>(src));
    return e;
  }
  // Keeps a lane's front a live event (pop and peek rely on it) and its key current.
  void drop_cancelled_front(std::size_t li) {
    Lane& lane = lanes_[li];
    while (!lane.empty() && lane.front().kind == EventKind::Cancelled) {
      lane.take();
      --lane_events_;
    }
    if (lane.empty()) {
      front_[li] = Key{};
    } else {
      const Event& f = lane.front();
      front_[li] = Key{f.time_ns, f.seq};
    }
  }

  // Written field by field into its final place: building an Event on the stack and copying it
  // stalled on store forwarding (perf showed a quarter of push_stream on that copy).
  void fill(Event& e, std::int64_t at, EventKind kind, std::uint8_t sub, std::uint32_t target, std::uint32_t a,
            std::uint32_t b) {
    e.time_ns = at;
    e.seq = next_seq_++;
    e.kind = kind;
    e.sub = sub;
    e.pad = 0;
    e.target = target;
    e.a = a;
    e.b = b;
  }

  // A lane is a ring buffer (power-of-two capacity, grown by doubling): FIFO without the memmove
  // a vector needs to drop its consumed front, which mattered for the 60 s TIME_WAIT lane.
  struct Lane {
    std::uint64_t stream = 0;
    std::vector<Event> ring;
    std::uint64_t head = 0, tail = 0;  // ever-growing positions (handles name them); slot = position & (size - 1)

    bool empty() const { return head == tail; }
    Event& at(std::uint64_t pos) { return ring[pos & (ring.size() - 1)]; }
    std::int64_t back_time() const { return ring[(tail - 1) & (ring.size() - 1)].time_ns; }
    const Event& front() const { return ring[head & (ring.size() - 1)]; }
    Event take() { return ring[head++ & (ring.size() - 1)]; }
    Event& append() {
      if (tail - head == ring.size()) grow();
      return ring[tail++ & (ring.size() - 1)];
    }
    void grow() {
      // Positions stay as they are (handles refer to them); only their slots move.
      std::vector<Event> bigger(ring.empty() ? 64 : ring.size() * 2);
      for (std::uint64_t i = head; i != tail; ++i) bigger[i & (bigger.size() - 1)] = ring[i & (ring.size() - 1)];
      ring.swap(bigger);
    }
  };
  static bool less(const Event& x, const Event& y) {
    return x.time_ns < y.time_ns || (x.time_ns == y.time_ns && x.seq < y.seq);
  }
  int lane_for(std::uint64_t stream) {
    // Only a stream that keeps recurring earns a lane: one-off delays (start times, quantised
    // timers) would otherwise take the few lanes there are. The slot also caches the lane index.
    Candidate& c = candidates_[static_cast<std::size_t>(mix64(stream) & (candidates_.size() - 1))];
    if (c.stream == stream && c.lane >= 0) return c.lane;
    for (std::size_t i = 0; i < lanes_.size(); ++i)
      if (lanes_[i].stream == stream) return c = Candidate{stream, 0, static_cast<int>(i)}, static_cast<int>(i);
    if (lanes_.size() == kMaxLanes) return -1;
    if (c.stream != stream) {
      c = Candidate{stream, 1, -1};
      return -1;
    }
    if (++c.count < kPromoteAfter) return -1;
    lanes_.push_back(Lane{stream, {}, 0, 0});
    c.lane = static_cast<int>(lanes_.size() - 1);
    return c.lane;
  }
  // -1 = heap, else lane index; the queue must not be empty.
  int next_source() const {
    int best = -1;
    Key best_key = heap_.empty() ? Key{} : Key{heap_.front().time_ns, heap_.front().seq};
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
      const Key& k = front_[i];
      if (k.time_ns < best_key.time_ns || (k.time_ns == best_key.time_ns && k.seq < best_key.seq)) {
        best = static_cast<int>(i);
        best_key = k;
      }
    }
    return best;
  }
  const Event& peek(int src) const {
    if (src < 0) return heap_.front();
    return lanes_[static_cast<std::size_t>(src)].front();
  }
  void heap_push(const Event& e) {
    heap_.push_back(e);
    sift_up(heap_.size() - 1);
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
  static constexpr std::uint32_t kPromoteAfter = 32;
  static constexpr int kLaneShift = 56;  // handle = (lane + 1) << 56 | position in the lane
  struct Key {  // (time, seq) of a lane's front; the default sorts after everything (empty lane)
    std::int64_t time_ns = INT64_MAX;
    std::uint64_t seq = UINT64_MAX;
  };
  struct Candidate {
    std::uint64_t stream = ~std::uint64_t{0};
    std::uint32_t count = 0;
    int lane = -1;
  };
  std::vector<Lane> lanes_;
  std::array<Key, kMaxLanes> front_{};
  std::array<Candidate, 64> candidates_{};
  std::size_t lane_events_ = 0;
  std::uint64_t next_seq_ = 0;
};

}  // namespace synscope::sim
