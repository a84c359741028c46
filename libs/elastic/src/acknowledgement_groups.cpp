#include "elastic/acknowledgement_groups.hpp"

namespace iot::elastic {

AcknowledgementGroups::GroupId AcknowledgementGroups::open(std::size_t documents,
                                                           Clock::time_point deadline) {
  const GroupId id = next_id_++;
  groups_.emplace(id, Group{documents, deadline, true, {}});
  deadlines_.emplace_back(deadline, id);
  return id;
}

std::optional<AcknowledgementGroups::Completion> AcknowledgementGroups::settle(
    GroupId id, bool stored, std::string_view reason) {
  const auto it = groups_.find(id);
  if (it == groups_.end()) return std::nullopt;
  Group& group = it->second;
  if (!stored && group.stored) {
    group.stored = false;
    group.reason = reason;
  }
  if (--group.remaining > 0) return std::nullopt;
  Completion completion{id, group.stored, std::move(group.reason)};
  groups_.erase(it);
  return completion;
}

std::vector<AcknowledgementGroups::GroupId> AcknowledgementGroups::expire(Clock::time_point now) {
  std::vector<GroupId> expired;
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    const GroupId id = deadlines_.front().second;
    deadlines_.pop_front();
    if (groups_.erase(id) > 0) expired.push_back(id);
  }
  return expired;
}

std::optional<AcknowledgementGroups::Clock::time_point> AcknowledgementGroups::next_deadline()
    const {
  // Entries of completed groups may lead the queue; their deadline is still a safe wake-up time.
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.front().first;
}

}  // namespace iot::elastic
