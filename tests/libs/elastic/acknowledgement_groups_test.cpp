#include "elastic/acknowledgement_groups.hpp"

#include <gtest/gtest.h>

namespace iot::elastic {
namespace {

using namespace std::chrono_literals;
using Clock = AcknowledgementGroups::Clock;

TEST(AcknowledgementGroups, CompletesStoredWhenEveryDocumentIsStored) {
  AcknowledgementGroups groups;
  const auto id = groups.open(3, Clock::now() + 5s);
  EXPECT_NE(id, 0u) << "0 is reserved for documents nobody waits for";
  EXPECT_FALSE(groups.settle(id, true));
  EXPECT_FALSE(groups.settle(id, true));
  const auto done = groups.settle(id, true);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->id, id);
  EXPECT_TRUE(done->stored);
  EXPECT_EQ(groups.open_groups(), 0u);
}

TEST(AcknowledgementGroups, OneRejectionRejectsTheGroupWithTheFirstReason) {
  AcknowledgementGroups groups;
  const auto id = groups.open(3, Clock::now() + 5s);
  EXPECT_FALSE(groups.settle(id, false, "document_parsing_exception: payload.value"));
  EXPECT_FALSE(groups.settle(id, false, "a later reason"));
  const auto done = groups.settle(id, true);
  ASSERT_TRUE(done);
  EXPECT_FALSE(done->stored);
  EXPECT_EQ(done->reason, "document_parsing_exception: payload.value");
}

TEST(AcknowledgementGroups, ExpiresOpenGroupsAtTheirDeadlineAndIgnoresLateOutcomes) {
  AcknowledgementGroups groups;
  const auto t0 = Clock::now();
  const auto early = groups.open(1, t0 + 1s);
  const auto done_early = groups.open(1, t0 + 2s);
  const auto late = groups.open(2, t0 + 3s);
  ASSERT_TRUE(groups.settle(done_early, true));
  EXPECT_EQ(groups.next_deadline(), t0 + 1s);
  EXPECT_TRUE(groups.expire(t0 + 999ms).empty());
  EXPECT_EQ(groups.expire(t0 + 2s), std::vector<AcknowledgementGroups::GroupId>{early})
      << "a group completed in time never expires";
  EXPECT_FALSE(groups.settle(early, true)) << "its device was already told 5.03";
  EXPECT_EQ(groups.open_groups(), 1u);
  EXPECT_EQ(groups.expire(t0 + 3s), std::vector<AcknowledgementGroups::GroupId>{late});
  EXPECT_FALSE(groups.next_deadline());
}

}  // namespace
}  // namespace iot::elastic
