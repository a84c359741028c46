#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace iot::elastic {

// Which device requests wait for which documents (--ack stored). A request of N events opens a
// group of N; each document's final outcome settles one member; the group completes when all
// are settled, and the device is then told 2.01, or 4.00 with the first rejection's reason. A
// group still open at its deadline (--ack-timeout-ms) expires: its device gets 5.03 and may
// retry, which the deterministic document ids make harmless; its documents still go on to
// Elasticsearch. Pure bookkeeping; one per worker; not thread-safe.
class AcknowledgementGroups {
 public:
  using Clock = std::chrono::steady_clock;
  using GroupId = std::uint64_t;  // never 0: QueuedDocument::group 0 means nobody waits

  GroupId open(std::size_t documents, Clock::time_point deadline);

  struct Completion {
    GroupId id;
    bool stored;         // every document was created or already there (409)
    std::string reason;  // the first rejection's reason when !stored
  };
  // Records one document's final outcome. nullopt while the group waits for more, or when the
  // group is unknown (already expired: the outcome no longer has anyone to tell).
  std::optional<Completion> settle(GroupId id, bool stored, std::string_view reason = {});

  // Removes and returns the groups whose deadline has passed.
  std::vector<GroupId> expire(Clock::time_point now);
  std::optional<Clock::time_point> next_deadline() const;
  std::size_t open_groups() const { return groups_.size(); }

 private:
  struct Group {
    std::size_t remaining;
    Clock::time_point deadline;
    bool stored = true;
    std::string reason;
  };
  GroupId next_id_ = 1;
  std::unordered_map<GroupId, Group> groups_;
  // Deadlines are receive time + one fixed timeout, so opening order is deadline order; ids of
  // groups completed early stay here until their deadline passes and are skipped then.
  std::deque<std::pair<Clock::time_point, GroupId>> deadlines_;
};

}  // namespace iot::elastic
