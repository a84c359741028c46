// ClientEngine against the real libcoap example server (Debian's libcoap3-bin), when installed:
// piggybacked answers, a separate response, and NON requests from several devices.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "coapwire/client_engine.hpp"

extern char** environ;

namespace iot::coapwire {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::optional<std::string> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const auto end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

// A port nobody holds right now (the server binds it a moment later).
std::uint16_t free_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 0;
}

// Runs the server for the test's lifetime; SIGTERM and reap on destruction.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

struct Outcome {
  Result result;
  std::string payload;
};

// Sends one request and polls until it completes or `limit` passes.
std::optional<Outcome> exchange(ClientEngine& engine, std::size_t device, const Request& request,
                                std::chrono::milliseconds limit) {
  std::optional<Outcome> outcome;
  engine.send(device, request, [&outcome](const Result& result) {
    outcome = Outcome{result, std::string(result.payload)};
  });
  const auto end = Clock::now() + limit;
  while (!outcome && Clock::now() < end) engine.poll(end);
  return outcome;
}

Request get(std::string_view path, std::string_view query = {},
            MessageType type = MessageType::confirmable) {
  Request request;
  request.type = type;
  request.method = codes::kGet;
  request.path = path;
  request.query = query;
  return request;
}

TEST(coapwire_LibcoapInterop, RealServerAnswersPiggybackedSeparateAndNon) {
  const auto server = find_in_path("coap-server-notls");
  if (!server) GTEST_SKIP() << "coap-server-notls (libcoap3-bin) is not installed";
  const std::uint16_t port = free_udp_port();
  ASSERT_NE(port, 0);
  ChildProcess process({*server, "-A", "127.0.0.1", "-p", std::to_string(port)});
  ASSERT_TRUE(process.started());

  EngineOptions options;
  options.remote_host = "127.0.0.1";
  options.remote_port = port;
  options.devices = 8;
  options.transmission.ack_timeout = 50ms;
  options.transmission.max_retransmit = 2;
  options.transmission.exchange_timeout = 5s;
  ClientEngine engine(options);

  // The server needs a moment to bind: ask until it answers, for at most 10 s.
  std::optional<Outcome> discovery;
  const auto ready_by = Clock::now() + 10s;
  while (Clock::now() < ready_by) {
    discovery = exchange(engine, 0, get(".well-known/core"), 2s);
    if (discovery && discovery->result.kind == Result::Kind::response) break;
  }
  ASSERT_TRUE(discovery && discovery->result.kind == Result::Kind::response)
      << "coap-server-notls did not answer on port " << port;
  EXPECT_EQ(discovery->result.code, codes::kContent);
  EXPECT_NE(discovery->payload.find("</time>"), std::string::npos) << discovery->payload;
  EXPECT_EQ(discovery->result.content_format, kContentFormatLinkFormat);

  const auto time = exchange(engine, 1, get("time"), 5s);
  ASSERT_TRUE(time);
  EXPECT_EQ(time->result.kind, Result::Kind::response);
  EXPECT_EQ(time->result.code, codes::kContent);
  EXPECT_FALSE(time->payload.empty());

  // /async?1: an empty ACK at once, the answer one second later as a CON we must acknowledge.
  const auto acks_before = engine.counters().acks_sent;
  const auto delayed = exchange(engine, 2, get("async", "1"), 8s);
  ASSERT_TRUE(delayed);
  EXPECT_EQ(delayed->result.kind, Result::Kind::response);
  EXPECT_EQ(delayed->result.code, codes::kContent);
  EXPECT_TRUE(delayed->result.separate);
  EXPECT_EQ(delayed->result.response_type, MessageType::confirmable);
  EXPECT_EQ(delayed->result.retransmissions, 0u);
  EXPECT_GE(delayed->result.completed_at - delayed->result.first_sent_at, 900ms);
  // The ACK is queued by the completion and leaves in the next poll.
  engine.poll(Clock::now());
  EXPECT_EQ(engine.counters().acks_sent, acks_before + 1);

  // NON GETs from the other devices at once: each answered with a NON, matched by token.
  std::size_t answered = 0;
  for (std::size_t device = 3; device < engine.device_count(); ++device) {
    engine.send(device, get("time", {}, MessageType::non_confirmable), [&](const Result& result) {
      if (result.kind == Result::Kind::response && result.code == codes::kContent &&
          result.response_type == MessageType::non_confirmable) {
        ++answered;
      }
    });
  }
  const auto end = Clock::now() + 5s;
  while (engine.in_flight() > 0 && Clock::now() < end) engine.poll(end);
  EXPECT_EQ(answered, engine.device_count() - 3);

  const auto missing = exchange(engine, 0, get("no/such/resource"), 5s);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->result.code, codes::kNotFound);
  EXPECT_EQ(engine.counters().decode_errors, 0u);
}

}  // namespace
}  // namespace iot::coapwire
