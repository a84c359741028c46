// ClientEngine over DTLS against a tiny in-process coaps server: dtls::ServerSessions on a real
// UDP socket on 127.0.0.1, answering every confirmable request with a piggybacked 2.05 that
// echoes the identity. The test drives both from one thread: engine.poll() with a short
// deadline, then server.pump(); every wait is a loop on a condition with an overall limit.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "coapwire/client_engine.hpp"
#include "dtls/psk_keys.hpp"
#include "dtls/server_sessions.hpp"

namespace iot::coapwire {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

constexpr std::string_view kKeys =
    "dev-0 000102030405060708090a0b0c0d0e0f\n"
    "dev-1 101112131415161718191a1b1c1d1e1f\n";

Bytes key_of(std::uint8_t first) {
  Bytes key(16);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(first + i);
  return key;
}

class CoapsServer : public dtls::ServerSessions::Transport {
 public:
  CoapsServer()
      : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)),
        keys_(std::make_shared<dtls::KeyStore>(dtls::PskKeys::parse(kKeys, "test"))),
        sessions_(keys_, dtls::SessionLimits{}, metrics_) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~CoapsServer() override { ::close(fd_); }

  std::uint16_t port() const { return port_; }
  std::size_t requests() const { return requests_; }
  std::size_t established() const { return sessions_.established(); }
  std::uint64_t handshakes_completed() const { return metrics_.handshakes_completed.value(); }

  void pump() {
    std::array<std::uint8_t, 4096> buffer{};
    for (;;) {
      sockaddr_in from{};
      socklen_t length = sizeof from;
      const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), 0,
                                   reinterpret_cast<sockaddr*>(&from), &length);
      if (n < 0) return;
      const std::string peer(reinterpret_cast<const char*>(&from), sizeof from);
      sessions_.receive(peer, std::span(buffer.data(), static_cast<std::size_t>(n)), Clock::now(),
                        *this);
    }
  }

  // Closes every session with close_notify (as the collector's idle timeout does).
  void close_all() { sessions_.expire(Clock::now() + 24h, *this); }

  void send(std::string_view peer, std::span<const std::uint8_t> datagram) override {
    ::sendto(fd_, datagram.data(), datagram.size(), 0,
             reinterpret_cast<const sockaddr*>(peer.data()), static_cast<socklen_t>(peer.size()));
  }
  void deliver(std::string_view peer, std::span<const std::uint8_t> plaintext,
               std::string_view identity) override {
    const auto request = decode(plaintext);
    if (!request || !request->code.is_request()) return;
    ++requests_;
    Message response;
    response.type = request->type == MessageType::confirmable ? MessageType::acknowledgement
                                                              : MessageType::non_confirmable;
    response.code = codes::kContent;
    response.message_id = request->message_id;
    response.token = request->token;
    response.payload.assign(identity.begin(), identity.end());
    Bytes sealed;
    if (sessions_.seal(peer, encode(response), sealed)) send(peer, sealed);
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
  std::shared_ptr<dtls::KeyStore> keys_;
  dtls::SessionMetrics metrics_;
  dtls::ServerSessions sessions_;
  std::size_t requests_ = 0;
};

struct Done {
  Result::Kind kind;
  Code code;
  std::string payload;
  std::string reason;
};

class coapwire_ClientEngineDtls : public ::testing::Test {
 protected:
  EngineOptions options(std::vector<dtls::ClientCredentials> credentials, std::size_t devices = 1) {
    EngineOptions o;
    o.remote_port = server.port();
    o.devices = devices;
    o.random_seed = 7;
    o.transmission.ack_timeout = 200ms;
    o.dtls_devices = std::move(credentials);
    o.dtls_handshake_timeout = 1500ms;
    return o;
  }

  void get(ClientEngine& engine, std::size_t device) {
    Request request;
    request.path = "health";
    ASSERT_TRUE(engine.send(device, request, [this](const Result& result) {
      done.push_back(
          {result.kind, result.code, std::string(result.payload), std::string(result.reason)});
    }));
  }

  // Polls the engine and pumps the server until `until` holds or 5 s have passed.
  bool run(ClientEngine& engine, const std::function<bool()>& until) {
    const auto limit = Clock::now() + 5s;
    while (!until()) {
      if (Clock::now() > limit) return false;
      engine.poll(Clock::now() + 5ms);
      server.pump();
    }
    return true;
  }

  CoapsServer server;
  std::vector<Done> done;
  std::vector<HandshakeEvent> handshakes;
  HandshakeObserver observe = [this](const HandshakeEvent& event) {
    handshakes.push_back(event);
    handshakes.back().failure = {};  // valid only during the call
  };
};

TEST_F(coapwire_ClientEngineDtls, HandshakesLazilyThenSendsSealedRequests) {
  ClientEngine engine(options({{"dev-0", key_of(0x00)}}), observe);
  engine.poll(Clock::now());
  server.pump();
  EXPECT_EQ(engine.counters().dtls_handshakes_started, 0u) << "no handshake before a request";

  get(engine, 0);
  get(engine, 0);  // queued behind the handshake too
  ASSERT_TRUE(run(engine, [&] { return done.size() == 2; }));
  for (const Done& d : done) {
    EXPECT_EQ(d.kind, Result::Kind::response);
    EXPECT_EQ(d.code, codes::kContent);
    EXPECT_EQ(d.payload, "dev-0") << "the server authenticated the device's identity";
  }
  const EngineCounters counters = engine.counters();
  EXPECT_EQ(counters.dtls_handshakes_started, 1u);
  EXPECT_EQ(counters.dtls_handshakes_established, 1u);
  EXPECT_EQ(counters.dtls_handshakes_failed, 0u);
  EXPECT_GT(counters.dtls_handshake_nanoseconds, 0u);
  EXPECT_GT(counters.dtls_handshake_cpu_nanoseconds, 0u);
  EXPECT_EQ(counters.requests, 2u);
  EXPECT_EQ(counters.responses, 2u);
  EXPECT_EQ(server.requests(), 2u);
  ASSERT_EQ(handshakes.size(), 1u);
  EXPECT_TRUE(handshakes[0].established);
  EXPECT_GT(handshakes[0].finished_at, handshakes[0].started_at);

  // The session stays up: the next request needs no handshake.
  get(engine, 0);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 3; }));
  EXPECT_EQ(done[2].kind, Result::Kind::response);
  EXPECT_EQ(engine.counters().dtls_handshakes_started, 1u);
}

TEST_F(coapwire_ClientEngineDtls, EachDeviceUsesItsOwnIdentity) {
  ClientEngine engine(options({{"dev-0", key_of(0x00)}, {"dev-1", key_of(0x10)}}, 2), observe);
  get(engine, 0);
  get(engine, 1);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 2; }));
  std::vector<std::string> identities{done[0].payload, done[1].payload};
  std::sort(identities.begin(), identities.end());
  EXPECT_EQ(identities, (std::vector<std::string>{"dev-0", "dev-1"}));
  EXPECT_EQ(engine.counters().dtls_handshakes_established, 2u);
  EXPECT_EQ(server.handshakes_completed(), 2u);
}

TEST_F(coapwire_ClientEngineDtls, WrongKeyFailsTheQueuedRequestsWithinTheHandshakeTimeout) {
  ClientEngine engine(options({{"dev-0", key_of(0x55)}}), observe);
  const auto started = Clock::now();
  get(engine, 0);
  get(engine, 0);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 2; }));
  EXPECT_LT(Clock::now() - started, 4s);
  for (const Done& d : done) {
    EXPECT_EQ(d.kind, Result::Kind::handshake_failed);
    EXPECT_TRUE(d.reason.starts_with("dtls handshake failed: ")) << d.reason;
    EXPECT_EQ(d.reason.find("55565758"), std::string::npos) << "never the key: " << d.reason;
  }
  const EngineCounters counters = engine.counters();
  EXPECT_EQ(counters.dtls_handshakes_failed, 1u);
  EXPECT_EQ(counters.dtls_handshakes_established, 0u);
  EXPECT_EQ(counters.handshake_failures, 2u);
  EXPECT_EQ(counters.requests, 0u) << "nothing left unsealed";
  EXPECT_EQ(engine.in_flight(), 0u);
  ASSERT_EQ(handshakes.size(), 1u);
  EXPECT_FALSE(handshakes[0].established);
  EXPECT_EQ(server.requests(), 0u);
}

TEST_F(coapwire_ClientEngineDtls, UnknownIdentityFailsToo) {
  ClientEngine engine(options({{"stranger", key_of(0x00)}}), observe);
  get(engine, 0);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 1; }));
  EXPECT_EQ(done[0].kind, Result::Kind::handshake_failed);
  EXPECT_EQ(engine.counters().dtls_handshakes_failed, 1u);
}

TEST_F(coapwire_ClientEngineDtls, CloseNotifyMakesTheNextRequestHandshakeAgain) {
  ClientEngine engine(options({{"dev-0", key_of(0x00)}}), observe);
  get(engine, 0);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 1; }));
  ASSERT_EQ(server.established(), 1u);

  server.close_all();  // close_notify to the device
  ASSERT_TRUE(run(engine, [&] { return engine.counters().dtls_sessions_closed == 1; }));
  EXPECT_EQ(engine.counters().dtls_handshakes_started, 1u) << "lazily: no request, no handshake";

  get(engine, 0);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 2; }));
  EXPECT_EQ(done[1].kind, Result::Kind::response);
  EXPECT_EQ(done[1].payload, "dev-0");
  EXPECT_EQ(engine.counters().dtls_handshakes_started, 2u);
  EXPECT_EQ(engine.counters().dtls_handshakes_established, 2u);
}

TEST_F(coapwire_ClientEngineDtls, StartHandshakesEstablishesEveryDeviceBeforeAnyRequest) {
  ClientEngine engine(options({{"dev-0", key_of(0x00)}, {"dev-1", key_of(0x10)}}, 2), observe);
  EXPECT_EQ(engine.start_handshakes(), 2u);
  ASSERT_TRUE(run(engine, [&] { return engine.counters().dtls_handshakes_established == 2; }));
  EXPECT_EQ(server.established(), 2u);
  EXPECT_EQ(engine.start_handshakes(), 0u) << "every device has its session";

  get(engine, 0);
  get(engine, 1);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 2; }));
  const auto counters = engine.counters();
  EXPECT_EQ(counters.dtls_handshakes_started, 2u) << "the requests used the sessions made before";
  EXPECT_EQ(counters.dtls_handshakes_failed, 0u);
  EXPECT_EQ(done[0].kind, Result::Kind::response);
  EXPECT_EQ(done[1].kind, Result::Kind::response);
}

TEST_F(coapwire_ClientEngineDtls, CloseSessionsLetsTheServerFreeEverySessionAtOnce) {
  ClientEngine engine(options({{"dev-0", key_of(0x00)}, {"dev-1", key_of(0x10)}}, 2), observe);
  get(engine, 0);
  get(engine, 1);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 2; }));
  ASSERT_EQ(server.established(), 2u);

  engine.close_sessions();
  EXPECT_EQ(engine.counters().dtls_close_notify_sent, 2u);
  ASSERT_TRUE(run(engine, [&] { return server.established() == 0; }))
      << "the server still holds " << server.established() << " sessions";

  get(engine, 0);  // a later request handshakes again
  ASSERT_TRUE(run(engine, [&] { return done.size() == 3; }));
  EXPECT_EQ(done[2].kind, Result::Kind::response);
  EXPECT_EQ(done[2].payload, "dev-0");
  EXPECT_EQ(engine.counters().dtls_handshakes_started, 3u);
}

TEST_F(coapwire_ClientEngineDtls, ServerDownTimesOutTheHandshake) {
  EngineOptions o = options({{"dev-0", key_of(0x00)}});
  o.remote_port = 9;  // discard: nothing answers (ICMP unreachable at most)
  o.dtls_handshake_timeout = 300ms;
  ClientEngine engine(o, observe);
  get(engine, 0);
  ASSERT_TRUE(run(engine, [&] { return done.size() == 1; }));
  EXPECT_EQ(done[0].kind, Result::Kind::handshake_failed);
  EXPECT_NE(done[0].reason.find("300 ms"), std::string::npos) << done[0].reason;
}

TEST_F(coapwire_ClientEngineDtls, RefusesCredentialsThatMatchNeitherOneNorEveryDevice) {
  EXPECT_THROW(ClientEngine(options({{"dev-0", key_of(0)}, {"dev-1", key_of(0x10)}}, 3)),
               std::invalid_argument);
}

}  // namespace
}  // namespace iot::coapwire
