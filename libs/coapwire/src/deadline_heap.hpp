#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace iot::coapwire::detail {

// The timers of every exchange in one min-heap: O(log n) to arm, O(1) to find the next deadline.
// Cancelling and re-arming are lazy: each entry carries the arm number of its slot at the time,
// and the owner drops entries whose number no longer matches when they reach the top. compact()
// bounds the stale entries when most timers were cancelled early (the usual case: a response
// arrives long before its retransmission timeout).
class DeadlineHeap {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Entry {
    TimePoint deadline;
    std::uint32_t slot;
    std::uint32_t arm;
  };

  void push(TimePoint deadline, std::uint32_t slot, std::uint32_t arm) {
    entries_.push_back(Entry{deadline, slot, arm});
    std::push_heap(entries_.begin(), entries_.end(), later);
  }
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  const Entry& top() const { return entries_.front(); }
  void pop() {
    std::pop_heap(entries_.begin(), entries_.end(), later);
    entries_.pop_back();
  }

  // Drops every entry for which `is_live` is false and restores the heap: O(n).
  template <typename IsLive>
  void compact(IsLive is_live) {
    std::erase_if(entries_, [&](const Entry& entry) { return !is_live(entry); });
    std::make_heap(entries_.begin(), entries_.end(), later);
  }

 private:
  static bool later(const Entry& a, const Entry& b) { return a.deadline > b.deadline; }
  std::vector<Entry> entries_;
};

}  // namespace iot::coapwire::detail
