#include "dtls/psk_keys.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace iot::dtls {
namespace {

constexpr std::string_view kBase64Prefix = "base64:";
constexpr std::string_view kBlanks = " \t\r";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::vector<std::uint8_t>> decode_hex(std::string_view text, std::string& problem) {
  if (text.size() % 2 != 0) {
    problem = "odd number of hex digits";
    return std::nullopt;
  }
  std::vector<std::uint8_t> bytes;
  bytes.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = hex_value(text[i]);
    const int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) {
      problem = "not hex (write base64 keys as base64:KEY)";
      return std::nullopt;
    }
    bytes.push_back(static_cast<std::uint8_t>((high << 4) | low));
  }
  return bytes;
}

// Standard alphabet, '=' padding optional (but nothing after it).
std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text,
                                                       std::string& problem) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::vector<std::uint8_t> bytes;
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = base64_value(c);
    if (value < 0) {
      problem = "not base64";
      return std::nullopt;
    }
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<std::uint8_t>(accumulator >> bits));
    }
  }
  if (bits >= 6) {  // a lone final character carries no whole byte
    problem = "not base64 (truncated)";
    return std::nullopt;
  }
  return bytes;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kBlanks);
  return text.substr(first, last - first + 1);
}

}  // namespace

bool is_valid_identity(std::string_view identity) {
  if (identity.empty() || identity.size() > kMaxIdentityBytes) return false;
  return std::all_of(identity.begin(), identity.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

std::optional<std::vector<std::uint8_t>> decode_key(std::string_view text, std::string& problem) {
  auto key = text.starts_with(kBase64Prefix)
                 ? decode_base64(text.substr(kBase64Prefix.size()), problem)
                 : decode_hex(text, problem);
  if (!key) return std::nullopt;
  if (key->size() < kMinKeyBytes || key->size() > kMaxKeyBytes) {
    problem = std::to_string(key->size()) + " bytes; " + std::to_string(kMinKeyBytes) + ".." +
              std::to_string(kMaxKeyBytes) + " required";
    return std::nullopt;
  }
  return key;
}

PskKeys PskKeys::parse(std::string_view text, std::string_view source) {
  PskKeys keys;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;

    const auto fail = [&](const std::string& problem) {
      return PskFileError(std::string(source) + ":" + std::to_string(line_number) + ": " + problem);
    };
    const auto gap = line.find_first_of(kBlanks);
    if (gap == std::string_view::npos) throw fail("expected IDENTITY KEY");
    const std::string_view identity = line.substr(0, gap);
    const std::string_view key_text = trim(line.substr(gap));
    if (key_text.find_first_of(kBlanks) != std::string_view::npos) {
      throw fail("expected IDENTITY KEY, found more fields");
    }
    if (!is_valid_identity(identity)) {
      // The identity is not secret; cut it so a pasted key in its place is not echoed whole.
      throw fail("identity '" + std::string(identity.substr(0, 32)) +
                 "': 1-128 chars of [A-Za-z0-9._:-] required");
    }
    std::string problem;
    auto key = decode_key(key_text, problem);
    if (!key) throw fail("key of '" + std::string(identity) + "': " + problem);
    if (keys.index_.contains(std::string(identity))) {
      throw fail("identity '" + std::string(identity) + "' given twice");
    }
    keys.index_.emplace(std::string(identity), keys.entries_.size());
    keys.entries_.push_back(PskEntry{std::string(identity), std::move(*key)});
  }
  return keys;
}

PskKeys PskKeys::load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw PskFileError(path + ": cannot read");
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) throw PskFileError(path + ": cannot read");
  return parse(text.str(), path);
}

std::optional<std::span<const std::uint8_t>> PskKeys::find(std::string_view identity) const {
  const auto found = index_.find(std::string(identity));
  if (found == index_.end()) return std::nullopt;
  return std::span<const std::uint8_t>(entries_[found->second].key);
}

}  // namespace iot::dtls
