#include "dtls/server_sessions.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dtls/client_channel.hpp"

namespace iot::dtls {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Clock = ServerSessions::Clock;

Bytes bytes_of(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

std::vector<std::uint8_t> key_of(std::uint8_t first) {
  std::vector<std::uint8_t> key(16);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(first + i);
  return key;
}

PskKeys keys_with(std::string_view lines) {
  return PskKeys::parse(lines, "test");
}

constexpr std::string_view kTwoDevices =
    "dev-1 000102030405060708090a0b0c0d0e0f\n"
    "dev-2 101112131415161718191a1b1c1d1e1f\n";

// One simulated device: its channel and the datagrams it has for the server.
struct Device : ClientChannel::Io {
  Device(std::string peer, std::shared_ptr<const ClientContext> context, std::string identity,
         std::vector<std::uint8_t> key)
      : peer(std::move(peer)), channel(std::move(context), {std::move(identity), std::move(key)}) {}
  void send(std::span<const std::uint8_t> datagram) override {
    to_server.emplace_back(datagram.begin(), datagram.end());
  }
  void deliver(std::span<const std::uint8_t> plaintext) override {
    received.emplace_back(plaintext.begin(), plaintext.end());
  }
  std::string peer;
  ClientChannel channel;
  std::deque<Bytes> to_server;
  std::vector<std::string> received;
};

struct Delivered {
  std::string peer;
  std::string plaintext;
  std::string identity;
};

class ServerSessionsTest : public ::testing::Test, public ServerSessions::Transport {
 protected:
  void send(std::string_view peer, std::span<const std::uint8_t> datagram) override {
    to_devices[std::string(peer)].emplace_back(datagram.begin(), datagram.end());
  }
  void deliver(std::string_view peer, std::span<const std::uint8_t> plaintext,
               std::string_view identity) override {
    delivered.push_back({std::string(peer), std::string(plaintext.begin(), plaintext.end()),
                         std::string(identity)});
  }

  void make_server(SessionLimits limits = {}) { server.emplace(keys, limits, metrics); }

  Device& add_device(std::string peer, std::string identity, std::vector<std::uint8_t> key) {
    devices.push_back(
        std::make_unique<Device>(std::move(peer), context, std::move(identity), std::move(key)));
    return *devices.back();
  }

  // Moves datagrams both ways until nobody has anything to say (bounded: a loop is a bug).
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool moved = false;
      for (auto& device : devices) {
        while (!device->to_server.empty()) {
          const Bytes datagram = std::move(device->to_server.front());
          device->to_server.pop_front();
          server->receive(device->peer, datagram, now, *this);
          moved = true;
        }
        auto& inbox = to_devices[device->peer];
        while (!inbox.empty()) {
          const Bytes datagram = std::move(inbox.front());
          inbox.pop_front();
          device->channel.receive(datagram, *device);
          moved = true;
        }
      }
      if (!moved) return;
    }
    FAIL() << "datagrams still flowing after 100 rounds";
  }

  void connect(Device& device) {
    device.channel.start(device);
    pump();
  }

  // A request from the device, decrypted by the server: what the server delivered.
  std::vector<Delivered> request(Device& device, std::string_view text) {
    delivered.clear();
    Bytes sealed;
    if (!device.channel.seal(bytes_of(text), sealed)) return {};
    server->receive(device.peer, sealed, now, *this);
    return delivered;
  }

  std::shared_ptr<KeyStore> keys = std::make_shared<KeyStore>(keys_with(kTwoDevices));
  std::shared_ptr<const ClientContext> context = std::make_shared<ClientContext>();
  SessionMetrics metrics;
  std::optional<ServerSessions> server;
  std::vector<std::unique_ptr<Device>> devices;
  std::map<std::string, std::deque<Bytes>> to_devices;
  std::vector<Delivered> delivered;
  Clock::time_point now = Clock::now();
};

TEST_F(ServerSessionsTest, FirstClientHelloGetsOnlyACookieAndNoSession) {
  make_server();
  Device& device = add_device("peer-a", "dev-1", key_of(0));
  device.channel.start(device);
  ASSERT_EQ(device.to_server.size(), 1U);
  const Bytes client_hello = device.to_server.front();
  // An off-path spoofer sends this ClientHello from an address it does not own: the answer goes
  // to that address, and the server keeps nothing.
  server->receive("victim", client_hello, now, *this);
  EXPECT_EQ(server->size(), 0U);
  EXPECT_EQ(metrics.hello_verify_requests.value(), 1U);
  ASSERT_EQ(to_devices["victim"].size(), 1U);
  // No amplification: the HelloVerifyRequest is smaller than the ClientHello.
  EXPECT_LT(to_devices["victim"].front().size(), client_hello.size());
}

TEST_F(ServerSessionsTest, HandshakeAuthenticatesIdentityAndCarriesDatagramsBothWays) {
  make_server();
  Device& device = add_device("peer-a", "dev-1", key_of(0));
  connect(device);
  ASSERT_EQ(device.channel.state(), ClientChannel::State::established) << device.channel.failure();
  EXPECT_EQ(server->established(), 1U);
  EXPECT_EQ(metrics.handshakes_completed.value(), 1U);

  const auto got = request(device, "coap request");
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].peer, "peer-a");
  EXPECT_EQ(got[0].plaintext, "coap request");
  EXPECT_EQ(got[0].identity, "dev-1");

  Bytes sealed;
  ASSERT_TRUE(server->seal("peer-a", bytes_of("coap response"), sealed));
  EXPECT_GT(sealed.size(), std::string_view("coap response").size());
  device.channel.receive(sealed, device);
  ASSERT_EQ(device.received.size(), 1U);
  EXPECT_EQ(device.received[0], "coap response");
  EXPECT_FALSE(server->seal("peer-unknown", bytes_of("x"), sealed));
}

TEST_F(ServerSessionsTest, UnknownIdentityFailsAndWrongKeyNeverEstablishes) {
  make_server(SessionLimits{.handshake_timeout = std::chrono::seconds(10)});
  Device& stranger = add_device("peer-a", "nobody", key_of(0));
  Device& thief = add_device("peer-b", "dev-1", key_of(7));  // dev-1's identity, another key
  connect(stranger);
  connect(thief);
  EXPECT_EQ(stranger.channel.state(), ClientChannel::State::failed);
  // A Finished under the wrong key fails its MAC, and DTLS drops such records silently
  // (RFC 6347 §4.1.2.7): the handshake stalls half-open until its timeout.
  EXPECT_EQ(thief.channel.state(), ClientChannel::State::handshaking);
  EXPECT_EQ(server->established(), 0U);
  server->expire(now + std::chrono::seconds(10), *this);
  EXPECT_EQ(server->size(), 0U);
  EXPECT_EQ(metrics.handshakes_failed.value(), 2U);
  EXPECT_EQ(metrics.handshakes_completed.value(), 0U);
  EXPECT_TRUE(delivered.empty());
}

TEST_F(ServerSessionsTest, ReloadClosesSessionsWhoseKeyWentAndKeepsTheOthers) {
  make_server();
  Device& kept = add_device("peer-a", "dev-1", key_of(0));
  Device& removed = add_device("peer-b", "dev-2", key_of(0x10));
  connect(kept);
  connect(removed);
  ASSERT_EQ(server->established(), 2U);

  keys->replace(keys_with("dev-1 000102030405060708090a0b0c0d0e0f\n"));
  EXPECT_EQ(request(kept, "still here").size(), 1U);
  EXPECT_TRUE(request(removed, "revoked").empty());
  EXPECT_EQ(metrics.sessions_revoked.value(), 1U);
  pump();  // the close_notify reaches the device
  EXPECT_EQ(removed.channel.state(), ClientChannel::State::closed);
  // A changed key revokes as well.
  keys->replace(keys_with("dev-1 ffffffffffffffffffffffffffffffff\n"));
  EXPECT_TRUE(request(kept, "old key").empty());
  EXPECT_EQ(server->size(), 0U);
}

TEST_F(ServerSessionsTest, AFullTableMakesRoomByClosingTheSessionIdleTheLongest) {
  make_server(SessionLimits{.max_sessions = 2});
  Device& oldest = add_device("peer-a", "dev-1", key_of(0));
  Device& recent = add_device("peer-b", "dev-2", key_of(0x10));
  connect(oldest);
  now += std::chrono::seconds(1);
  connect(recent);
  now += std::chrono::seconds(1);
  ASSERT_EQ(request(oldest, "active again").size(), 1U);  // now `recent` is idle the longest
  Device& newcomer = add_device("peer-c", "dev-1", key_of(0));
  connect(newcomer);
  ASSERT_EQ(newcomer.channel.state(), ClientChannel::State::established);
  EXPECT_EQ(server->established(), 2U);
  EXPECT_EQ(metrics.sessions_evicted.value(), 1U);
  EXPECT_EQ(recent.channel.state(), ClientChannel::State::closed);  // told with close_notify
  EXPECT_EQ(request(oldest, "kept").size(), 1U);
  EXPECT_EQ(request(newcomer, "admitted").size(), 1U);
}

TEST_F(ServerSessionsTest, PeersWithoutAKeyNeverDisplaceEstablishedSessions) {
  make_server(SessionLimits{.max_sessions = 1, .max_handshakes = 1});
  Device& established = add_device("peer-a", "dev-1", key_of(0));
  connect(established);
  for (const char* peer : {"stranger-1", "stranger-2", "stranger-3"}) {
    connect(add_device(peer, "nobody", key_of(0)));
    connect(add_device(std::string(peer) + "-thief", "dev-2", key_of(0x77)));  // wrong key
  }
  EXPECT_EQ(server->established(), 1U);
  EXPECT_EQ(metrics.sessions_evicted.value(), 0U);
  EXPECT_LE(server->size(), 2U);  // the one established, at most one unfinished
  EXPECT_EQ(request(established, "unaffected").size(), 1U);
}

TEST_F(ServerSessionsTest, HalfOpenHandshakesAreBoundedAndTimeOut) {
  make_server(SessionLimits{.max_handshakes = 1, .handshake_timeout = std::chrono::seconds(10)});
  Device& established = add_device("peer-a", "dev-1", key_of(0));
  connect(established);
  // Two peers get their cookie and stop after the ServerHello: half-open sessions.
  for (const char* peer : {"half-1", "half-2"}) {
    Device& device = add_device(peer, "dev-2", key_of(0x10));
    device.channel.start(device);
    server->receive(peer, device.to_server.front(), now, *this);  // cookie
    device.channel.receive(to_devices[peer].front(), device);
    to_devices[peer].clear();
    server->receive(peer, device.to_server.back(), now, *this);  // ClientHello with cookie
  }
  EXPECT_EQ(server->size(), 2U);  // the second half-open one was dropped: one is unfinished
  EXPECT_EQ(metrics.handshakes_deferred.value(), 1U);
  EXPECT_EQ(server->established(), 1U);
  EXPECT_EQ(request(established, "unaffected").size(), 1U);
  const auto due = server->next_expiry();
  ASSERT_TRUE(due);
  EXPECT_LE(*due, now + std::chrono::seconds(10));
  server->expire(now + std::chrono::seconds(10), *this);
  EXPECT_EQ(server->size(), 1U);
}

TEST_F(ServerSessionsTest, IdleSessionsCloseWithNotice) {
  make_server(SessionLimits{.idle_timeout = std::chrono::seconds(300)});
  Device& device = add_device("peer-a", "dev-1", key_of(0));
  connect(device);
  server->expire(now + std::chrono::seconds(299), *this);
  EXPECT_EQ(server->size(), 1U);
  server->expire(now + std::chrono::seconds(300), *this);
  EXPECT_EQ(server->size(), 0U);
  pump();
  EXPECT_EQ(device.channel.state(), ClientChannel::State::closed);
  EXPECT_FALSE(server->next_expiry());
}

TEST_F(ServerSessionsTest, RebootedDeviceOnTheSamePortHandshakesAgain) {
  make_server();
  Device& before = add_device("peer-a", "dev-1", key_of(0));
  connect(before);
  Device& after = add_device("peer-a", "dev-1", key_of(0));
  devices.front()->peer = "gone";  // the old channel's datagrams no longer reach anyone
  connect(after);
  ASSERT_EQ(after.channel.state(), ClientChannel::State::established) << after.channel.failure();
  EXPECT_EQ(server->size(), 1U);
  EXPECT_EQ(request(after, "after reboot").size(), 1U);
}

TEST_F(ServerSessionsTest, GarbageNeverReachesTheApplicationNorBreaksSessions) {
  make_server();
  Device& device = add_device("peer-a", "dev-1", key_of(0));
  connect(device);
  const std::vector<Bytes> garbage = {
      {},
      {0x16},
      Bytes(13, 0),
      Bytes(13, 0xff),
      {0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1},     // length beyond the datagram
      {0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4},  // forged application data
      bytes_of("GET /health HTTP/1.1\r\n\r\n"),
  };
  for (const auto& datagram : garbage) {
    server->receive("peer-a", datagram, now, *this);
    server->receive("peer-stranger", datagram, now, *this);
  }
  EXPECT_TRUE(delivered.empty());
  EXPECT_GE(metrics.records_dropped.value(), 1U);
  EXPECT_EQ(request(device, "after garbage").size(), 1U);
}

TEST_F(ServerSessionsTest, AProtectedRecordTooShortForTheCipherIsDroppedAndTheSessionLives) {
  make_server();
  Device& device = add_device("peer-a", "dev-1", key_of(0));
  connect(device);
  // Epoch 1, 15 bytes: one short of the 8-byte nonce and 8-byte tag of AES-128-CCM8, so no
  // device sent it. Spoofed from the device's address it must not end the device's session.
  Bytes forged{0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 15};
  forged.resize(forged.size() + 15, 0x5a);
  const auto dropped = metrics.records_dropped.value();
  server->receive("peer-a", forged, now, *this);
  EXPECT_EQ(metrics.records_dropped.value(), dropped + 1);
  EXPECT_TRUE(delivered.empty());
  EXPECT_EQ(request(device, "still here").size(), 1U);
}

TEST_F(ServerSessionsTest, AForgedRecordNeverEndsTheDevicesSession) {
  // The device's side of the test above: iotc's devices must not lose their session to a
  // datagram spoofed from the server's address either, too short for the cipher or not.
  make_server();
  Device& device = add_device("peer-a", "dev-1", key_of(0));
  connect(device);
  ASSERT_EQ(device.channel.state(), ClientChannel::State::established) << device.channel.failure();
  Bytes too_short{0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 15};
  too_short.resize(too_short.size() + 15, 0x5a);
  Bytes bad_tag{0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 40};
  bad_tag.resize(bad_tag.size() + 40, 0x5a);
  for (const Bytes& forged : {too_short, bad_tag}) {
    device.channel.receive(forged, device);
    EXPECT_EQ(device.channel.state(), ClientChannel::State::established)
        << forged.size() << " bytes: " << device.channel.failure();
  }
  EXPECT_TRUE(device.received.empty());
  Bytes sealed;
  ASSERT_TRUE(server->seal("peer-a", bytes_of("still here"), sealed));
  device.channel.receive(sealed, device);
  ASSERT_EQ(device.received.size(), 1U);
  EXPECT_EQ(device.received[0], "still here");
}

}  // namespace
}  // namespace iot::dtls
