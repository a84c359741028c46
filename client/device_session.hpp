#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "coapwire/client_engine.hpp"
#include "global_options.hpp"

namespace iot::client {

// The final outcome of one request, copied out of the engine's callback.
struct Answer {
  coapwire::Result::Kind kind = coapwire::Result::Kind::timeout;
  coapwire::Code code;
  std::string payload;
  std::optional<std::uint32_t> max_age;
  unsigned retransmissions = 0;
  bool separate = false;
  int error = 0;
  std::string reason;  // handshake_failed: "dtls handshake failed: ..."
  std::chrono::steady_clock::duration latency{};

  // "2.01 Created", "timeout after 4 retransmissions", "reset", "send error: ...",
  // "dtls handshake failed: ..."
  std::string describe() const;
  bool is_success() const { return kind == coapwire::Result::Kind::response && code.cls == 2; }
};

// "Created", "Service Unavailable", ... ("" for codes without a name).
std::string_view code_name(coapwire::Code code);

// One device (one UDP source port) talking to the collector one request at a time: what
// `health`, `send` and `incremental` need. Uses the RFC 7252 transmission parameters. Over DTLS
// (options.dtls()) the first exchange makes the handshake, and the session ends with
// close_notify when the DeviceSession does.
class DeviceSession {
 public:
  explicit DeviceSession(const GlobalOptions& options,
                         coapwire::TransmissionParameters transmission = {});
  ~DeviceSession();
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;
  // Sends and waits for the outcome (a response, a timeout after the retransmissions, a reset).
  Answer exchange(const coapwire::Request& request);
  std::uint16_t local_port() const { return engine_.local_port(0); }

 private:
  coapwire::ClientEngine engine_;
};

// POST /events with Content-Format application/json.
coapwire::Request post_events(std::string_view body,
                              coapwire::MessageType type = coapwire::MessageType::confirmable);

}  // namespace iot::client
