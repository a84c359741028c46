#include "device_session.hpp"

#include <cstring>
#include <span>
#include <stdexcept>

namespace iot::client {

std::string_view code_name(coapwire::Code code) {
  using namespace coapwire::codes;
  struct Named {
    coapwire::Code code;
    std::string_view name;
  };
  static constexpr Named kNames[] = {
      {kCreated, "Created"},
      {kDeleted, "Deleted"},
      {kValid, "Valid"},
      {kChanged, "Changed"},
      {kContent, "Content"},
      {kContinue, "Continue"},
      {kBadRequest, "Bad Request"},
      {kUnauthorized, "Unauthorized"},
      {kBadOption, "Bad Option"},
      {kForbidden, "Forbidden"},
      {kNotFound, "Not Found"},
      {kMethodNotAllowed, "Method Not Allowed"},
      {kNotAcceptable, "Not Acceptable"},
      {kRequestEntityIncomplete, "Request Entity Incomplete"},
      {kPreconditionFailed, "Precondition Failed"},
      {kRequestEntityTooLarge, "Request Entity Too Large"},
      {kUnsupportedContentFormat, "Unsupported Content-Format"},
      {kTooManyRequests, "Too Many Requests"},
      {kInternalServerError, "Internal Server Error"},
      {kNotImplemented, "Not Implemented"},
      {kBadGateway, "Bad Gateway"},
      {kServiceUnavailable, "Service Unavailable"},
      {kGatewayTimeout, "Gateway Timeout"},
  };
  for (const auto& named : kNames) {
    if (named.code == code) return named.name;
  }
  return "";
}

std::string Answer::describe() const {
  switch (kind) {
    case coapwire::Result::Kind::response: {
      std::string text = code.to_string();
      if (const auto name = code_name(code); !name.empty()) text += " " + std::string(name);
      if (max_age) text += " (Max-Age " + std::to_string(*max_age) + " s)";
      return text;
    }
    case coapwire::Result::Kind::timeout:
      return "timeout: no answer after " + std::to_string(retransmissions) + " retransmissions";
    case coapwire::Result::Kind::reset:
      return "reset: the server refused the message (RST)";
    case coapwire::Result::Kind::send_error:
      return std::string("send error: ") + std::strerror(error);
    case coapwire::Result::Kind::handshake_failed:
      return reason;
  }
  return "unknown";
}

DeviceSession::DeviceSession(const GlobalOptions& options,
                             coapwire::TransmissionParameters transmission)
    : engine_([&] {
        coapwire::EngineOptions engine;
        engine.remote_host = options.host;
        engine.remote_port = options.port;
        engine.devices = 1;
        engine.transmission = transmission;
        engine.dtls_devices = options.engine_credentials(0, 1);
        engine.dtls_handshake_timeout = options.handshake_timeout;
        return engine;
      }()) {}

DeviceSession::~DeviceSession() {
  engine_.close_sessions();
}

Answer DeviceSession::exchange(const coapwire::Request& request) {
  std::optional<Answer> answer;
  const auto sent_at = std::chrono::steady_clock::now();
  // One request at a time: the device always has a free message id.
  const bool queued = engine_.send(0, request, [&](const coapwire::Result& result) {
    Answer a;
    a.kind = result.kind;
    a.code = result.code;
    a.payload = std::string(result.payload);
    a.max_age = result.max_age;
    a.retransmissions = result.retransmissions;
    a.separate = result.separate;
    a.error = result.error;
    a.reason = std::string(result.reason);
    a.latency = result.completed_at - sent_at;
    answer = std::move(a);
  });
  if (!queued) throw std::logic_error("iotc: no free CoAP message id on an idle device");
  // The engine's own timers end every exchange (retransmissions, then the exchange timeout).
  while (!answer) engine_.poll(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  return *answer;
}

coapwire::Request post_events(std::string_view body, coapwire::MessageType type) {
  coapwire::Request request;
  request.type = type;
  request.method = coapwire::codes::kPost;
  request.path = "events";
  request.content_format = coapwire::kContentFormatJson;
  request.payload = std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
  return request;
}

}  // namespace iot::client
