#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "coap/message.hpp"
#include "coapwire/message.hpp"

// The server's boundary between wire messages and the application's Request/Response, apart from
// its sockets so that tests and the fuzz targets (tests/fuzz) drive the very code it runs.
namespace iot::coap::detail {

// Fills `request` from a decoded request message: everything but peer, maybe_truncated and
// origin, which only the server knows. Returns the answer when the protocol gives one without the
// handler: 5.05 for a proxy option, 4.02 for an unknown critical option, the link-format list of
// `paths` for GET /.well-known/core, 4.00 for a bad Block1. request.path points into `paths`, and
// request.payload into `incoming`; `path_scratch` is the caller's reusable buffer.
std::optional<Response> read_request(const coapwire::Message& incoming,
                                     std::span<const std::string> paths, std::string& path_scratch,
                                     Request& request);

// The wire form of an answer: header, token, options in ascending order, payload.
void encode_response(coapwire::MessageType type, std::uint16_t message_id,
                     const coapwire::Token& token, const Response& response,
                     coapwire::Message& scratch, std::vector<std::uint8_t>& out);

}  // namespace iot::coap::detail
