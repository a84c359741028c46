#include "elastic/url.hpp"

#include <charconv>
#include <stdexcept>

namespace iot::elastic {
namespace {

constexpr std::string_view kSeparator = "://";
constexpr std::size_t kMaxEchoed = 100;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Underscores are not valid in DNS names but docker-compose service names use them.
bool is_host_name(std::string_view host) {
  if (host.empty()) return false;
  for (const char c : host) {
    if (!is_alnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

// Loose check: the resolver decides whether it is a real address; this only keeps out text that
// cannot be one, so the mistake is reported here rather than as a connection failure.
bool is_ipv6(std::string_view host) {
  if (host.find(':') == std::string_view::npos) return false;
  for (const char c : host) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  return true;
}

// RFC 3986 pchar and '/', without '@' (refused earlier) and without '?' and '#' (refused too).
bool is_path(std::string_view path) {
  for (const char c : path) {
    if (is_alnum(c)) continue;
    if (std::string_view("-._~!$&'()*+,;=:%/").find(c) == std::string_view::npos) return false;
  }
  return true;
}

[[noreturn]] void fail(std::string_view reason) {
  throw std::invalid_argument(std::string(reason));
}

unsigned short parse_port(std::string_view text) {
  unsigned long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 1 ||
      value > 65535) {
    fail("port must be a number from 1 to 65535");
  }
  return static_cast<unsigned short>(value);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// An entry is echoed only when it cannot hold credentials; otherwise it is named by position.
std::string describe_entry(std::size_t index, std::string_view entry) {
  std::string out = "entry " + std::to_string(index + 1);
  if (entry.find('@') != std::string_view::npos) return out;
  out += " '";
  const bool shortened = entry.size() > kMaxEchoed;
  if (shortened) entry = entry.substr(0, kMaxEchoed - 3);
  for (const char c : entry) out += c >= 0x20 && c < 0x7f ? c : '?';
  if (shortened) out += "...";
  out += '\'';
  return out;
}

}  // namespace

std::string NodeUrl::to_string() const {
  std::string out = tls ? "https://" : "http://";
  const bool brackets = host.find(':') != std::string::npos;
  if (brackets) out += '[';
  out += host;
  if (brackets) out += ']';
  out += ':';
  out += std::to_string(port);
  out += path_prefix;
  return out;
}

NodeUrl parse_node_url(std::string_view text) {
  // Checked before anything else so that no later message can quote part of a password, even
  // one containing '/', '?' or '#' that would otherwise end the authority early.
  if (text.find('@') != std::string_view::npos) {
    fail(
        "credentials are not allowed in the URL: put them in "
        "--elasticsearch-username/--elasticsearch-password or the API key");
  }
  const std::size_t separator = text.find(kSeparator);
  if (separator == std::string_view::npos) fail("expected http[s]://host[:port][/prefix]");
  NodeUrl url;
  const std::string_view scheme = text.substr(0, separator);
  if (iequals(scheme, "https")) {
    url.tls = true;
  } else if (!iequals(scheme, "http")) {
    fail("scheme must be http or https");
  }
  std::string_view rest = text.substr(separator + kSeparator.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    fail("a query or fragment is not allowed; only http[s]://host[:port][/prefix]");
  }

  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);

  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) fail("missing ']' after an IPv6 address");
    const std::string_view host = authority.substr(1, close - 1);
    if (!is_ipv6(host)) fail("not an IPv6 address between '[' and ']'");
    url.host = host;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail("expected ':port' or '/' after ']'");
      port = after.substr(1);
      if (port.empty()) fail("port must be a number from 1 to 65535");
    }
  } else {
    const std::size_t colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.find(':') != std::string_view::npos) fail("IPv6 addresses must be in brackets");
      if (port.empty()) fail("port must be a number from 1 to 65535");
    }
    if (host.empty()) fail("missing host");
    if (!is_host_name(host)) fail("host must be a name, an IPv4 address or a [IPv6] address");
    url.host = host;
  }
  if (!port.empty()) url.port = parse_port(port);

  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (!is_path(path)) fail("path prefix has characters that need percent-encoding");
  url.path_prefix = path;
  return url;
}

std::vector<NodeUrl> parse_node_urls(std::string_view text) {
  std::vector<NodeUrl> urls;
  std::size_t index = 0;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    if (entry.empty()) {
      throw std::invalid_argument(urls.empty() && comma == std::string_view::npos
                                      ? std::string("at least one URL is required")
                                      : "entry " + std::to_string(index + 1) + " is empty");
    }
    try {
      urls.push_back(parse_node_url(entry));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(describe_entry(index, entry) + ": " + error.what());
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    ++index;
  }
  return urls;
}

}  // namespace iot::elastic
