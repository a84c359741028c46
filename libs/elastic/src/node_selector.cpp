#include "elastic/node_selector.hpp"

#include <algorithm>
#include <stdexcept>

namespace iot::elastic {

NodeSelector::NodeSelector(std::size_t node_count, std::chrono::milliseconds quarantine)
    : quarantined_until_(node_count, Clock::time_point::min()), quarantine_(quarantine) {
  if (node_count == 0) throw std::invalid_argument("NodeSelector needs at least one node");
}

std::size_t NodeSelector::next(Clock::time_point now) {
  const std::size_t count = quarantined_until_.size();
  std::size_t node = cursor_;
  for (std::size_t step = 0; step < count; ++step) {
    if (healthy(node, now)) break;
    if (++node == count) node = 0;
  }
  if (!healthy(node, now)) {
    const auto soonest = std::min_element(quarantined_until_.begin(), quarantined_until_.end());
    node = static_cast<std::size_t>(soonest - quarantined_until_.begin());
  }
  cursor_ = node + 1 == count ? 0 : node + 1;
  return node;
}

void NodeSelector::mark_failed(std::size_t node, Clock::time_point now) {
  quarantined_until_.at(node) = now + quarantine_;
}

void NodeSelector::mark_ok(std::size_t node) {
  quarantined_until_.at(node) = Clock::time_point::min();
}

bool NodeSelector::healthy(std::size_t node, Clock::time_point now) const {
  return quarantined_until_.at(node) <= now;
}

}  // namespace iot::elastic
