#pragma once
// A hash table from a connection's 4-tuple to a small value, with open addressing (linear probing,
// backward-shift deletion, power-of-two capacity). Written here rather than using
// std::unordered_map because socket lookup is on the simulator's hot path: one allocation-free
// probe into a flat array instead of a prime-modulo bucket walk through heap nodes, and erase
// without freeing (the benchmark showed the node map at ~15 % of the run time).
#include <cstdint>
#include <vector>

#include "core/ipv4.h"

namespace synscope {

template <typename Value>
class TupleTable {
 public:
  TupleTable() { slots_.resize(16); }

  Value* find(const FourTuple& t) {
    auto [a, b] = keys(t);
    for (std::size_t i = home(a, b);; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.a == kEmpty) return nullptr;
      if (s.a == a && s.b == b) return &s.value;
    }
  }
  const Value* find(const FourTuple& t) const { return const_cast<TupleTable*>(this)->find(t); }
  // Starts loading the slot a lookup of `t` begins at (a hint: nothing changes).
  void prefetch(const FourTuple& t) const {
    auto [a, b] = keys(t);
    __builtin_prefetch(&slots_[home(a, b)]);
  }
  bool contains(const FourTuple& t) const { return find(t) != nullptr; }

  // Inserts or overwrites.
  void set(const FourTuple& t, const Value& v) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    auto [a, b] = keys(t);
    for (std::size_t i = home(a, b);; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.a == kEmpty) {
        s = Slot{a, b, v};
        ++size_;
        return;
      }
      if (s.a == a && s.b == b) {
        s.value = v;
        return;
      }
    }
  }

  bool erase(const FourTuple& t) {
    auto [a, b] = keys(t);
    std::size_t i = home(a, b);
    for (;; i = (i + 1) & mask()) {
      if (slots_[i].a == kEmpty) return false;
      if (slots_[i].a == a && slots_[i].b == b) break;
    }
    // Backward shift: move later members of the probe run into the hole so lookups never need tombstones.
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask();; j = (j + 1) & mask()) {
      Slot& s = slots_[j];
      if (s.a == kEmpty) break;
      std::size_t want = home(s.a, s.b);
      // Move s if its home is not in the cyclic range (hole, j].
      bool stays = hole <= j ? (want > hole && want <= j) : (want > hole || want <= j);
      if (!stays) {
        slots_[hole] = s;
        hole = j;
      }
    }
    slots_[hole].a = kEmpty;
    --size_;
    return true;
  }

  std::size_t size() const { return size_; }

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};  // endpoint keys use 48 bits
  struct Slot {
    std::uint64_t a = kEmpty;
    std::uint64_t b = 0;
    Value value{};
  };
  static std::pair<std::uint64_t, std::uint64_t> keys(const FourTuple& t) {
    return {endpoint_key(t.local), endpoint_key(t.remote)};
  }
  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t home(std::uint64_t a, std::uint64_t b) const {
    return static_cast<std::size_t>(mix64(a * 0x9e3779b97f4a7c15ULL ^ b)) & mask();
  }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    size_ = 0;
    for (const Slot& s : old)
      if (s.a != kEmpty)
        for (std::size_t i = home(s.a, s.b);; i = (i + 1) & mask())
          if (slots_[i].a == kEmpty) {
            slots_[i] = s;
            ++size_;
            break;
          }
  }
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace synscope
