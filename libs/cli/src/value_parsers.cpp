#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "cli/flag_set.hpp"

namespace iot::cli {
namespace {

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

// Accepts a scope id ("fe80::1%eth0") because link-local listeners need one.
bool is_ipv6_literal(std::string_view host) {
  const auto percent = host.find('%');
  const std::string address(host.substr(0, percent));
  if (percent != std::string_view::npos && !is_host_name(host.substr(percent + 1))) return false;
  in6_addr parsed{};
  return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
}

}  // namespace

std::uint64_t parse_unsigned(std::string_view text, std::uint64_t min, std::uint64_t max) {
  const auto fail = [&] {
    return UsageError("expected an integer in " + std::to_string(min) + ".." + std::to_string(max) +
                      ", got " + quoted(text));
  };
  if (!is_digits(text)) throw fail();
  std::uint64_t value = 0;
  for (char c : text) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) throw fail();
    value = value * 10 + digit;
  }
  if (value < min || value > max) throw fail();
  return value;
}

bool parse_bool(std::string_view text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw UsageError("expected true, false, 1 or 0, got " + quoted(text));
}

std::string HostPort::to_string() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

HostPort parse_host_port(std::string_view text) {
  const auto fail = [&](std::string_view hint = {}) {
    std::string message = "expected HOST:PORT, got " + quoted(text);
    if (!hint.empty()) message += " (" + std::string(hint) + ")";
    return UsageError(message);
  };

  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw fail("write IPv6 addresses as [::1]:5683");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!is_ipv6_literal(host)) throw fail("not an IPv6 address inside the brackets");
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw fail();
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      throw fail("write IPv6 addresses as [::1]:5683");
    }
    if (!is_host_name(host)) throw fail();
  }

  if (!is_digits(port) || port.size() > 5) throw fail("PORT must be in 0..65535");
  const auto number = std::stoul(std::string(port));
  if (number > 65535) throw fail("PORT must be in 0..65535");
  return HostPort{std::string(host), static_cast<unsigned short>(number)};
}

}  // namespace iot::cli
