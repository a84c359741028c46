#include "elastic/bulk_writer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <optional>
#include <sstream>

namespace iot::elastic {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// Records every bulk request; the test answers them when and how it wants.
class ScriptedTransport final : public BulkTransport {
 public:
  struct Sent {
    std::string body;
    Done done;
  };
  void send_bulk(std::shared_ptr<const std::string> body, Done done) override {
    sent.push_back(Sent{*body, std::move(done)});
  }
  std::vector<Sent> sent;
};

std::string document(std::string id, std::string source = R"({"v":1})") {
  return R"({"create":{"_index":"iot-events","_id":")" + id + "\"}}\n" + source + "\n";
}

std::string answer(std::initializer_list<int> statuses) {
  std::string items;
  for (int status : statuses) {
    if (!items.empty()) items += ',';
    items += R"({"create":{"status":)" + std::to_string(status);
    if (status >= 400) {
      items += status == 400
                   ? R"(,"error":{"type":"document_parsing_exception","reason":"bad value"})"
                   : R"(,"error":{"type":"es_rejected_execution_exception","reason":"busy"})";
    }
    items += "}}";
  }
  return R"({"took":1,"errors":true,"items":[)" + items + "]}";
}

std::vector<std::string> lines_of(const std::string& body) {
  std::vector<std::string> lines;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class BulkWriterTest : public ::testing::Test {
 protected:
  void make(BulkWriterSettings settings = defaults()) {
    writer_.emplace(
        io_, transport_, settings,
        BulkWriter::Callbacks{
            [this](const AcknowledgementGroups::Completion& c) { completed_.push_back(c); },
            [this](BulkWriter::GroupId id) { expired_.push_back(id); }},
        stats_);
  }
  static BulkWriterSettings defaults() {
    BulkWriterSettings s;
    s.batching = {.max_docs = 100, .max_bytes = 1 << 20, .linger = 5ms};
    s.concurrency = 2;
    s.ack_timeout = 5s;
    s.retry_base = 1ms;
    s.retry_cap = 2ms;
    s.dead_letter_stream = "iot-events-dlq";
    return s;
  }
  // Runs the event loop until `condition` holds, bounded.
  template <typename Condition>
  void run_until(Condition condition, std::chrono::milliseconds bound = 2s) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!condition() && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_for(2ms);
    }
    ASSERT_TRUE(condition()) << "condition not reached within the bound";
  }
  void reply(std::size_t request, int status, std::string body, std::string error = {}) {
    auto done = std::move(transport_.sent.at(request).done);
    boost::asio::post(io_, [done, status, body, error] { done(status, body, error); });
  }

  boost::asio::io_context io_;
  ScriptedTransport transport_;
  BulkWriterStats stats_;
  std::optional<BulkWriter> writer_;
  std::vector<AcknowledgementGroups::Completion> completed_;
  std::vector<BulkWriter::GroupId> expired_;
};

TEST_F(BulkWriterTest, BatchesWithinLingerAndAcknowledgesOnceEveryDocumentIsStored) {
  make();
  const auto group = writer_->write({document("a"), document("b")}, true);
  writer_->write({document("c")}, false);
  run_until([&] { return transport_.sent.size() == 1; });
  EXPECT_EQ(lines_of(transport_.sent[0].body).size(), 6u) << "one request for all three";
  EXPECT_TRUE(completed_.empty()) << "nothing is acknowledged before Elasticsearch answers";
  reply(0, 200, answer({201, 409, 201}));
  run_until([&] { return !completed_.empty(); });
  EXPECT_EQ(completed_[0].id, group);
  EXPECT_TRUE(completed_[0].stored) << "409: stored by an earlier try";
  EXPECT_EQ(stats_.created.value(), 2u);
  EXPECT_EQ(stats_.duplicates.value(), 1u);
  EXPECT_EQ(stats_.buffered_bytes.load(), 0u);
}

TEST_F(BulkWriterTest, AnItemRefusedFor429IsSentAgainAloneAndTheDeviceWaitsForIt) {
  make();
  writer_->write({document("a"), document("b")}, true);
  run_until([&] { return transport_.sent.size() == 1; });
  reply(0, 200, answer({201, 429}));
  run_until([&] { return transport_.sent.size() == 2; });
  EXPECT_TRUE(completed_.empty());
  const auto retry = lines_of(transport_.sent[1].body);
  ASSERT_EQ(retry.size(), 2u) << "only the refused document";
  EXPECT_NE(retry[0].find(R"("_id":"b")"), std::string::npos);
  reply(1, 200, answer({201}));
  run_until([&] { return !completed_.empty(); });
  EXPECT_TRUE(completed_[0].stored);
  EXPECT_EQ(stats_.item_retries.value(), 1u);
}

TEST_F(BulkWriterTest, ARejectedItemIsDeadLetteredAsTextAndItsDeviceToldWhy) {
  make();
  writer_->write({document("bad", R"({"payload":{"value":"x"}})")}, true);
  run_until([&] { return transport_.sent.size() == 1; });
  reply(0, 200, answer({400}));
  run_until([&] { return !completed_.empty() && transport_.sent.size() == 2; });
  EXPECT_FALSE(completed_[0].stored);
  EXPECT_EQ(completed_[0].reason, "document_parsing_exception: bad value");
  const auto record = lines_of(transport_.sent[1].body);
  ASSERT_EQ(record.size(), 2u);
  const auto action = json::parse(record[0]).as_object().at("create").as_object();
  EXPECT_EQ(action.at("_index").as_string(), "iot-events-dlq");
  EXPECT_EQ(action.at("_id").as_string(), "bad")
      << "same id: a retried dead-letter write is idempotent";
  const auto source = json::parse(record[1]).as_object();
  EXPECT_EQ(source.at("event").as_string(), R"({"payload":{"value":"x"}})");
  EXPECT_EQ(source.at("error").as_object().at("status").as_int64(), 400);
  EXPECT_TRUE(source.contains("@timestamp"));
  reply(1, 200, answer({201}));
  run_until([&] { return stats_.buffered_bytes.load() == 0; });
  EXPECT_EQ(stats_.dead_lettered.value(), 1u);
}

TEST_F(BulkWriterTest, WholeRequestFailuresAreRetriedUntilStoredNeverDropped) {
  make();
  writer_->write({document("a")}, true);
  run_until([&] { return transport_.sent.size() == 1; });
  reply(0, 503, R"({"error":"unavailable"})");
  run_until([&] { return transport_.sent.size() == 2; });
  reply(1, 0, "", "connect 127.0.0.1:9200: Connection refused");
  run_until([&] { return transport_.sent.size() == 3; });
  reply(2, 200, "not json");
  run_until([&] { return transport_.sent.size() == 4; });
  EXPECT_TRUE(completed_.empty());
  EXPECT_EQ(transport_.sent[3].body, document("a")) << "the same document, unchanged";
  reply(3, 200, answer({201}));
  run_until([&] { return !completed_.empty(); });
  EXPECT_TRUE(completed_[0].stored);
  EXPECT_EQ(stats_.request_failures.value(), 3u);
}

TEST_F(BulkWriterTest, ARequestRefusedAsTooLargeIsSplitAndLaterBatchesStaySmaller) {
  make();
  const auto group =
      writer_->write({document("a"), document("b"), document("c"), document("d")}, true);
  run_until([&] { return transport_.sent.size() == 1; });
  const std::size_t refused_bytes = transport_.sent[0].body.size();
  reply(0, 413, "");
  run_until([&] { return transport_.sent.size() == 3; });
  EXPECT_EQ(lines_of(transport_.sent[1].body).size(), 4u) << "two documents per half";
  EXPECT_EQ(lines_of(transport_.sent[2].body).size(), 4u);
  EXPECT_LE(transport_.sent[1].body.size(), refused_bytes / 2);
  EXPECT_TRUE(completed_.empty());
  reply(1, 200, answer({201, 201}));
  reply(2, 200, answer({201, 409}));
  run_until([&] { return !completed_.empty(); });
  EXPECT_EQ(completed_[0].id, group);
  EXPECT_TRUE(completed_[0].stored);
  EXPECT_EQ(stats_.request_failures.value(), 1u);

  writer_->write({document("e"), document("f")}, false);
  run_until([&] { return transport_.sent.size() == 4; });
  EXPECT_EQ(lines_of(transport_.sent[3].body).size(), 4u)
      << "two documents fit under the lowered limit";
  EXPECT_LE(transport_.sent[3].body.size(), refused_bytes / 2);
}

TEST_F(BulkWriterTest, ASingleDocumentRefusedAsTooLargeIsRejectedNotRetriedForever) {
  make();
  writer_->write({document("big")}, true);
  run_until([&] { return transport_.sent.size() == 1; });
  reply(0, 413, "<html>413 Request Entity Too Large</html>");
  run_until([&] { return !completed_.empty(); });
  EXPECT_FALSE(completed_[0].stored);
  EXPECT_NE(completed_[0].reason.find("too large"), std::string::npos);
  EXPECT_EQ(stats_.too_large.value(), 1u);
  EXPECT_EQ(stats_.buffered_bytes.load(), 0u);
  io_.restart();
  io_.run_for(20ms);
  EXPECT_EQ(transport_.sent.size(), 1u) << "nothing is sent again, not even to the DLQ";
}

TEST_F(BulkWriterTest, AWaitingDeviceExpiresAtTheAckTimeoutAndLateOutcomesAreIgnored) {
  auto settings = defaults();
  settings.ack_timeout = 20ms;
  make(settings);
  const auto group = writer_->write({document("a")}, true);
  run_until([&] { return !expired_.empty(); });
  EXPECT_EQ(expired_[0], group);
  reply(0, 200, answer({201}));
  run_until([&] { return stats_.created.value() == 1; });
  EXPECT_TRUE(completed_.empty());
}

TEST_F(BulkWriterTest, ADueRequestLeavesOnTheLoopsNextTurnNotInsideWrite) {
  // write() runs inside a batch of datagrams whose answers wait for it: the bulk request must not.
  auto settings = defaults();
  settings.batching.max_docs = 2;
  make(settings);
  writer_->write({document("a"), document("b")}, false);
  writer_->write({document("c"), document("d")}, false);
  EXPECT_TRUE(transport_.sent.empty()) << "sent inside write()";
  io_.restart();
  io_.poll();
  ASSERT_EQ(transport_.sent.size(), 2u) << "both due requests, from one turn of the loop";
  EXPECT_NE(transport_.sent[0].body.find("\"a\""), std::string::npos);
  EXPECT_NE(transport_.sent[1].body.find("\"c\""), std::string::npos);
}

TEST_F(BulkWriterTest, KeepsAtMostConcurrencyRequestsInFlight) {
  auto settings = defaults();
  settings.concurrency = 1;
  settings.batching.max_docs = 1;
  make(settings);
  writer_->write({document("a"), document("b")}, false);
  run_until([&] { return transport_.sent.size() == 1; });
  io_.restart();
  io_.run_for(20ms);
  EXPECT_EQ(transport_.sent.size(), 1u);
  EXPECT_EQ(writer_->in_flight(), 1u);
  reply(0, 200, answer({201}));
  run_until([&] { return transport_.sent.size() == 2; });
}

TEST_F(BulkWriterTest, RefusesWorkBeyondMaxBufferedBytes) {
  auto settings = defaults();
  settings.max_buffered_bytes = 100;
  make(settings);
  EXPECT_TRUE(writer_->has_room(100));
  const std::size_t size = document("a").size();
  writer_->write({document("a")}, false);
  EXPECT_TRUE(writer_->has_room(100 - size));
  EXPECT_FALSE(writer_->has_room(100 - size + 1));
  EXPECT_GE(writer_->retry_after_seconds(), 1u);
}

TEST_F(BulkWriterTest, DrainSendsWithoutLingerAndReportsWhenEverythingIsSettled) {
  auto settings = defaults();
  settings.batching.linger = 1h;
  make(settings);
  writer_->write({document("a")}, true);
  bool drained = false;
  writer_->drain([&] { drained = true; });
  run_until([&] { return transport_.sent.size() == 1; });
  EXPECT_FALSE(drained);
  reply(0, 200, answer({201}));
  run_until([&] { return drained; });
  EXPECT_EQ(completed_.size(), 1u);
}

}  // namespace
}  // namespace iot::elastic
