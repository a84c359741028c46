#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace iot::elastic {

// Round-robin over the configured nodes, skipping a node that failed (connection refused/reset,
// timeout, 502/503/504) for a quarantine period. When every node is quarantined, the one whose
// quarantine ends first is used, so requests never stop altogether. One per worker; not
// thread-safe.
class NodeSelector {
 public:
  using Clock = std::chrono::steady_clock;
  NodeSelector(std::size_t node_count, std::chrono::milliseconds quarantine);

  std::size_t next(Clock::time_point now);
  void mark_failed(std::size_t node, Clock::time_point now);
  void mark_ok(std::size_t node);
  bool healthy(std::size_t node, Clock::time_point now) const;
  std::size_t size() const { return quarantined_until_.size(); }

 private:
  std::vector<Clock::time_point> quarantined_until_;
  std::chrono::milliseconds quarantine_;
  std::size_t cursor_ = 0;
};

}  // namespace iot::elastic
