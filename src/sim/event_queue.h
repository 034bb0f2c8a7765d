#pragma once
// The simulator's agenda: small POD events ordered by (time, insertion sequence). The sequence number makes ties deterministic, which the byte-identical-output
// guarantee depends on. std::priority_queue would do the same; a hand-rolled heap lets us reserve
// and keep events at 32 bytes for the millions-of-segments benchmark.
#include <array>
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
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
  // (time, seq) as one unsigned 128-bit number, compared in one go: the time's sign bit is flipped
  // so that unsigned order is signed time order. kNoKey sorts after every event (empty lane).
  __extension__ typedef unsigned __int128 Key;
  static constexpr Key kNoKey = ~Key{0};
  static Key key(const Event& e) {
    return (Key{static_cast<std::uint64_t>(e.time_ns) ^ (std::uint64_t{1} << 63)} << 64) | e.seq;
  }
  static std::int64_t time_of(Key k) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(k >> 64) ^ (std::uint64_t{1} << 63));
  }
  struct Candidate {  // a stream seen in the heap, and how often
    std::uint64_t stream = ~std::uint64_t{0};
    std::uint32_t count = 0;
  };
  struct LaneCacheSlot {  // stream → lane, direct-mapped
    std::uint64_t stream = ~std::uint64_t{0};
    int lane = -1;
  };

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
  // Inlined into its few callers (a push per segment and per timer); the rare paths are not.
  [[gnu::always_inline]] std::uint64_t push_stream(SimTime at, std::uint64_t stream, EventKind kind,
                                                   std::uint8_t sub, std::uint32_t target, std::uint32_t a,
                                                   std::uint32_t b) {
    int li = lane_for(stream);
    if (li >= 0) [[likely]] {
      Lane& lane = lanes_[static_cast<std::size_t>(li)];
      if (lane.empty() || lane.back_time() <= at.count()) {
        const bool was_empty = lane.empty();
        const std::uint64_t pos = lane.tail;
        Event& e = lane.append();
        fill(e, at.count(), kind, sub, target, a, b);
        ++lane_events_;
        if (was_empty) set_front(static_cast<std::size_t>(li), key(e));
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
    Key best;
    const int src = next_source(best);
    if (best == kNoKey || time_of(best) > end_ns) return false;  // empty, or nothing due yet
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
    set_front(li, lane.empty() ? kNoKey : key(lane.front()));
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
    std::unique_ptr<Event[]> ring;
    std::uint64_t mask = 0;            // capacity - 1 (capacity 0 before the first append)
    std::uint64_t head = 0, tail = 0;  // ever-growing positions (handles name them); slot = position & mask

    bool empty() const { return head == tail; }
    Event& at(std::uint64_t pos) { return ring[pos & mask]; }
    std::int64_t back_time() const { return ring[(tail - 1) & mask].time_ns; }
    const Event& front() const { return ring[head & mask]; }
    Event take() { return ring[head++ & mask]; }
    Event& append() {
      if (ring == nullptr || tail - head == mask + 1) grow();
      return ring[tail++ & mask];
    }
    [[gnu::noinline]] void grow() {
      // Positions stay as they are (handles refer to them); only their slots move.
      const std::uint64_t capacity = ring == nullptr ? 64 : 2 * (mask + 1);
      auto bigger = std::make_unique<Event[]>(capacity);
      for (std::uint64_t i = head; i != tail; ++i) bigger[i & (capacity - 1)] = ring[i & mask];
      ring = std::move(bigger);
      mask = capacity - 1;
    }
  };
  static constexpr std::array<Key, kMaxLanes> filled_keys() {
    std::array<Key, kMaxLanes> keys{};
    keys.fill(kNoKey);
    return keys;
  }
  static constexpr std::array<std::uint8_t, 2 * kMaxLanes> initial_winners() {
    // Every lane is empty, so any lane of a node's own subtree wins it: take the leftmost. (A lane
    // from outside the subtree would go stale once its own front changed.)
    std::array<std::uint8_t, 2 * kMaxLanes> w{};
    for (std::size_t n = 1; n < 2 * kMaxLanes; ++n) {
      std::size_t leaf = n;
      while (leaf < kMaxLanes) leaf *= 2;
      w[n] = static_cast<std::uint8_t>(leaf - kMaxLanes);
    }
    return w;
  }
  static bool less(const Event& x, const Event& y) {
    return x.time_ns < y.time_ns || (x.time_ns == y.time_ns && x.seq < y.seq);
  }
  // The stream's lane, or -1 (heap). A direct-mapped cache (Fibonacci hashing: the top bits of one
  // multiplication) answers for the streams that have lanes.
  int lane_for(std::uint64_t stream) {
    LaneCacheSlot& c = lane_cache_[static_cast<std::size_t>((stream * 0x9e3779b97f4a7c15ULL) >> kLaneCacheShift)];
    if (c.stream == stream) [[likely]] return c.lane;
    return lane_for_slow(stream, c);
  }
  [[gnu::noinline]] int lane_for_slow(std::uint64_t stream, LaneCacheSlot& c) {
    for (std::size_t i = 0; i < lane_count_; ++i)
      if (lanes_[i].stream == stream) return c = LaneCacheSlot{stream, static_cast<int>(i)}, static_cast<int>(i);
    return promote(stream);
  }
  // Only a stream that keeps recurring earns a lane: one-off delays (start times, quantised timers)
  // would otherwise take the few lanes there are. Heap streams are counted in a small table that
  // evicts its least counted entry, so one-off streams cannot keep a recurring one from its lane
  // (a direct-mapped table could: two streams alternating in one slot both restarted from zero).
  int promote(std::uint64_t stream) {
    if (lane_count_ == kMaxLanes) return -1;
    Candidate* slot = &candidates_[0];
    for (Candidate& c : candidates_) {
      if (c.stream == stream) {
        slot = &c;
        break;
      }
      if (c.count < slot->count) slot = &c;
    }
    if (slot->stream != stream) *slot = Candidate{stream, 0};
    if (++slot->count < kPromoteAfter) return -1;
    *slot = Candidate{};
    lanes_[lane_count_].stream = stream;
    return static_cast<int>(lane_count_++);
  }
  // Sets a lane's front key and replays its matches in the tournament tree over the lanes
  // (winner_[1] is the lane with the least front; leaves are winner_[kMaxLanes + lane] = lane), so
  // finding the next source costs one comparison with the heap instead of a scan of every lane.
  void set_front(std::size_t lane, Key k) {
    front_[lane] = k;
    for (std::size_t n = (kMaxLanes + lane) / 2; n > 0; n /= 2) {
      const std::uint8_t a = winner_[2 * n], b = winner_[2 * n + 1];
      winner_[n] = front_[b] < front_[a] ? b : a;
    }
  }
  // -1 = heap, else lane index, with its front's key in `best` (kNoKey when the queue is empty).
  int next_source(Key& best) const {
    const std::uint8_t lane = winner_[1];
    best = front_[lane];
    if (!heap_.empty()) {
      const Key h = key(heap_.front());
      if (h < best) {
        best = h;
        return -1;
      }
    }
    return lane;
  }
  int next_source() const {
    Key best;
    return next_source(best);
  }
  const Event& peek(int src) const {
    if (src < 0) return heap_.front();
    return lanes_[static_cast<std::size_t>(src)].front();
  }
  [[gnu::noinline]] void heap_push(const Event& e) {
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
  static constexpr int kLaneCacheShift = 58;  // 64 cache slots
  std::array<Lane, kMaxLanes> lanes_;
  std::size_t lane_count_ = 0;
  std::array<Key, kMaxLanes> front_ = filled_keys();
  std::array<std::uint8_t, 2 * kMaxLanes> winner_ = initial_winners();
  std::array<LaneCacheSlot, std::size_t{1} << (64 - kLaneCacheShift)> lane_cache_{};
  std::array<Candidate, 16> candidates_{};
  std::size_t lane_events_ = 0;
  std::uint64_t next_seq_ = 0;
};

}  // namespace synscope::sim
