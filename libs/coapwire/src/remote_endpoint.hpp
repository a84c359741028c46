#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace iot::coapwire::detail {

// The server every device talks to, as the socket API wants it.
struct RemoteEndpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
  std::string text;  // "127.0.0.1:5683" / "[::1]:5683", for error messages
};

// Resolves a numeric address or a host name (first UDP result, as getaddrinfo orders them).
// Throws std::runtime_error naming the host when it does not resolve.
RemoteEndpoint resolve_remote(std::string_view host, std::uint16_t port);

}  // namespace iot::coapwire::detail
