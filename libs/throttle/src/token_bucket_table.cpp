#include "throttle/token_bucket_table.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace iot::throttle {
namespace {

// Slots examined per new device when the table is full: enough to find refilled entries in a
// table of mostly idle devices, small enough that a flood of new keys costs a constant each.
constexpr std::size_t kSweepStep = 256;
constexpr std::size_t kInitialSlots = 64;

// Seconds, rounded up: a device told to come back earlier would only be refused again.
std::chrono::seconds ceil_seconds(std::chrono::nanoseconds wait) {
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(wait));
}

}  // namespace

TokenBucketTable::TokenBucketTable(RateLimit limit, std::size_t max_devices, std::uint64_t seed)
    : limit_(limit), max_devices_(max_devices), seed_(seed) {
  if (!(limit.events_per_second > 0) || !std::isfinite(limit.events_per_second) ||
      limit.burst == 0 || max_devices == 0) {
    throw std::invalid_argument("TokenBucketTable: rate, burst and max_devices must be positive");
  }
  per_token_ =
      Nanos(std::max<Nanos::rep>(1, std::llround(1e9 / std::max(limit.events_per_second, 1e-9))));
  // A full bucket spans burst * per_token_; it has to fit a time_point's range with room to spare.
  if (limit.burst >
      static_cast<std::uint64_t>(std::numeric_limits<Nanos::rep>::max() / 4 / per_token_.count())) {
    throw std::invalid_argument("TokenBucketTable: burst / rate too large");
  }
  // Room for max_devices at a load factor of at most 0.8, so probe sequences stay short and
  // always end at a free slot.
  max_slots_ = std::bit_ceil(max_devices_ + max_devices_ / 4 + 1);
}

std::uint64_t TokenBucketTable::hash(std::span<const std::uint8_t> key) const {
  // FNV-1a from a seeded basis, then a 64-bit finaliser (splitmix64) so that nearby keys
  // (consecutive ports) spread over the whole table.
  std::uint64_t h = 0xcbf29ce484222325ULL ^ seed_;
  for (std::uint8_t byte : key) {
    h ^= byte;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

std::size_t TokenBucketTable::find(std::span<const std::uint8_t> key, std::uint64_t h) const {
  if (slots_.empty()) return kNotFound;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask; slots_[i].used; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.hash == h && slot.key.size() == key.size() &&
        std::memcmp(slot.key.data(), key.data(), key.size()) == 0) {
      return i;
    }
  }
  return kNotFound;
}

Decision TokenBucketTable::decide(Clock::time_point full_at, std::uint64_t cost,
                                  Clock::time_point now, Clock::time_point* new_full_at) const {
  if (cost > limit_.burst) return Decision{false, std::chrono::seconds::max()};
  // Taking `cost` tokens moves the time the bucket is full again by cost * per_token_; the
  // bucket holds them iff that time is at most one full bucket (burst * per_token_) ahead.
  const Clock::time_point after =
      std::max(full_at, now) + per_token_ * static_cast<Nanos::rep>(cost);
  const Nanos capacity = per_token_ * static_cast<Nanos::rep>(limit_.burst);
  const Nanos ahead = after - now;
  if (ahead <= capacity) {
    *new_full_at = after;
    return Decision{true, std::chrono::seconds(0)};
  }
  return Decision{false, ceil_seconds(ahead - capacity)};
}

Decision TokenBucketTable::would_admit(std::span<const std::uint8_t> key, std::uint64_t cost,
                                       Clock::time_point now) const {
  const std::size_t index = find(key, hash(key));
  Clock::time_point ignored;
  // An unknown device has a full bucket.
  return decide(index == kNotFound ? now : slots_[index].full_at, cost, now, &ignored);
}

Decision TokenBucketTable::admit(std::span<const std::uint8_t> key, std::uint64_t cost,
                                 Clock::time_point now) {
  const std::uint64_t h = hash(key);
  const std::size_t index = find(key, h);
  Clock::time_point full_at;
  const Decision decision =
      decide(index == kNotFound ? now : slots_[index].full_at, cost, now, &full_at);
  if (!decision.allowed) return decision;
  if (index != kNotFound) {
    slots_[index].full_at = full_at;
  } else if (full_at > now) {  // a new device that took nothing has nothing to remember
    if (size_ < max_devices_ || make_room(now)) {
      insert(key, h, full_at);
    } else {
      ++untracked_admissions_;
    }
  }
  return decision;
}

bool TokenBucketTable::make_room(Clock::time_point now) {
  if (slots_.empty()) return size_ < max_devices_;
  const std::size_t mask = slots_.size() - 1;
  const std::size_t step = std::min(kSweepStep, slots_.size());
  for (std::size_t examined = 0; examined < step; ++examined) {
    const Slot& slot = slots_[sweep_cursor_];
    if (slot.used && slot.full_at <= now) {
      // The erase may shift a later entry into this slot: look at it again next.
      erase(sweep_cursor_);
    } else {
      sweep_cursor_ = (sweep_cursor_ + 1) & mask;
    }
  }
  return size_ < max_devices_;
}

void TokenBucketTable::insert(std::span<const std::uint8_t> key, std::uint64_t h,
                              Clock::time_point full_at) {
  if ((size_ + 1) * 4 > slots_.size() * 3 && slots_.size() < max_slots_) grow();
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = h & mask;
  while (slots_[i].used) i = (i + 1) & mask;
  Slot& slot = slots_[i];
  slot.used = true;
  slot.hash = h;
  slot.key.assign(reinterpret_cast<const char*>(key.data()), key.size());
  slot.full_at = full_at;
  ++size_;
}

void TokenBucketTable::erase(std::size_t index) {
  // Backward-shift deletion: no tombstones, so probe sequences never grow with churn.
  const std::size_t mask = slots_.size() - 1;
  std::size_t hole = index;
  for (std::size_t next = (hole + 1) & mask; slots_[next].used; next = (next + 1) & mask) {
    const std::size_t home = slots_[next].hash & mask;
    // The entry at `next` must stay unless the hole lies on its probe path (home .. next).
    const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (!stays) {
      std::swap(slots_[hole], slots_[next]);
      hole = next;
    }
  }
  slots_[hole].used = false;
  --size_;
}

void TokenBucketTable::grow() {
  const std::size_t capacity =
      slots_.empty() ? std::min(kInitialSlots, max_slots_) : slots_.size() * 2;
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
  const std::size_t mask = capacity - 1;
  for (Slot& slot : old) {
    if (!slot.used) continue;
    std::size_t i = slot.hash & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i] = std::move(slot);
  }
  sweep_cursor_ = 0;
}

}  // namespace iot::throttle
