// coap::Server over real UDP on loopback: immediate and deferred answers, retransmissions.
#include "coap/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace iot::coap {
namespace {

using namespace std::chrono_literals;

// Defers every POST so the test decides when and how it is answered; answers GET at once.
class DeferringHandler final : public RequestHandler {
 public:
  std::optional<Response> handle(const Request& request) override {
    ++calls;
    if (request.method == Method::get) return Response(Code::content, get_answer);
    last_truncated = request.maybe_truncated;
    pending.push_back(defer(request));
    if (answer_inside_handle) pending.back().respond(Response(Code::created));
    return std::nullopt;
  }
  void end_of_batch() override {
    if (!answer_at_end_of_batch) return;
    for (auto& exchange : pending) exchange.respond(Response(Code::created));
    pending.clear();
  }
  int calls = 0;
  std::string get_answer = "now";
  bool last_truncated = false;
  bool answer_at_end_of_batch = false;
  bool answer_inside_handle = false;
  std::vector<PendingExchange> pending;
};

struct Reply {
  std::uint8_t type = 0;  // 0 CON, 1 NON, 2 ACK, 3 RST
  std::uint8_t code = 0;
  std::uint16_t message_id = 0;
  std::vector<std::uint8_t> token;
  std::string payload;
  std::size_t size = 0;  // of the whole datagram
};

class UdpPeer {
 public:
  explicit UdpPeer(unsigned short server_port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(server_port);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&server), sizeof server), 0);
  }
  ~UdpPeer() { ::close(fd_); }

  void post(bool confirmable, std::uint16_t message_id, std::uint8_t token) {
    std::vector<std::uint8_t> d = {static_cast<std::uint8_t>(0x41 | (confirmable ? 0x00 : 0x10)),
                                   0x02,
                                   static_cast<std::uint8_t>(message_id >> 8),
                                   static_cast<std::uint8_t>(message_id & 0xff),
                                   token,
                                   0xb6,
                                   'e',
                                   'v',
                                   'e',
                                   'n',
                                   't',
                                   's',
                                   0xff,
                                   '{',
                                   '}'};
    ASSERT_EQ(::send(fd_, d.data(), d.size(), 0), static_cast<ssize_t>(d.size()));
  }

  void send_raw(const std::vector<std::uint8_t>& datagram) {
    ASSERT_EQ(::send(fd_, datagram.data(), datagram.size(), 0),
              static_cast<ssize_t>(datagram.size()));
  }

  void ack(std::uint16_t message_id) {
    const std::uint8_t d[] = {0x60, 0x00, static_cast<std::uint8_t>(message_id >> 8),
                              static_cast<std::uint8_t>(message_id & 0xff)};
    ASSERT_EQ(::send(fd_, d, sizeof d, 0), static_cast<ssize_t>(sizeof d));
  }

  // A reply already queued on the socket, without waiting.
  std::optional<Reply> poll_reply() {
    std::uint8_t buffer[1500];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 4) return std::nullopt;
    Reply reply;
    reply.size = static_cast<std::size_t>(n);
    reply.type = (buffer[0] >> 4) & 0x3;
    reply.code = buffer[1];
    reply.message_id = static_cast<std::uint16_t>((buffer[2] << 8) | buffer[3]);
    const std::size_t token_length = buffer[0] & 0xf;
    reply.token.assign(buffer + 4, buffer + 4 + token_length);
    const auto* marker = std::find(buffer + 4 + token_length, buffer + n, 0xff);
    if (marker != buffer + n)
      reply.payload.assign(reinterpret_cast<const char*>(marker + 1),
                           reinterpret_cast<const char*>(buffer + n));
    return reply;
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(default_options()); }

  static ServerOptions default_options() {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.paths = {"events"};
    // Most tests look at separate responses: acknowledge deferred requests at once.
    options.empty_ack_delay = std::chrono::milliseconds(0);
    return options;
  }

  void start(const ServerOptions& options) {
    peer_.reset();
    server_.reset();
    server_.emplace(options, handler_, duplicates_);
    peer_.emplace(server_->local_port());
  }

  // Runs the server until the peer has a reply (or the bound passes) and returns it.
  std::optional<Reply> serve_until_reply(std::chrono::milliseconds bound = 2000ms) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd fds[2] = {{server_->event_fd(), POLLIN, 0}, {peer_->fd(), POLLIN, 0}};
      ::poll(fds, 2, 20);
      if (fds[0].revents & POLLIN) server_->process();
      if (auto reply = peer_->poll_reply()) return reply;
    }
    return std::nullopt;
  }

  // Runs the server until it has handled `calls` requests (bounded); replies stay queued.
  void serve_until_calls(int calls) {
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (handler_.calls < calls && std::chrono::steady_clock::now() < deadline) {
      pollfd fd{server_->event_fd(), POLLIN, 0};
      if (::poll(&fd, 1, 20) > 0) server_->process();
    }
    ASSERT_EQ(handler_.calls, calls);
  }

  // Processes what the server has now, so a retransmission is seen (no reply is expected).
  void serve_briefly() {
    for (int i = 0; i < 5; ++i) {
      pollfd fd{server_->event_fd(), POLLIN, 0};
      if (::poll(&fd, 1, 20) > 0) server_->process();
    }
  }

  DeferringHandler handler_;
  metrics::Counter duplicates_;
  std::optional<Server> server_;
  std::optional<UdpPeer> peer_;
};

constexpr std::uint8_t kCreated = (2 << 5) | 1;
constexpr std::uint8_t kUnavailable = (5 << 5) | 3;
constexpr std::uint8_t kCon = 0, kNon = 1, kAck = 2;

TEST_F(ServerTest, ReceiveWaitMeasuresEachDatagramFromTheKernelsReceiptToItsAnswer) {
  metrics::LatencyHistogram waits;
  peer_.reset();
  server_.reset();
  server_.emplace(default_options(), handler_, duplicates_, nullptr, &waits);
  peer_.emplace(server_->local_port());
  const auto get_events = [&](std::uint8_t id) {
    peer_->send_raw({0x40, 0x01, 0x00, id, 0xb6, 'e', 'v', 'e', 'n', 't', 's'});
  };
  // The kernel turns receive timestamps on asynchronously (a static key flipped from a work
  // queue) and until then stamps a datagram when it is read. Probe, bounded, until a datagram
  // left waiting for 5 ms shows that wait.
  bool stamped_on_arrival = false;
  for (std::uint8_t id = 100; id < 200 && !stamped_on_arrival; ++id) {
    const double before = waits.snapshot().sum_seconds;
    get_events(id);
    std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(serve_until_reply());
    stamped_on_arrival = waits.snapshot().sum_seconds - before >= 0.004;
  }
  ASSERT_TRUE(stamped_on_arrival) << "the kernel never stamped a datagram on arrival";

  // Two GET /events (answered at once) queue in the socket while the server is busy elsewhere
  // for 30 ms: that queueing is what the histogram is for, not only the processing. (The pause
  // is the quantity measured, not a wait for something to happen.)
  const auto before = waits.snapshot();
  get_events(1);
  get_events(2);
  std::this_thread::sleep_for(30ms);
  ASSERT_TRUE(serve_until_reply());
  const auto after = waits.snapshot();
  EXPECT_EQ(after.count - before.count, 2u);
  EXPECT_GE(after.sum_seconds - before.sum_seconds, 2 * 0.030);
  EXPECT_LT(after.sum_seconds - before.sum_seconds, 2 * 1.0) << "kernel and answer on one clock";
  // Bucket 9 ends at 10 ms: both waited longer, and less than a second (the last bound).
  for (std::size_t i = 0; i <= 9; ++i) {
    EXPECT_EQ(after.buckets[i], before.buckets[i]) << "bucket " << i;
  }
  EXPECT_EQ(after.buckets.back(), 0u);

  // Without a histogram nothing is asked of the kernel and the server answers the same.
  server_.reset();
  server_.emplace(default_options(), handler_, duplicates_);
  peer_.emplace(server_->local_port());
  get_events(3);
  const auto reply = serve_until_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->message_id, 3);
  EXPECT_EQ(waits.snapshot().count, after.count);
}

TEST_F(ServerTest, ADeferredConfirmableRequestGetsAnEmptyAckThenAConfirmableAnswer) {
  peer_->post(true, 0x1234, 0xaa);
  serve_until_calls(1);
  const auto empty_ack = peer_->poll_reply();
  ASSERT_TRUE(empty_ack);
  EXPECT_EQ(empty_ack->type, kAck);
  EXPECT_EQ(empty_ack->code, 0);
  EXPECT_EQ(empty_ack->message_id, 0x1234);
  EXPECT_FALSE(peer_->poll_reply()) << "no answer before respond()";

  handler_.pending.front().respond(Response(Code::created));
  EXPECT_FALSE(handler_.pending.front());
  const auto answer = serve_until_reply();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->type, kCon);
  EXPECT_EQ(answer->code, kCreated);
  EXPECT_EQ(answer->token, std::vector<std::uint8_t>{0xaa}) << "matched to the request by token";
  peer_->ack(answer->message_id);
  serve_briefly();
  EXPECT_FALSE(peer_->poll_reply()) << "acknowledged: not retransmitted";
  EXPECT_FALSE(server_->has_pending_sends());
}

TEST_F(ServerTest, RetransmissionsWhilePendingNeverReachTheHandlerAndAfterwardsReplayTheAnswer) {
  peer_->post(true, 7, 0x01);
  serve_until_calls(1);
  ASSERT_TRUE(peer_->poll_reply());  // empty ACK
  peer_->post(true, 7, 0x01);        // the device's retransmission (our ACK was lost)
  const auto again = serve_until_reply();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, 0) << "the empty ACK again";
  EXPECT_EQ(handler_.calls, 1);
  EXPECT_EQ(duplicates_.value(), 1u);

  handler_.pending.front().respond(Response(Code::created));
  const auto answer = serve_until_reply();
  ASSERT_TRUE(answer);
  peer_->ack(answer->message_id);
  peer_->post(true, 7, 0x01);  // a late retransmission: the same answer, not processed again
  const auto replay = serve_until_reply();
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->code, kCreated);
  EXPECT_EQ(handler_.calls, 1);
}

TEST_F(ServerTest, ADeferredNonConfirmableRequestGetsANonAnswerAndNoAck) {
  peer_->post(false, 99, 0x02);
  serve_until_calls(1);
  EXPECT_FALSE(peer_->poll_reply());
  handler_.pending.front().respond(Response(Code::created));
  const auto reply = serve_until_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, kNon);
  EXPECT_EQ(reply->code, kCreated);
  EXPECT_EQ(reply->token, std::vector<std::uint8_t>{0x02});
}

TEST_F(ServerTest, AnExchangeDroppedUnansweredAnswers503) {
  peer_->post(true, 5, 0x03);
  serve_until_calls(1);
  ASSERT_TRUE(peer_->poll_reply());  // empty ACK
  handler_.pending.clear();
  const auto reply = serve_until_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, kUnavailable);
  EXPECT_EQ(reply->token, std::vector<std::uint8_t>{0x03});
}

TEST_F(ServerTest, DestroyingTheServerAnswersWhatIsOwedAndLeavesExchangesHarmless) {
  peer_->post(true, 6, 0x04);
  serve_until_calls(1);
  ASSERT_TRUE(peer_->poll_reply());  // empty ACK
  server_.reset();
  const auto reply = peer_->poll_reply();
  ASSERT_TRUE(reply) << "the owed answer is sent before the context goes";
  EXPECT_EQ(reply->code, kUnavailable);
  handler_.pending.front().respond(Response(Code::created));  // must not touch freed memory
  EXPECT_FALSE(handler_.pending.front());
}

TEST_F(ServerTest, AnExchangeAnsweredBeforeTheEndOfItsBatchIsPiggybackedOnTheAck) {
  handler_.answer_at_end_of_batch = true;
  peer_->post(true, 0x4321, 0xbb);
  const auto reply = serve_until_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, kAck);
  EXPECT_EQ(reply->code, kCreated) << "no empty ACK first";
  EXPECT_EQ(reply->message_id, 0x4321);
  EXPECT_EQ(reply->token, std::vector<std::uint8_t>{0xbb});
  serve_briefly();
  EXPECT_FALSE(peer_->poll_reply()) << "one answer only";
  EXPECT_FALSE(server_->has_pending_sends()) << "nothing awaits an ACK";
}

TEST_F(ServerTest, EachCopyOfADuplicateWithinOneBatchGetsTheSameAcknowledgement) {
  peer_->post(true, 0x5151, 0xcc);
  peer_->post(true, 0x5151, 0xcc);  // both wait on the socket: one receive batch
  serve_until_calls(1);
  for (int copy = 0; copy < 2; ++copy) {
    const auto empty_ack = peer_->poll_reply();
    ASSERT_TRUE(empty_ack) << "copy " << copy;
    EXPECT_EQ(empty_ack->type, kAck);
    EXPECT_EQ(empty_ack->code, 0);
    EXPECT_EQ(empty_ack->message_id, 0x5151);
  }
  EXPECT_EQ(duplicates_.value(), 1u);
  handler_.pending.front().respond(Response(Code::created));
  handler_.pending.clear();
  ASSERT_TRUE(serve_until_reply());  // its separate answer

  handler_.answer_at_end_of_batch = true;
  peer_->post(true, 0x5252, 0xdd);
  peer_->post(true, 0x5252, 0xdd);
  serve_until_calls(2);
  for (int copy = 0; copy < 2; ++copy) {
    const auto answer = peer_->poll_reply();
    ASSERT_TRUE(answer) << "copy " << copy;
    EXPECT_EQ(answer->type, kAck);
    EXPECT_EQ(answer->code, kCreated);
    EXPECT_EQ(answer->message_id, 0x5252);
  }
  EXPECT_FALSE(peer_->poll_reply());
}

TEST_F(ServerTest, AnAnswerReadyWithinTheEmptyAckDelayRidesOnTheAck) {
  auto options = default_options();
  options.empty_ack_delay = std::chrono::seconds(10);
  start(options);
  peer_->post(true, 0x6161, 0xee);
  serve_until_calls(1);
  serve_briefly();
  EXPECT_FALSE(peer_->poll_reply()) << "the empty ACK is held back";
  handler_.pending.front().respond(Response(Code::created));
  const auto reply = serve_until_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, kAck);
  EXPECT_EQ(reply->code, kCreated);
  EXPECT_EQ(reply->message_id, 0x6161);
  EXPECT_EQ(reply->token, std::vector<std::uint8_t>{0xee});
  serve_briefly();
  EXPECT_FALSE(peer_->poll_reply()) << "one datagram: no empty ACK, no separate response";
  EXPECT_FALSE(server_->has_pending_sends());
}

TEST_F(ServerTest, WithoutAnAnswerTheEmptyAckGoesOutWhenTheDelayEnds) {
  auto options = default_options();
  options.empty_ack_delay = std::chrono::milliseconds(30);
  start(options);
  const auto posted = std::chrono::steady_clock::now();
  peer_->post(true, 0x6262, 0xef);
  serve_until_calls(1);
  const auto empty_ack = serve_until_reply();
  ASSERT_TRUE(empty_ack);
  EXPECT_GE(std::chrono::steady_clock::now() - posted, std::chrono::milliseconds(30));
  EXPECT_EQ(empty_ack->type, kAck);
  EXPECT_EQ(empty_ack->code, 0);
  EXPECT_EQ(empty_ack->message_id, 0x6262);
  handler_.pending.front().respond(Response(Code::created));
  const auto answer = serve_until_reply();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->type, kCon) << "acknowledged already: a separate response";
  EXPECT_EQ(answer->code, kCreated);
}

TEST_F(ServerTest, ARetransmissionWhileTheEmptyAckIsHeldBackGetsItAtOnce) {
  auto options = default_options();
  options.empty_ack_delay = std::chrono::seconds(10);
  start(options);
  peer_->post(true, 0x6363, 0xf0);
  serve_until_calls(1);
  peer_->post(true, 0x6363, 0xf0);  // the device's ACK_TIMEOUT ran out
  const auto empty_ack = serve_until_reply();
  ASSERT_TRUE(empty_ack);
  EXPECT_EQ(empty_ack->type, kAck);
  EXPECT_EQ(empty_ack->code, 0);
  EXPECT_EQ(handler_.calls, 1);
  handler_.pending.front().respond(Response(Code::created));
  const auto answer = serve_until_reply();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->type, kCon);
}

TEST_F(ServerTest, AnExchangeAnsweredInsideTheHandlerIsRememberedAnswered) {
  handler_.answer_inside_handle = true;
  peer_->post(true, 0x7171, 0x11);
  const auto reply = serve_until_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, kAck);
  EXPECT_EQ(reply->code, kCreated);
  peer_->post(true, 0x7171, 0x11);  // the ACK was lost
  const auto replay = serve_until_reply();
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->code, kCreated) << "the cached answer, not an empty ACK of a pending exchange";
  EXPECT_EQ(handler_.calls, 1);
}

TEST_F(ServerTest, AnUnacknowledgedSeparateAnswerIsRetransmittedUntilTheDeviceAcks) {
  auto options = default_options();
  options.ack_timeout = std::chrono::milliseconds(30);
  start(options);
  peer_->post(true, 11, 0x05);
  serve_until_calls(1);
  ASSERT_TRUE(peer_->poll_reply());  // empty ACK
  handler_.pending.front().respond(Response(Code::created));
  const auto first = serve_until_reply();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->type, kCon);
  EXPECT_TRUE(server_->has_pending_sends());
  const auto again = serve_until_reply();  // no ACK from the device: the timer fires
  ASSERT_TRUE(again);
  EXPECT_EQ(again->type, kCon);
  EXPECT_EQ(again->message_id, first->message_id) << "a retransmission keeps its message id";
  EXPECT_EQ(again->code, kCreated);
  peer_->ack(first->message_id);
  serve_briefly();
  EXPECT_FALSE(server_->has_pending_sends());
}

TEST_F(ServerTest, SeparateAnswersWaitForOneFlushWhenTheOwnerAsksForIt) {
  int flush_requests = 0;
  auto options = default_options();
  options.request_flush = [&] { ++flush_requests; };
  start(options);
  peer_->post(true, 21, 0x06);
  peer_->post(false, 22, 0x07);
  serve_until_calls(2);
  ASSERT_TRUE(peer_->poll_reply());  // the empty ACK of the CON
  for (auto& exchange : handler_.pending) exchange.respond(Response(Code::created));
  EXPECT_EQ(flush_requests, 1) << "one request per burst";
  EXPECT_FALSE(peer_->poll_reply()) << "queued until flush()";
  server_->flush();
  const auto first = serve_until_reply();
  const auto second = serve_until_reply();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->type, kCon);
  EXPECT_EQ(second->type, kNon);
  EXPECT_TRUE(server_->has_pending_sends()) << "the CON awaits its ACK";
}

TEST_F(ServerTest, APingGetsAResetAndAnUnknownCriticalOptionGets402) {
  peer_->send_raw({0x40, 0x00, 0x00, 0x42});  // Empty CON
  const auto reset = serve_until_reply();
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->type, 3);
  EXPECT_EQ(reset->message_id, 0x42);

  // POST with option 9 (critical, unassigned) and no Uri-Path; a body long enough for the whole
  // diagnostic (an answer is never larger than its request).
  std::vector<std::uint8_t> post = {0x41, 0x02, 0x00, 0x43, 0x07, 0x91, 0x00, 0xff};
  post.resize(post.size() + 32, '{');
  peer_->send_raw(post);
  const auto bad_option = serve_until_reply();
  ASSERT_TRUE(bad_option);
  EXPECT_EQ(bad_option->type, kAck);
  EXPECT_EQ(bad_option->code, (4 << 5) | 2);
  EXPECT_EQ(bad_option->payload, "unsupported critical option 9");
  EXPECT_EQ(handler_.calls, 0);
}

TEST_F(ServerTest, PlainAnswersNeverExceedTheirRequestExceptForExemptPaths) {
  auto options = default_options();
  options.paths = {"events", "health"};
  options.amplification_exempt_paths = {"health"};
  start(options);
  handler_.get_answer = std::string(100, 'x');

  const std::vector<std::uint8_t> tiny_get = {0x41, 0x01, 0x00, 0x50, 0x07};  // GET, no path
  peer_->send_raw(tiny_get);
  const auto cut = serve_until_reply();
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->code, static_cast<std::uint8_t>(Code::content));
  EXPECT_LE(cut->size, tiny_get.size());
  // A retransmission is answered from the cache with the same cut answer.
  peer_->send_raw(tiny_get);
  const auto again = serve_until_reply();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size, cut->size);
  EXPECT_EQ(duplicates_.value(), 1U);

  // Cut payloads keep what fits: 12 request bytes leave 6 after the header, token and marker.
  std::vector<std::uint8_t> get_x = {0x41, 0x01, 0x00, 0x51, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00};
  get_x.resize(12, 0x00);
  peer_->send_raw(get_x);
  const auto partial = serve_until_reply();
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->size, get_x.size());
  EXPECT_EQ(partial->payload, "xxxxxx");

  // GET /health is exempt.
  peer_->send_raw({0x41, 0x01, 0x00, 0x52, 0x07, 0xb6, 'h', 'e', 'a', 'l', 't', 'h'});
  const auto health = serve_until_reply();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->payload, std::string(100, 'x'));

  // A deferred answer is cut too (POST /events, 15 bytes).
  peer_->post(true, 0x53, 0x08);
  serve_until_calls(4);
  ASSERT_EQ(handler_.pending.size(), 1U);
  handler_.pending.front().respond(Response::text(Code::bad_request, std::string(60, 'e')));
  handler_.pending.clear();
  std::optional<Reply> answer = serve_until_reply();
  if (answer && answer->code == 0) answer = serve_until_reply();  // after the empty ACK
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->code, static_cast<std::uint8_t>(Code::bad_request));
  EXPECT_LE(answer->size, 15U);
}

TEST_F(ServerTest, AMalformedConfirmableMessageGetsAResetAndADatagramTooLongIsFlaggedCut) {
  peer_->send_raw({0x41, 0x02, 0x00, 0x44, 0x07, 0xf0});  // reserved option delta 15
  const auto reset = serve_until_reply();
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->type, 3);
  EXPECT_EQ(reset->message_id, 0x44);

  auto options = default_options();
  options.max_datagram_bytes = 64;
  start(options);
  std::vector<std::uint8_t> long_post = {0x41, 0x02, 0x00, 0x45, 0x08, 0xb6, 'e',
                                         'v',  'e',  'n',  't',  's',  0xff};
  long_post.resize(100, '1');
  peer_->send_raw(long_post);
  serve_until_calls(1);
  EXPECT_TRUE(handler_.last_truncated);
}

TEST_F(ServerTest, DiscoveryListsTheResources) {
  // GET /.well-known/core
  peer_->send_raw({0x40, 0x01, 0x00, 0x46, 0xbb, '.',  'w', 'e', 'l', 'l', '-',
                   'k',  'n',  'o',  'w',  'n',  0x04, 'c', 'o', 'r', 'e'});
  const auto reply = serve_until_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, (2 << 5) | 5);
  EXPECT_EQ(reply->payload, "</events>");
}

TEST_F(ServerTest, DeferOutsideAHandlerIsRefused) {
  const Request request;
  EXPECT_THROW(defer(request), std::logic_error);
}

}  // namespace
}  // namespace iot::coap
