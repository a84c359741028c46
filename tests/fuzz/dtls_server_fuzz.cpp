// libFuzzer target: datagrams from a few peers into the collector's DTLS server sessions
// (libs/dtls ServerSessions): record screening, the stateless cookie exchange (DTLSv1_listen),
// handshakes that begin and stall, the session table's bounds and expiry. Nothing without a key
// can complete a handshake, so nothing may ever be delivered as plaintext.
//
// Input: frames of [flags][length, 2 bytes big-endian][datagram] (as coap_request_fuzz); flags:
//   bits 0-1  the sending peer (four)
//   bits 2-3  time passing first: none, 1 s, 11 s (past the handshake timeout), 400 s
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "dtls/server_sessions.hpp"
#include "fuzz_check.hpp"

namespace {

using iot::dtls::ServerSessions;

class RecordingTransport final : public ServerSessions::Transport {
 public:
  void send(std::string_view peer, std::span<const std::uint8_t> datagram) override {
    FUZZ_CHECK(!peer.empty());
    FUZZ_CHECK(!datagram.empty() && datagram.size() <= 1400);  // the MTU
  }
  void deliver(std::string_view, std::span<const std::uint8_t>, std::string_view) override {
    FUZZ_CHECK(!"plaintext from a peer that never proved a key");
  }
};

constexpr std::string_view kKeys =
    "dev-1 000102030405060708090a0b0c0d0e0f\n"
    "dev-2 base64:EBESExQVFhcYGRobHB0eHw==\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto keys =
      std::make_shared<const iot::dtls::KeyStore>(iot::dtls::PskKeys::parse(kKeys, "fuzz"));
  iot::dtls::SessionMetrics metrics;
  ServerSessions sessions(keys, iot::dtls::SessionLimits{.max_sessions = 2, .max_handshakes = 2},
                          metrics);
  RecordingTransport transport;
  static constexpr std::string_view kPeers[] = {"peer-a", "peer-b", "peer-c", "peer-d"};
  static constexpr std::chrono::seconds kSteps[] = {
      std::chrono::seconds(0), std::chrono::seconds(1), std::chrono::seconds(11),
      std::chrono::seconds(400)};
  auto now = ServerSessions::Clock::time_point{} + std::chrono::hours(1);
  std::span<const std::uint8_t> input(data, size);
  while (input.size() >= 3) {
    const std::uint8_t flags = input[0];
    const std::size_t length =
        std::min<std::size_t>((std::size_t{input[1]} << 8) | input[2], input.size() - 3);
    const auto datagram = input.subspan(3, length);
    input = input.subspan(3 + length);
    now += kSteps[(flags >> 2) & 3];
    sessions.expire(now, transport);
    sessions.receive(kPeers[flags & 3], datagram, now, transport);
    FUZZ_CHECK(sessions.established() == 0);
    FUZZ_CHECK(sessions.size() <= 2);
  }
  return 0;
}
