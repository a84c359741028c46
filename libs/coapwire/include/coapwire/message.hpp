#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// CoAP messages as on the wire (RFC 7252 §3), encoded and decoded without libcoap. Written for a
// load generator's hot path: a Message keeps its buffers across clear() and decode_into(), so a
// reused Message decodes and encodes without allocating once it has grown to the traffic's size.
namespace iot::coapwire {

enum class MessageType : std::uint8_t { confirmable, non_confirmable, acknowledgement, reset };
std::string_view to_string(MessageType type);  // "CON", "NON", "ACK", "RST"

// Request method or response code: class (0..7) and detail (0..31), shown as "2.05".
struct Code {
  std::uint8_t cls = 0;
  std::uint8_t detail = 0;

  constexpr std::uint8_t raw() const {
    return static_cast<std::uint8_t>((cls << 5) | (detail & 0x1f));
  }
  static constexpr Code from_raw(std::uint8_t raw) {
    return Code{static_cast<std::uint8_t>(raw >> 5), static_cast<std::uint8_t>(raw & 0x1f)};
  }
  constexpr bool is_empty() const { return cls == 0 && detail == 0; }
  constexpr bool is_request() const { return cls == 0 && detail != 0; }
  // Classes 2, 4 and 5; 1, 3, 6 and 7 are reserved (RFC 7252 §12.1).
  constexpr bool is_response() const { return cls == 2 || cls == 4 || cls == 5; }
  std::string to_string() const;  // "0.01", "2.05", "4.13"
  friend constexpr bool operator==(Code, Code) = default;
};

namespace codes {
inline constexpr Code kEmpty{0, 0};
inline constexpr Code kGet{0, 1};
inline constexpr Code kPost{0, 2};
inline constexpr Code kPut{0, 3};
inline constexpr Code kDelete{0, 4};
inline constexpr Code kFetch{0, 5};
inline constexpr Code kCreated{2, 1};
inline constexpr Code kDeleted{2, 2};
inline constexpr Code kValid{2, 3};
inline constexpr Code kChanged{2, 4};
inline constexpr Code kContent{2, 5};
inline constexpr Code kContinue{2, 31};
inline constexpr Code kBadRequest{4, 0};
inline constexpr Code kUnauthorized{4, 1};
inline constexpr Code kBadOption{4, 2};
inline constexpr Code kForbidden{4, 3};
inline constexpr Code kNotFound{4, 4};
inline constexpr Code kMethodNotAllowed{4, 5};
inline constexpr Code kNotAcceptable{4, 6};
inline constexpr Code kRequestEntityIncomplete{4, 8};
inline constexpr Code kPreconditionFailed{4, 12};
inline constexpr Code kRequestEntityTooLarge{4, 13};
inline constexpr Code kUnsupportedContentFormat{4, 15};
inline constexpr Code kTooManyRequests{4, 29};
inline constexpr Code kInternalServerError{5, 0};
inline constexpr Code kNotImplemented{5, 1};
inline constexpr Code kBadGateway{5, 2};
inline constexpr Code kServiceUnavailable{5, 3};
inline constexpr Code kGatewayTimeout{5, 4};
}  // namespace codes

// Option numbers (RFC 7252 §5.10, RFC 7959 for Block1/Block2/Size2).
namespace options {
inline constexpr std::uint16_t kIfMatch = 1;
inline constexpr std::uint16_t kUriHost = 3;
inline constexpr std::uint16_t kETag = 4;
inline constexpr std::uint16_t kIfNoneMatch = 5;
inline constexpr std::uint16_t kObserve = 6;
inline constexpr std::uint16_t kUriPort = 7;
inline constexpr std::uint16_t kLocationPath = 8;
inline constexpr std::uint16_t kUriPath = 11;
inline constexpr std::uint16_t kContentFormat = 12;
inline constexpr std::uint16_t kMaxAge = 14;
inline constexpr std::uint16_t kUriQuery = 15;
inline constexpr std::uint16_t kAccept = 17;
inline constexpr std::uint16_t kLocationQuery = 20;
inline constexpr std::uint16_t kBlock2 = 23;
inline constexpr std::uint16_t kBlock1 = 27;
inline constexpr std::uint16_t kSize2 = 28;
inline constexpr std::uint16_t kSize1 = 60;
}  // namespace options

inline constexpr std::uint16_t kContentFormatTextPlain = 0;
inline constexpr std::uint16_t kContentFormatLinkFormat = 40;
inline constexpr std::uint16_t kContentFormatJson = 50;
inline constexpr std::uint16_t kContentFormatCbor = 60;

inline constexpr std::size_t kMaxTokenBytes = 8;

// 0..8 opaque bytes, stored inline so a Message needs no allocation for it.
struct Token {
  std::array<std::uint8_t, kMaxTokenBytes> bytes{};
  std::uint8_t length = 0;

  std::span<const std::uint8_t> view() const { return {bytes.data(), length}; }
  static std::optional<Token> from(std::span<const std::uint8_t> bytes);  // nullopt beyond 8
  friend bool operator==(const Token& a, const Token& b) {
    return a.length == b.length &&
           std::equal(a.bytes.begin(), a.bytes.begin() + a.length, b.bytes.begin());
  }
};

// Block1/Block2 value (RFC 7959 §2.2): block number, more flag, size exponent.
struct BlockOption {
  std::uint32_t number = 0;  // < 2^20
  bool more = false;
  std::uint8_t size_exponent = 6;  // size = 2^(szx + 4): 16..1024 bytes; 7 (BERT) is not used
  std::size_t size() const { return std::size_t{1} << (size_exponent + 4); }
  std::uint32_t encode() const { return (number << 4) | (more ? 0x8u : 0u) | size_exponent; }
  static std::optional<BlockOption> decode(std::uint32_t value);  // nullopt for szx 7
};

// An option as seen in a message; `value` points into the message that holds it.
struct Option {
  std::uint16_t number = 0;
  std::span<const std::uint8_t> value;
};

// Bytes of text, for payloads and option values given as strings.
inline std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

class Message {
 public:
  MessageType type = MessageType::confirmable;
  Code code;
  std::uint16_t message_id = 0;
  Token token;
  std::vector<std::uint8_t> payload;

  // Forgets options and payload but keeps their capacity.
  void clear();

  // Options are kept in ascending number order, which encoding needs; an option added with a
  // number already present goes after the existing ones (repeatable options keep their order).
  void add_option(std::uint16_t number, std::span<const std::uint8_t> value);
  void add_option(std::uint16_t number, std::string_view value) {
    add_option(number, bytes_of(value));
  }
  // Unsigned integer in the fewest bytes: 0 is the empty value (RFC 7252 §3.2).
  void add_uint_option(std::uint16_t number, std::uint32_t value);
  // One Uri-Path option per non-empty segment of "a/b/c" (a leading or doubled '/' adds none).
  void add_uri_path(std::string_view path);
  // One Uri-Query option per non-empty '&'-separated argument of "a=1&b".
  void add_uri_query(std::string_view query);
  void set_content_format(std::uint16_t format) {
    add_uint_option(options::kContentFormat, format);
  }
  void set_accept(std::uint16_t format) { add_uint_option(options::kAccept, format); }
  void set_block1(const BlockOption& block) { add_uint_option(options::kBlock1, block.encode()); }
  void set_size1(std::uint32_t bytes) { add_uint_option(options::kSize1, bytes); }

  std::size_t option_count() const { return entries_.size(); }
  Option option(std::size_t index) const;
  // The first option with this number, if any.
  std::optional<Option> find_option(std::uint16_t number) const;
  // The first option with this number read as an unsigned integer; nullopt when absent or longer
  // than 4 bytes (RFC 7252 §5.4.3: such a value is treated as unrecognised).
  std::optional<std::uint32_t> uint_option(std::uint16_t number) const;
  std::optional<std::uint32_t> content_format() const {
    return uint_option(options::kContentFormat);
  }
  std::optional<std::uint32_t> max_age() const { return uint_option(options::kMaxAge); }
  std::optional<std::uint32_t> size1() const { return uint_option(options::kSize1); }
  std::optional<BlockOption> block1() const;
  std::optional<BlockOption> block2() const;
  std::string uri_path() const;  // "a/b/c"

  std::string_view payload_text() const {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }

 private:
  struct Entry {
    std::uint16_t number;
    std::uint32_t offset;  // into option_bytes_
    std::uint32_t length;
  };
  std::vector<Entry> entries_;  // ascending number, stable for equal numbers
  std::vector<std::uint8_t> option_bytes_;
};

// Writes the message into `out` (replacing its contents, keeping its capacity). Throws
// std::invalid_argument for what the wire cannot carry: an Empty message (code 0.00) with a
// token, options or payload, or an option value longer than 65804 bytes.
void encode(const Message& message, std::vector<std::uint8_t>& out);
std::vector<std::uint8_t> encode(const Message& message);

// The 4 bytes of an Empty message (an empty ACK or RST, or a ping).
std::array<std::uint8_t, 4> encode_empty(MessageType type, std::uint16_t message_id);

// Why a datagram is not a CoAP message (RFC 7252 §3, §4.1). Decoding checks every length against
// the input before reading, so garbage is rejected, never read beyond.
enum class DecodeStatus : std::uint8_t {
  ok,
  too_short,               // under the 4-byte header
  bad_version,             // not version 1
  bad_token_length,        // TKL 9..15, or fewer bytes than TKL
  empty_not_empty,         // code 0.00 with anything after the message id
  reserved_option_nibble,  // option delta or length nibble 15 outside the payload marker
  truncated_option,        // option header or value runs past the end
  option_number_overflow,  // option number beyond 65535
  empty_payload,           // payload marker followed by nothing
};
std::string_view to_string(DecodeStatus status);

// Decodes into `message`, reusing its buffers; on failure `message` holds unspecified content.
DecodeStatus decode_into(std::span<const std::uint8_t> datagram, Message& message);
std::optional<Message> decode(std::span<const std::uint8_t> datagram);

}  // namespace iot::coapwire
