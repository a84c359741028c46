#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

// Plain CoAP message types the application works with. The server translates datagrams to and
// from these at its boundary.
namespace iot::coap {

// Response codes as on the wire: class in the top 3 bits, detail in the low 5 (RFC 7252 §3).
enum class Code : std::uint8_t {
  created = (2 << 5) | 1,
  content = (2 << 5) | 5,
  continue_ = (2 << 5) | 31,
  bad_request = (4 << 5) | 0,
  bad_option = (4 << 5) | 2,
  forbidden = (4 << 5) | 3,
  not_found = (4 << 5) | 4,
  method_not_allowed = (4 << 5) | 5,
  request_entity_incomplete = (4 << 5) | 8,
  request_entity_too_large = (4 << 5) | 13,
  unsupported_content_format = (4 << 5) | 15,
  too_many_requests = (4 << 5) | 29,
  internal_server_error = (5 << 5) | 0,
  service_unavailable = (5 << 5) | 3,
  proxying_not_supported = (5 << 5) | 5,
};
// "2.01", "4.13", ...
std::string code_text(Code code);

enum class Method : std::uint8_t { get, post, put, del, fetch, patch, ipatch, other };
inline constexpr std::size_t kMethodCount = 8;
std::string_view method_name(Method method);  // "GET", "POST", ..., "OTHER"

inline constexpr unsigned kContentFormatTextPlain = 0;
inline constexpr unsigned kContentFormatJson = 50;

// Block1/Block2 option value (RFC 7959 §2.2): block number, more flag, size exponent.
struct BlockOption {
  std::uint32_t number = 0;
  bool more = false;
  std::uint8_t size_exponent = 6;  // size = 2^(szx + 4): 16..1024 bytes
  std::size_t size() const { return std::size_t{1} << (size_exponent + 4); }
  std::uint32_t encode() const { return (number << 4) | (more ? 0x8u : 0u) | size_exponent; }
  static std::optional<BlockOption> decode(std::uint32_t value);  // nullopt for szx 7 (BERT)
};

// The remote endpoint of a request: address family, port and address bytes, compared as bytes.
struct PeerAddress {
  std::array<std::uint8_t, 19> bytes{};  // [family][port hi][port lo][address: 4 or 16 bytes]
  std::uint8_t length = 0;
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes.data()), length}; }
  bool operator==(const PeerAddress& other) const { return view() == other.view(); }
  std::string to_string() const;  // "127.0.0.1:5683" / "[::1]:5683", for logs
};

// The server's private view of the exchange a Request belongs to (see defer() in server.hpp).
struct ExchangeOrigin;

struct Request {
  Method method = Method::other;
  std::string_view path;  // the registered resource ("events", "health") or "" when unknown
  bool confirmable = true;
  std::uint16_t message_id = 0;
  std::optional<unsigned> content_format;
  std::optional<BlockOption> block1;
  std::optional<std::uint64_t> size1;
  std::span<const std::uint8_t> payload;
  PeerAddress peer;
  // The device's authenticated identity (its DTLS PSK identity); empty over plain UDP, where a
  // request proves nothing about who sent it.
  std::string_view identity;
  // The datagram was longer than ServerOptions::max_datagram_bytes and was cut short: its body
  // must not be trusted. Larger bodies have to use Block1.
  bool maybe_truncated = false;
  const ExchangeOrigin* origin = nullptr;  // set by the server; valid during handle() only
};

struct Response {
  Response() = default;
  explicit Response(Code code, std::string payload = {},
                    std::optional<unsigned> content_format = {})
      : code(code), content_format(content_format), payload(std::move(payload)) {}

  Code code = Code::internal_server_error;
  std::optional<unsigned> content_format;
  std::optional<std::uint32_t> max_age;  // seconds
  std::optional<BlockOption> block1;
  std::optional<std::uint32_t> size1;
  std::string payload;

  static Response text(Code code, std::string message) {
    return Response(code, std::move(message), kContentFormatTextPlain);
  }
};

}  // namespace iot::coap
