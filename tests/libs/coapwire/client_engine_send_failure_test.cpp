// ClientEngine when the kernel refuses or cuts a send. On loopback a UDP send never meets a full
// buffer (the datagram is handed to the receiver at once), but on a NIC a load run meets EAGAIN
// and ENOBUFS (a full device queue) all the time. This binary is linked with
// -Wl,--wrap=send,--wrap=sendmmsg: the engine's calls come here first, and the test decides what
// the kernel answers for the engine's socket; every other call goes through unchanged.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <set>
#include <vector>

#include "coapwire/client_engine.hpp"
#include "coapwire/message.hpp"

namespace {

// What the wrapped calls do to sends from `port` (0: nothing).
struct Injection {
  std::uint16_t port = 0;
  int failures_left = 0;    // calls that fail with `error` before any succeeds
  int error = 0;            // EAGAIN or ENOBUFS
  unsigned at_most = 0;     // > 0: a sendmmsg sends at most this many (a short count)
  int calls_refused = 0;    // calls failed so far
  int calls_cut_short = 0;  // sendmmsg calls that sent fewer than asked
};
Injection injection;

std::uint16_t local_port_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family != AF_INET) return 0;
  return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
}

// True when this call is to fail (errno set).
bool refuse(int fd) {
  if (injection.port == 0 || injection.failures_left == 0 || local_port_of(fd) != injection.port) {
    return false;
  }
  --injection.failures_left;
  ++injection.calls_refused;
  errno = injection.error;
  return true;
}

}  // namespace

// The names are the ones the linker's --wrap gives.
// NOLINTBEGIN(bugprone-reserved-identifier,readability-identifier-naming)
extern "C" {
ssize_t __real_send(int fd, const void* buffer, size_t length, int flags);
int __real_sendmmsg(int fd, mmsghdr* messages, unsigned count, int flags);

ssize_t __wrap_send(int fd, const void* buffer, size_t length, int flags) {
  if (refuse(fd)) return -1;
  return __real_send(fd, buffer, length, flags);
}

int __wrap_sendmmsg(int fd, mmsghdr* messages, unsigned count, int flags) {
  if (refuse(fd)) return -1;
  if (injection.at_most > 0 && count > injection.at_most && local_port_of(fd) == injection.port) {
    ++injection.calls_cut_short;
    count = injection.at_most;
  }
  return __real_sendmmsg(fd, messages, count, flags);
}
}
// NOLINTEND(bugprone-reserved-identifier,readability-identifier-naming)

namespace iot::coapwire {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Answers every request with a piggybacked 2.04 and remembers the message ids it saw.
class Acknowledger {
 public:
  Acknowledger() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      port_ = local_port_of(fd_);
    }
  }
  ~Acknowledger() { ::close(fd_); }
  Acknowledger(const Acknowledger&) = delete;
  Acknowledger& operator=(const Acknowledger&) = delete;

  std::uint16_t port() const { return port_; }
  const std::vector<std::uint16_t>& message_ids() const { return message_ids_; }

  void pump() {
    std::array<std::uint8_t, 2048> buffer{};
    for (;;) {
      sockaddr_storage from{};
      socklen_t from_length = sizeof from;
      const ssize_t length = ::recvfrom(fd_, buffer.data(), buffer.size(), 0,
                                        reinterpret_cast<sockaddr*>(&from), &from_length);
      if (length < 0) return;
      const auto request = decode(std::span(buffer.data(), static_cast<std::size_t>(length)));
      if (!request || !request->code.is_request()) continue;
      message_ids_.push_back(request->message_id);
      Message answer;
      answer.type = MessageType::acknowledgement;
      answer.code = codes::kChanged;
      answer.message_id = request->message_id;
      answer.token = request->token;
      const auto bytes = encode(answer);
      ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&from),
               from_length);
    }
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
  std::vector<std::uint16_t> message_ids_;
};

class SendFailureTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kRequests = 20;

  SendFailureTest() : engine_(options()) {
    injection = Injection{};
    injection.port = engine_.local_port(0);
  }
  ~SendFailureTest() override { injection = Injection{}; }

  EngineOptions options() const {
    EngineOptions options;
    options.remote_host = "127.0.0.1";
    options.remote_port = acknowledger_.port();
    options.devices = 1;
    options.random_seed = 7;
    // Long enough that nothing is retransmitted in these tests: a retransmission would hide a
    // datagram the engine dropped.
    options.transmission.ack_timeout = 5s;
    return options;
  }

  // Queues kRequests CON POSTs on the one device (they leave together, in one sendmmsg) and
  // runs until all are answered, for at most 10 s.
  bool send_all_and_wait() {
    const std::string body = R"({"v":1})";
    for (std::size_t i = 0; i < kRequests; ++i) {
      Request request;
      request.method = codes::kPost;
      request.path = "events";
      request.payload = std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
      if (!engine_.send(0, request,
                        [this](const Result& result) { results_.push_back(result.code); })) {
        return false;
      }
    }
    const auto end = Clock::now() + 10s;
    while (results_.size() < kRequests && Clock::now() < end) {
      engine_.poll(Clock::now() + 1ms);
      acknowledger_.pump();
    }
    return results_.size() == kRequests;
  }

  // Every request reached the server exactly once and was answered 2.04.
  void expect_each_request_once() {
    EXPECT_TRUE(std::all_of(results_.begin(), results_.end(),
                            [](Code code) { return code == codes::kChanged; }));
    const auto& ids = acknowledger_.message_ids();
    EXPECT_EQ(ids.size(), kRequests) << "a refused datagram was lost or sent twice";
    EXPECT_EQ(std::set(ids.begin(), ids.end()).size(), kRequests);
    const auto counters = engine_.counters();
    EXPECT_EQ(counters.requests, kRequests);
    EXPECT_EQ(counters.datagrams_sent, kRequests);
    EXPECT_EQ(counters.retransmissions, 0u);
    EXPECT_EQ(counters.send_errors, 0u);
  }

  // The first three send calls on the device's socket fail with `error`; nothing may be lost.
  void survive_three_refusals(int error) {
    injection.error = error;
    injection.failures_left = 3;
    ASSERT_TRUE(send_all_and_wait());
    EXPECT_EQ(injection.calls_refused, 3);
    EXPECT_EQ(engine_.counters().would_block, 3u);
    expect_each_request_once();
  }

  Acknowledger acknowledger_;  // before engine_: its port is in the engine's options
  ClientEngine engine_;
  std::vector<Code> results_;
};

TEST_F(SendFailureTest, AFullSendBufferHoldsTheDatagramsUntilTheSocketIsWritable) {
  survive_three_refusals(EAGAIN);
}

TEST_F(SendFailureTest, AFullDeviceQueueIsRetriedAfterAPause) {
  // ENOBUFS gives no readiness event to wait for: the engine must come back by itself.
  survive_three_refusals(ENOBUFS);
}

TEST_F(SendFailureTest, AShortSendmmsgSendsTheRestAfterwards) {
  injection.at_most = 3;
  ASSERT_TRUE(send_all_and_wait());
  EXPECT_GE(injection.calls_cut_short, 1) << "the requests did not leave in one sendmmsg";
  EXPECT_EQ(engine_.counters().would_block, 0u);
  expect_each_request_once();
}

TEST_F(SendFailureTest, RefusalsAndShortCountsTogether) {
  injection.error = EAGAIN;
  injection.failures_left = 2;
  injection.at_most = 7;
  ASSERT_TRUE(send_all_and_wait());
  EXPECT_EQ(injection.calls_refused, 2);
  expect_each_request_once();
}

}  // namespace
}  // namespace iot::coapwire
