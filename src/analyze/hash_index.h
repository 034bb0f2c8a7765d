#pragma once
// A flat hash map from a 64-bit key hash to a small value (open addressing, linear probing,
// backward-shift deletion). The analyzer's per-packet and per-SYN look-ups (address pairs, addresses,
// server ports, finished attempts) go through these instead of std::unordered_map: one probe into a
// contiguous array rather than a walk through heap nodes — the node maps were a quarter of analyze's
// run time. Keys are 64-bit hashes of the real key; two real keys sharing a hash (odds ~2^-64 per
// pair) would share an entry, which for these uses only merges two statistics.
#include <cstdint>
#include <utility>
#include <vector>

namespace synscope::analyze {

// A cache-line prefetch that survives optimisation. GCC finds a function whose only effect is
// __builtin_prefetch "pure" and deletes the calls to it (at -O2 and up), which silently removed
// every look-ahead hint of the tracker; the empty volatile asm is a side effect it keeps.
inline void prefetch_line(const void* p) {
  __builtin_prefetch(p);
  asm volatile("" : : "r"(p));
}

template <typename Value>
class HashIndex {
 public:
  HashIndex() { slots_.resize(64); }

  Value* find(std::uint64_t key) {
    key = fix(key);
    for (std::size_t i = key & mask();; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.key == 0) return nullptr;
      if (s.key == key) return &s.value;
    }
  }
  const Value* find(std::uint64_t key) const { return const_cast<HashIndex*>(this)->find(key); }
  // The value for `key`, default-constructed if new; `inserted` tells which.
  Value& get(std::uint64_t key, bool& inserted) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    key = fix(key);
    for (std::size_t i = key & mask();; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (s.key == key) {
        inserted = false;
        return s.value;
      }
      if (s.key == 0) {
        s.key = key;
        s.value = Value{};
        ++size_;
        inserted = true;
        return s.value;
      }
    }
  }
  bool erase(std::uint64_t key) {
    key = fix(key);
    std::size_t i = key & mask();
    for (;; i = (i + 1) & mask()) {
      if (slots_[i].key == 0) return false;
      if (slots_[i].key == key) break;
    }
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask();; j = (j + 1) & mask()) {
      Slot& s = slots_[j];
      if (s.key == 0) break;
      const std::size_t want = s.key & mask();
      const bool stays = hole <= j ? (want > hole && want <= j) : (want > hole || want <= j);
      if (!stays) {
        slots_[hole] = std::move(s);
        hole = j;
      }
    }
    slots_[hole].key = 0;
    slots_[hole].value = Value{};
    --size_;
    return true;
  }
  std::size_t size() const { return size_; }
  // Starts loading the slot `key` would be found at (a hint for a look-up soon).
  void prefetch(std::uint64_t key) const { prefetch_line(&slots_[fix(key) & mask()]); }
  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.key) f(s.key, s.value);
  }

 private:
  struct Slot {
    std::uint64_t key = 0;  // 0 = empty
    Value value{};
  };
  static std::uint64_t fix(std::uint64_t k) { return k ? k : 1; }
  std::size_t mask() const { return slots_.size() - 1; }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.size() * 2);
    size_ = 0;
    for (Slot& s : old)
      if (s.key)
        for (std::size_t i = s.key & mask();; i = (i + 1) & mask())
          if (slots_[i].key == 0) {
            slots_[i] = std::move(s);
            ++size_;
            break;
          }
  }
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

// The same for keys alone: 8 bytes a slot (a HashIndex<char> would pad to 16).
class HashKeySet {
 public:
  HashKeySet() { keys_.resize(64); }
  bool contains(std::uint64_t key) const {
    key = key ? key : 1;
    for (std::size_t i = key & mask();; i = (i + 1) & mask()) {
      if (keys_[i] == 0) return false;
      if (keys_[i] == key) return true;
    }
  }
  // True when newly added.
  bool insert(std::uint64_t key) {
    if ((size_ + 1) * 4 > keys_.size() * 3) grow();
    key = key ? key : 1;
    for (std::size_t i = key & mask();; i = (i + 1) & mask()) {
      if (keys_[i] == key) return false;
      if (keys_[i] == 0) {
        keys_[i] = key;
        ++size_;
        return true;
      }
    }
  }
  void erase(std::uint64_t key) {
    key = key ? key : 1;
    std::size_t i = key & mask();
    for (;; i = (i + 1) & mask()) {
      if (keys_[i] == 0) return;
      if (keys_[i] == key) break;
    }
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask();; j = (j + 1) & mask()) {
      const std::uint64_t k = keys_[j];
      if (k == 0) break;
      const std::size_t want = k & mask();
      const bool stays = hole <= j ? (want > hole && want <= j) : (want > hole || want <= j);
      if (!stays) {
        keys_[hole] = k;
        hole = j;
      }
    }
    keys_[hole] = 0;
    --size_;
  }

  std::size_t size() const { return size_; }
  void prefetch(std::uint64_t key) const { prefetch_line(&keys_[(key ? key : 1) & mask()]); }

 private:
  std::size_t mask() const { return keys_.size() - 1; }
  void grow() {
    std::vector<std::uint64_t> old;
    old.swap(keys_);
    keys_.assign(old.size() * 2, 0);
    for (std::uint64_t k : old)
      if (k)
        for (std::size_t i = k & mask();; i = (i + 1) & mask())
          if (keys_[i] == 0) {
            keys_[i] = k;
            break;
          }
  }
  std::vector<std::uint64_t> keys_;
  std::size_t size_ = 0;
};

}  // namespace synscope::analyze
