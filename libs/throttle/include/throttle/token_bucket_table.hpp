#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

// Per-device rate limiting: one token bucket per key, in a table of bounded size.
namespace iot::throttle {

struct RateLimit {
  double events_per_second = 1;  // refill rate, > 0
  std::uint64_t burst = 1;       // bucket size: the most events a rested device may send at once
};

struct Decision {
  bool allowed = false;
  // When refused: how long until the bucket holds the tokens asked for, rounded up, at least
  // 1 s (what a CoAP Max-Age can say). seconds::max() when it never will (cost > burst).
  std::chrono::seconds retry_after{0};
};

// Token buckets keyed by opaque bytes (a UDP source address and port today, a DTLS PSK identity
// later). Pure: the caller passes the time in, so tests need no clock, and the table is used by
// one thread (one table per collector worker).
//
// Each bucket is stored as the time it will be full again (the GCRA form of a token bucket):
// one integer per device, exact arithmetic, and "carries no information" is simply
// full_at <= now, which is what lets the table drop entries to stay bounded.
//
// Bounded memory: at most `max_devices` entries. A new device finding the table full first
// drops refilled entries (a bounded step of an incremental sweep, so a flood of new keys costs
// a constant per request, never a scan of the table); if the table is still full the device is
// admitted untracked. Failing open is deliberate: a flood of spoofed source ports must not lock
// real devices out, it may only make the limit leaky for new devices while it lasts.
class TokenBucketTable {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kDefaultMaxDevices = 100000;

  // `seed` perturbs the hash so that keys cannot be chosen to collide (pass a random value; tests
  // pass any constant).
  explicit TokenBucketTable(RateLimit limit, std::size_t max_devices = kDefaultMaxDevices,
                            std::uint64_t seed = 0);

  // Takes `cost` tokens from the key's bucket when it holds that many; otherwise takes nothing
  // (no partial batches) and says when to retry.
  Decision admit(std::span<const std::uint8_t> key, std::uint64_t cost, Clock::time_point now);
  // The same answer admit() would give, without taking anything: for refusing before the work
  // that tells the cost (parsing a body), and for consuming only once that work succeeded.
  Decision would_admit(std::span<const std::uint8_t> key, std::uint64_t cost,
                       Clock::time_point now) const;
  bool has_token(std::span<const std::uint8_t> key, Clock::time_point now) const {
    return would_admit(key, 1, now).allowed;
  }

  const RateLimit& limit() const { return limit_; }
  std::size_t tracked() const { return size_; }
  // Devices admitted without a bucket because the table was full of recently active devices.
  std::uint64_t untracked_admissions() const { return untracked_admissions_; }

 private:
  using Nanos = std::chrono::nanoseconds;
  struct Slot {
    bool used = false;
    std::uint64_t hash = 0;
    std::string key;  // kept when the slot is freed, so its buffer is reused
    Clock::time_point full_at{};
  };
  static constexpr std::size_t kNotFound = static_cast<std::size_t>(-1);

  std::uint64_t hash(std::span<const std::uint8_t> key) const;
  std::size_t find(std::span<const std::uint8_t> key, std::uint64_t hash) const;
  Decision decide(Clock::time_point full_at, std::uint64_t cost, Clock::time_point now,
                  Clock::time_point* new_full_at) const;
  bool make_room(Clock::time_point now);
  void insert(std::span<const std::uint8_t> key, std::uint64_t hash, Clock::time_point full_at);
  void erase(std::size_t index);
  void grow();

  RateLimit limit_;
  Nanos per_token_;  // time to refill one token
  std::size_t max_devices_;
  std::size_t max_slots_;
  std::uint64_t seed_;
  std::vector<Slot> slots_;  // open addressing, linear probing; size a power of two
  std::size_t size_ = 0;
  std::size_t sweep_cursor_ = 0;
  std::uint64_t untracked_admissions_ = 0;
};

}  // namespace iot::throttle
