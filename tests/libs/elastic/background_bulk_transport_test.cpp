#include "elastic/background_bulk_transport.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace iot::elastic {
namespace {

using namespace std::chrono_literals;

// What the inner transport saw, shared with the test thread (the transport itself lives on the
// background thread).
struct Seen {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> bodies;
  std::vector<std::thread::id> threads;
};

// An inner transport that records each request and answers it at once with `answer`, or, with
// no answer set, keeps its `done` until the test calls finish().
class RecordingTransport final : public BulkTransport {
 public:
  struct Answer {
    int status;
    std::string body;
    std::string error;
  };
  RecordingTransport(boost::asio::io_context& io, std::shared_ptr<Seen> seen,
                     std::optional<Answer> answer)
      : io_(io), seen_(std::move(seen)), answer_(std::move(answer)) {}

  void send_bulk(std::shared_ptr<const std::string> body, Done done) override {
    {
      std::lock_guard lock(seen_->mutex);
      seen_->bodies.push_back(*body);
      seen_->threads.push_back(std::this_thread::get_id());
    }
    seen_->changed.notify_all();
    if (answer_) {
      done(answer_->status, answer_->body, answer_->error);
    } else {
      held_.push_back(std::move(done));
    }
  }

  // From any thread: answers held request `index` on the transport's own thread.
  void finish(std::size_t index, int status, std::string body) {
    boost::asio::post(io_, [this, index, status, body] { held_.at(index)(status, body, {}); });
  }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<Seen> seen_;
  std::optional<Answer> answer_;
  std::vector<Done> held_;
};

class BackgroundBulkTransportTest : public ::testing::Test {
 protected:
  void make(std::optional<RecordingTransport::Answer> answer) {
    transport_.emplace(
        owner_,
        [this, answer](boost::asio::io_context& io) {
          auto inner = std::make_unique<RecordingTransport>(io, seen_, answer);
          inner_ = inner.get();
          return inner;
        },
        "es-bulk-test");
  }
  // Runs the owner's loop until `condition` holds, bounded.
  template <typename Condition>
  void run_owner_until(Condition condition) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!condition() && std::chrono::steady_clock::now() < deadline) {
      owner_.restart();
      owner_.run_for(2ms);
    }
    ASSERT_TRUE(condition()) << "condition not reached within the bound";
  }
  // Waits (bounded) until the inner transport has seen `count` requests.
  void wait_for_requests(std::size_t count) {
    std::unique_lock lock(seen_->mutex);
    ASSERT_TRUE(seen_->changed.wait_for(lock, 5s, [&] { return seen_->bodies.size() >= count; }));
  }

  struct Result {
    int status = -1;
    std::string body;
    std::string error;
    std::thread::id thread;
  };
  BulkTransport::Done record_into(std::optional<Result>& result) {
    return [&result](int status, std::string body, std::string error) {
      result = Result{status, std::move(body), std::move(error), std::this_thread::get_id()};
    };
  }

  boost::asio::io_context owner_;
  std::shared_ptr<Seen> seen_ = std::make_shared<Seen>();
  RecordingTransport* inner_ = nullptr;
  std::optional<BackgroundBulkTransport> transport_;
};

TEST_F(BackgroundBulkTransportTest, SendsOnItsOwnThreadAndAnswersOnTheOwnersLoop) {
  make(RecordingTransport::Answer{200, R"({"errors":false})", {}});
  std::optional<Result> result;
  transport_->send_bulk(std::make_shared<const std::string>("lines\n"), record_into(result));
  wait_for_requests(1);
  EXPECT_FALSE(result) << "the answer waits for the owner's loop";
  run_owner_until([&] { return result.has_value(); });

  std::lock_guard lock(seen_->mutex);
  EXPECT_EQ(seen_->bodies.at(0), "lines\n");
  EXPECT_NE(seen_->threads.at(0), std::this_thread::get_id()) << "sent from the owner's thread";
  EXPECT_EQ(result->thread, std::this_thread::get_id());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, R"({"errors":false})");
  EXPECT_EQ(result->error, "");
}

TEST_F(BackgroundBulkTransportTest, ATransportFailureReachesTheCallerAsItWas) {
  make(RecordingTransport::Answer{0, {}, "connect http://127.0.0.1:9: Connection refused"});
  std::optional<Result> result;
  transport_->send_bulk(std::make_shared<const std::string>("lines\n"), record_into(result));
  run_owner_until([&] { return result.has_value(); });
  EXPECT_EQ(result->status, 0);
  EXPECT_EQ(result->error, "connect http://127.0.0.1:9: Connection refused");
}

TEST_F(BackgroundBulkTransportTest, RequestsOverlapAndEachAnswerReachesItsOwnCaller) {
  make(std::nullopt);
  std::optional<Result> first;
  std::optional<Result> second;
  transport_->send_bulk(std::make_shared<const std::string>("one\n"), record_into(first));
  transport_->send_bulk(std::make_shared<const std::string>("two\n"), record_into(second));
  wait_for_requests(2);
  inner_->finish(1, 429, "busy");
  run_owner_until([&] { return second.has_value(); });
  EXPECT_FALSE(first) << "the first is still out";
  inner_->finish(0, 200, "ok");
  run_owner_until([&] { return first.has_value(); });
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "ok");
  EXPECT_EQ(second->status, 429);
  EXPECT_EQ(second->body, "busy");
}

TEST_F(BackgroundBulkTransportTest, StoppingAbandonsRequestsStillOutAndFreesTheirCallbacks) {
  make(std::nullopt);
  // What a BulkWriter's callback holds: the batch, until the request is settled.
  auto batch = std::make_shared<int>(0);
  const std::weak_ptr<int> watched = batch;
  bool called = false;
  transport_->send_bulk(
      std::make_shared<const std::string>("lines\n"),
      [&called, batch = std::move(batch)](int, std::string, std::string) { called = true; });
  wait_for_requests(1);
  EXPECT_FALSE(watched.expired()) << "held while the request is out";
  transport_.reset();
  owner_.restart();
  EXPECT_EQ(owner_.poll(), 0u) << "nothing was posted back";
  EXPECT_FALSE(called);
  EXPECT_TRUE(watched.expired()) << "the abandoned request's callback was freed";
}

}  // namespace
}  // namespace iot::elastic
