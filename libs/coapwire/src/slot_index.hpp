#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace iot::coapwire::detail {

// Maps 64-bit keys to exchange slots with open addressing (linear probing, backward-shift
// deletion): no allocation per insert, unlike std::unordered_map's nodes, and one cache line per
// lookup in the common case. Grows by doubling at half load. Keys must not be kNoKey.
class SlotIndex {
 public:
  static constexpr std::uint64_t kNoKey = ~std::uint64_t{0};

  explicit SlotIndex(std::size_t expected = 64) {
    std::size_t capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    cells_.assign(capacity, Cell{});
  }

  std::optional<std::uint32_t> find(std::uint64_t key) const {
    for (std::size_t i = home(key);; i = next(i)) {
      if (cells_[i].key == key) return cells_[i].slot;
      if (cells_[i].key == kNoKey) return std::nullopt;
    }
  }

  // The key must be absent.
  void insert(std::uint64_t key, std::uint32_t slot) {
    if ((size_ + 1) * 2 > cells_.size()) grow();
    place(key, slot);
    ++size_;
  }

  bool erase(std::uint64_t key) {
    std::size_t hole = home(key);
    while (cells_[hole].key != key) {
      if (cells_[hole].key == kNoKey) return false;
      hole = next(hole);
    }
    // Pull later cells of the probe run back into the hole unless that would move one before
    // its home position.
    for (std::size_t i = next(hole); cells_[i].key != kNoKey; i = next(i)) {
      const std::size_t wanted = home(cells_[i].key);
      const bool wanted_in_hole_to_i =
          hole <= i ? (hole < wanted && wanted <= i) : (hole < wanted || wanted <= i);
      if (!wanted_in_hole_to_i) {
        cells_[hole] = cells_[i];
        hole = i;
      }
    }
    cells_[hole] = Cell{};
    --size_;
    return true;
  }

  std::size_t size() const { return size_; }

 private:
  struct Cell {
    std::uint64_t key = kNoKey;
    std::uint32_t slot = 0;
  };

  std::size_t home(std::uint64_t key) const {
    // splitmix64's finaliser: keys are structured (device << n | id), the low bits must mix.
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebull;
    key ^= key >> 31;
    return static_cast<std::size_t>(key) & (cells_.size() - 1);
  }
  std::size_t next(std::size_t i) const { return (i + 1) & (cells_.size() - 1); }

  void place(std::uint64_t key, std::uint32_t slot) {
    std::size_t i = home(key);
    while (cells_[i].key != kNoKey) i = next(i);
    cells_[i] = Cell{key, slot};
  }

  void grow() {
    std::vector<Cell> old(cells_.size() * 2);
    old.swap(cells_);
    for (const Cell& cell : old) {
      if (cell.key != kNoKey) place(cell.key, cell.slot);
    }
  }

  std::vector<Cell> cells_;
  std::size_t size_ = 0;
};

}  // namespace iot::coapwire::detail
