#include "coap/message.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdio>

namespace iot::coap {

std::string code_text(Code code) {
  const auto value = static_cast<unsigned>(code);
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%u.%02u", value >> 5, value & 0x1f);
  return buffer;
}

std::string_view method_name(Method method) {
  switch (method) {
    case Method::get:
      return "GET";
    case Method::post:
      return "POST";
    case Method::put:
      return "PUT";
    case Method::del:
      return "DELETE";
    case Method::fetch:
      return "FETCH";
    case Method::patch:
      return "PATCH";
    case Method::ipatch:
      return "IPATCH";
    case Method::other:
      break;
  }
  return "OTHER";
}

std::optional<BlockOption> BlockOption::decode(std::uint32_t value) {
  const auto szx = static_cast<std::uint8_t>(value & 0x7);
  if (szx == 7) return std::nullopt;  // BERT is for CoAP over TCP only
  return BlockOption{value >> 4, (value & 0x8) != 0, szx};
}

std::string PeerAddress::to_string() const {
  if (length < 3) return "unknown";
  const unsigned port = (unsigned{bytes[1]} << 8) | bytes[2];
  char address[INET6_ADDRSTRLEN] = {};
  if (bytes[0] == AF_INET && length == 7) {
    inet_ntop(AF_INET, bytes.data() + 3, address, sizeof address);
    return std::string(address) + ":" + std::to_string(port);
  }
  if (bytes[0] == AF_INET6 && length == 19) {
    inet_ntop(AF_INET6, bytes.data() + 3, address, sizeof address);
    return "[" + std::string(address) + "]:" + std::to_string(port);
  }
  return "unknown";
}

}  // namespace iot::coap
