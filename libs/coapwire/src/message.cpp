#include "coapwire/message.hpp"

#include <stdexcept>

namespace iot::coapwire {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kPayloadMarker = 0xff;
// Largest option delta or length the extended forms can carry: 14 → 269 + 16 bits.
constexpr std::size_t kMaxOptionField = 269 + 0xffff;

std::uint8_t type_bits(MessageType type) {
  return static_cast<std::uint8_t>(type);
}

// The nibble and the extension bytes for an option delta or length (RFC 7252 §3.1).
struct ExtendedField {
  std::uint8_t nibble;
  std::uint8_t extra_length;
  std::uint16_t extra;
};

ExtendedField extended_field(std::size_t value) {
  if (value < 13) return {static_cast<std::uint8_t>(value), 0, 0};
  if (value < 269) return {13, 1, static_cast<std::uint16_t>(value - 13)};
  return {14, 2, static_cast<std::uint16_t>(value - 269)};
}

void append_extension(const ExtendedField& field, std::vector<std::uint8_t>& out) {
  if (field.extra_length == 2) out.push_back(static_cast<std::uint8_t>(field.extra >> 8));
  if (field.extra_length >= 1) out.push_back(static_cast<std::uint8_t>(field.extra & 0xff));
}

// Reads the extension of a delta or length nibble; false when it runs past the end or the nibble
// is the reserved 15.
bool read_extension(std::uint8_t nibble, std::span<const std::uint8_t> in, std::size_t& pos,
                    std::size_t& value, DecodeStatus& error) {
  if (nibble < 13) {
    value = nibble;
    return true;
  }
  if (nibble == 15) {
    error = DecodeStatus::reserved_option_nibble;
    return false;
  }
  const std::size_t extra = nibble == 13 ? 1 : 2;
  if (in.size() - pos < extra) {
    error = DecodeStatus::truncated_option;
    return false;
  }
  if (nibble == 13) {
    value = 13 + std::size_t{in[pos]};
  } else {
    value = 269 + ((std::size_t{in[pos]} << 8) | in[pos + 1]);
  }
  pos += extra;
  return true;
}

}  // namespace

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::confirmable:
      return "CON";
    case MessageType::non_confirmable:
      return "NON";
    case MessageType::acknowledgement:
      return "ACK";
    case MessageType::reset:
      return "RST";
  }
  return "?";
}

std::string Code::to_string() const {
  std::string text(4, '0');
  text[0] = static_cast<char>('0' + (cls & 0x7));
  text[1] = '.';
  text[2] = static_cast<char>('0' + (detail & 0x1f) / 10);
  text[3] = static_cast<char>('0' + (detail & 0x1f) % 10);
  return text;
}

std::optional<Token> Token::from(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kMaxTokenBytes) return std::nullopt;
  Token token;
  std::copy(bytes.begin(), bytes.end(), token.bytes.begin());
  token.length = static_cast<std::uint8_t>(bytes.size());
  return token;
}

std::optional<BlockOption> BlockOption::decode(std::uint32_t value) {
  const auto size_exponent = static_cast<std::uint8_t>(value & 0x7);
  if (size_exponent == 7 || value >= (1u << 24)) return std::nullopt;
  return BlockOption{value >> 4, (value & 0x8) != 0, size_exponent};
}

void Message::clear() {
  type = MessageType::confirmable;
  code = Code{};
  message_id = 0;
  token = Token{};
  payload.clear();
  entries_.clear();
  option_bytes_.clear();
}

void Message::add_option(std::uint16_t number, std::span<const std::uint8_t> value) {
  const Entry entry{number, static_cast<std::uint32_t>(option_bytes_.size()),
                    static_cast<std::uint32_t>(value.size())};
  option_bytes_.insert(option_bytes_.end(), value.begin(), value.end());
  // Options mostly arrive in order (decoding always does): append without searching.
  if (entries_.empty() || entries_.back().number <= number) {
    entries_.push_back(entry);
    return;
  }
  const auto position = std::upper_bound(
      entries_.begin(), entries_.end(), number,
      [](std::uint16_t wanted, const Entry& existing) { return wanted < existing.number; });
  entries_.insert(position, entry);
}

void Message::add_uint_option(std::uint16_t number, std::uint32_t value) {
  std::array<std::uint8_t, 4> bytes{};
  std::size_t length = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const auto byte = static_cast<std::uint8_t>(value >> shift);
    if (length == 0 && byte == 0) continue;
    bytes[length++] = byte;
  }
  add_option(number, std::span<const std::uint8_t>(bytes.data(), length));
}

namespace {
template <typename Add>
void for_each_segment(std::string_view text, char separator, Add add) {
  while (!text.empty()) {
    const auto end = text.find(separator);
    const auto segment = text.substr(0, end);
    if (!segment.empty()) add(segment);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}
}  // namespace

void Message::add_uri_path(std::string_view path) {
  for_each_segment(path, '/',
                   [this](std::string_view segment) { add_option(options::kUriPath, segment); });
}

void Message::add_uri_query(std::string_view query) {
  for_each_segment(query, '&',
                   [this](std::string_view argument) { add_option(options::kUriQuery, argument); });
}

Option Message::option(std::size_t index) const {
  const Entry& entry = entries_.at(index);
  return Option{entry.number,
                std::span<const std::uint8_t>(option_bytes_.data() + entry.offset, entry.length)};
}

std::optional<Option> Message::find_option(std::uint16_t number) const {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].number == number) return option(i);
    if (entries_[i].number > number) break;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> Message::uint_option(std::uint16_t number) const {
  const auto found = find_option(number);
  if (!found || found->value.size() > 4) return std::nullopt;
  std::uint32_t value = 0;
  for (const std::uint8_t byte : found->value) value = (value << 8) | byte;
  return value;
}

std::optional<BlockOption> Message::block1() const {
  const auto value = uint_option(options::kBlock1);
  return value ? BlockOption::decode(*value) : std::nullopt;
}

std::optional<BlockOption> Message::block2() const {
  const auto value = uint_option(options::kBlock2);
  return value ? BlockOption::decode(*value) : std::nullopt;
}

std::string Message::uri_path() const {
  std::string path;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].number != options::kUriPath) continue;
    if (!path.empty()) path += '/';
    const Option segment = option(i);
    path.append(reinterpret_cast<const char*>(segment.value.data()), segment.value.size());
  }
  return path;
}

void encode(const Message& message, std::vector<std::uint8_t>& out) {
  const bool empty_code = message.code.is_empty();
  if (empty_code &&
      (message.token.length != 0 || message.option_count() != 0 || !message.payload.empty())) {
    throw std::invalid_argument("coapwire: an Empty message (0.00) carries nothing after its id");
  }
  if (message.token.length > kMaxTokenBytes) {
    throw std::invalid_argument("coapwire: token longer than 8 bytes");
  }
  out.clear();
  out.push_back(static_cast<std::uint8_t>((kVersion << 6) | (type_bits(message.type) << 4) |
                                          message.token.length));
  out.push_back(message.code.raw());
  out.push_back(static_cast<std::uint8_t>(message.message_id >> 8));
  out.push_back(static_cast<std::uint8_t>(message.message_id & 0xff));
  const auto token = message.token.view();
  out.insert(out.end(), token.begin(), token.end());

  std::uint16_t previous = 0;
  for (std::size_t i = 0; i < message.option_count(); ++i) {
    const Option option = message.option(i);
    if (option.value.size() > kMaxOptionField) {
      throw std::invalid_argument("coapwire: option value longer than 65804 bytes");
    }
    const auto delta = extended_field(option.number - previous);
    const auto length = extended_field(option.value.size());
    out.push_back(static_cast<std::uint8_t>((delta.nibble << 4) | length.nibble));
    append_extension(delta, out);
    append_extension(length, out);
    out.insert(out.end(), option.value.begin(), option.value.end());
    previous = option.number;
  }
  if (!message.payload.empty()) {
    out.push_back(kPayloadMarker);
    out.insert(out.end(), message.payload.begin(), message.payload.end());
  }
}

std::vector<std::uint8_t> encode(const Message& message) {
  std::vector<std::uint8_t> out;
  encode(message, out);
  return out;
}

std::array<std::uint8_t, 4> encode_empty(MessageType type, std::uint16_t message_id) {
  return {static_cast<std::uint8_t>((kVersion << 6) | (type_bits(type) << 4)), 0,
          static_cast<std::uint8_t>(message_id >> 8), static_cast<std::uint8_t>(message_id & 0xff)};
}

std::string_view to_string(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::ok:
      return "ok";
    case DecodeStatus::too_short:
      return "shorter than the 4-byte header";
    case DecodeStatus::bad_version:
      return "not CoAP version 1";
    case DecodeStatus::bad_token_length:
      return "bad token length";
    case DecodeStatus::empty_not_empty:
      return "Empty message with bytes after the message id";
    case DecodeStatus::reserved_option_nibble:
      return "reserved option nibble 15";
    case DecodeStatus::truncated_option:
      return "truncated option";
    case DecodeStatus::option_number_overflow:
      return "option number beyond 65535";
    case DecodeStatus::empty_payload:
      return "payload marker without payload";
  }
  return "?";
}

DecodeStatus decode_into(std::span<const std::uint8_t> in, Message& message) {
  message.clear();
  if (in.size() < 4) return DecodeStatus::too_short;
  if ((in[0] >> 6) != kVersion) return DecodeStatus::bad_version;
  const std::size_t token_length = in[0] & 0x0f;
  if (token_length > kMaxTokenBytes) return DecodeStatus::bad_token_length;
  message.type = static_cast<MessageType>((in[0] >> 4) & 0x3);
  message.code = Code::from_raw(in[1]);
  message.message_id = static_cast<std::uint16_t>((in[2] << 8) | in[3]);
  if (message.code.is_empty()) {
    // RFC 7252 §4.1: anything after the message id of an Empty message is a format error.
    return in.size() == 4 && token_length == 0 ? DecodeStatus::ok : DecodeStatus::empty_not_empty;
  }
  std::size_t pos = 4;
  if (in.size() - pos < token_length) return DecodeStatus::bad_token_length;
  message.token = *Token::from(in.subspan(pos, token_length));
  pos += token_length;

  std::size_t number = 0;
  while (pos < in.size()) {
    const std::uint8_t header = in[pos++];
    if (header == kPayloadMarker) {
      if (pos == in.size()) return DecodeStatus::empty_payload;
      message.payload.assign(in.begin() + static_cast<std::ptrdiff_t>(pos), in.end());
      return DecodeStatus::ok;
    }
    DecodeStatus error = DecodeStatus::ok;
    std::size_t delta = 0;
    std::size_t length = 0;
    if (!read_extension(header >> 4, in, pos, delta, error)) return error;
    if (!read_extension(header & 0x0f, in, pos, length, error)) return error;
    number += delta;
    if (number > 0xffff) return DecodeStatus::option_number_overflow;
    if (in.size() - pos < length) return DecodeStatus::truncated_option;
    message.add_option(static_cast<std::uint16_t>(number), in.subspan(pos, length));
    pos += length;
  }
  return DecodeStatus::ok;
}

std::optional<Message> decode(std::span<const std::uint8_t> datagram) {
  Message message;
  if (decode_into(datagram, message) != DecodeStatus::ok) return std::nullopt;
  return message;
}

}  // namespace iot::coapwire
