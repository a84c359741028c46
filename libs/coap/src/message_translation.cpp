#include "message_translation.hpp"

#include <algorithm>

namespace iot::coap::detail {
namespace {

Method method_of(coapwire::Code code) {
  switch (code.detail) {
    case 1:
      return Method::get;
    case 2:
      return Method::post;
    case 3:
      return Method::put;
    case 4:
      return Method::del;
    case 5:
      return Method::fetch;
    case 6:
      return Method::patch;
    case 7:
      return Method::ipatch;
    default:
      return Method::other;
  }
}

// Critical options (odd numbers, RFC 7252 §5.4.1) this server understands or may safely ignore;
// any other critical option in a request is answered 4.02 Bad Option.
bool is_known_critical(std::uint16_t number) {
  namespace o = coapwire::options;
  switch (number) {
    case o::kIfMatch:
    case o::kUriHost:
    case o::kIfNoneMatch:
    case o::kUriPort:
    case o::kUriPath:
    case o::kUriQuery:
    case o::kAccept:
    case o::kBlock2:
    case o::kBlock1:
      return true;
    default:
      return false;
  }
}

constexpr std::uint16_t kProxyUri = 35;
constexpr std::uint16_t kProxyScheme = 39;

Response discovery(std::span<const std::string> paths) {
  std::string links;
  for (const auto& path : paths) {
    if (!links.empty()) links += ',';
    links += "</" + path + ">";
  }
  return Response(Code::content, std::move(links), coapwire::kContentFormatLinkFormat);
}

}  // namespace

std::optional<Response> read_request(const coapwire::Message& incoming,
                                     std::span<const std::string> paths, std::string& path_scratch,
                                     Request& request) {
  path_scratch.clear();
  bool first_segment = true;
  for (std::size_t i = 0; i < incoming.option_count(); ++i) {
    const coapwire::Option option = incoming.option(i);
    if (option.number == kProxyUri || option.number == kProxyScheme) {
      return Response::text(Code::proxying_not_supported, "not a proxy");
    }
    if ((option.number & 1) != 0 && !is_known_critical(option.number)) {
      return Response::text(Code::bad_option,
                            "unsupported critical option " + std::to_string(option.number));
    }
    if (option.number == coapwire::options::kUriPath) {
      if (!first_segment) path_scratch.push_back('/');
      path_scratch.append(reinterpret_cast<const char*>(option.value.data()), option.value.size());
      first_segment = false;
    }
  }
  request.method = method_of(incoming.code);
  if (path_scratch == ".well-known/core" && request.method == Method::get) {
    return discovery(paths);
  }
  for (const auto& path : paths) {
    if (path == path_scratch) request.path = path;
  }
  request.confirmable = incoming.type == coapwire::MessageType::confirmable;
  request.message_id = incoming.message_id;
  if (auto format = incoming.content_format()) request.content_format = *format;
  if (const auto block = incoming.find_option(coapwire::options::kBlock1)) {
    const auto value = incoming.uint_option(coapwire::options::kBlock1);
    if (value) request.block1 = BlockOption::decode(*value);
    if (!request.block1) {
      return Response::text(Code::bad_request,
                            value ? "Block1: BERT is not supported over UDP" : "Block1: bad value");
    }
  }
  if (const auto size1 = incoming.find_option(coapwire::options::kSize1)) {
    // Up to 8 bytes: an honest uint, or a hostile one that must still read as huge.
    std::uint64_t value = 0;
    for (const auto byte : size1->value.first(std::min<std::size_t>(size1->value.size(), 8))) {
      value = (value << 8) | byte;
    }
    request.size1 = value;
  }
  request.payload = incoming.payload;
  return std::nullopt;
}

// The wire form of an answer: header, token, options in ascending order, payload.
void encode_response(coapwire::MessageType type, std::uint16_t message_id,
                     const coapwire::Token& token, const Response& response,
                     coapwire::Message& scratch, std::vector<std::uint8_t>& out) {
  scratch.clear();
  scratch.type = type;
  scratch.code = coapwire::Code::from_raw(static_cast<std::uint8_t>(response.code));
  scratch.message_id = message_id;
  scratch.token = token;
  if (response.content_format) scratch.set_content_format(*response.content_format);
  if (response.max_age) scratch.add_uint_option(coapwire::options::kMaxAge, *response.max_age);
  if (response.block1)
    scratch.add_uint_option(coapwire::options::kBlock1, response.block1->encode());
  if (response.size1) scratch.set_size1(*response.size1);
  scratch.payload.assign(response.payload.begin(), response.payload.end());
  coapwire::encode(scratch, out);
}

}  // namespace iot::coap::detail
