#include "elastic/connection_flags.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace iot::elastic {
namespace {

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

std::vector<NodeUrl> parse_elasticsearch_urls(std::string_view text) {
  try {
    return parse_node_urls(text);
  } catch (const std::invalid_argument& e) {
    // parse_node_urls never echoes an entry that could hold credentials (user:password@).
    throw cli::UsageError(e.what());
  }
}

// Reads a small file whole (secrets, CA bundles). Messages show the path, never the content.
std::string read_small_file(std::string_view path) {
  constexpr std::size_t kMaxBytes = 1 << 20;
  const std::string name(path);
  const auto cannot_read = [&](int error) {
    return cli::UsageError("cannot read " + quoted(path) + ": " + std::strerror(error));
  };
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(name.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) throw cannot_read(errno);
  std::string content;
  std::array<char, 4096> buffer{};
  while (true) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    content.append(buffer.data(), n);
    if (content.size() > kMaxBytes) {
      throw cli::UsageError(quoted(path) + " is larger than " + std::to_string(kMaxBytes) +
                            " bytes");
    }
    if (n < buffer.size()) {
      // A directory opens but fails here with EISDIR.
      if (std::ferror(file.get())) throw cannot_read(errno != 0 ? errno : EIO);
      return content;
    }
  }
}

void require_readable(std::string_view path) {
  if (read_small_file(path).empty()) throw cli::UsageError(quoted(path) + " is empty");
}

// A secret mounted as a file (Kubernetes Secret): one trailing "\n" or "\r\n" is not part of it.
std::string read_secret_file(std::string_view path) {
  std::string content = read_small_file(path);
  if (content.ends_with("\r\n")) {
    content.resize(content.size() - 2);
  } else if (content.ends_with('\n')) {
    content.pop_back();
  }
  if (content.empty()) throw cli::UsageError(quoted(path) + " is empty");
  return content;
}

// The checks below never show the value: it is a credential.
enum class SecretKind { api_key, username, password };

bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string checked_secret(std::string value, SecretKind kind) {
  if (value.empty()) throw cli::UsageError("must not be empty");
  switch (kind) {
    case SecretKind::api_key:
      // It goes verbatim into the Authorization header.
      if (!std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
        throw cli::UsageError(
            "expected printable ASCII without spaces or line breaks (value not shown)");
      }
      break;
    case SecretKind::username:
      // RFC 7617: the user-id of Basic authentication cannot contain ':'.
      if (value.find(':') != std::string::npos) {
        throw cli::UsageError("must not contain ':' (value not shown)");
      }
      [[fallthrough]];
    case SecretKind::password:
      if (has_control_character(value)) {
        throw cli::UsageError(
            "must not contain control characters or line breaks (value not shown)");
      }
      break;
  }
  return value;
}

// One credential: given directly (--NAME) or as a file (--NAME-file), not both.
struct Secret {
  std::string flag;  // "--elasticsearch-password": how errors name the setting
  std::optional<std::string> value;
  std::optional<std::string> from_file;

  std::optional<std::string> get() const {
    if (value && from_file) {
      throw cli::UsageError(flag + " and " + flag + "-file are the same setting; give one");
    }
    return value ? value : from_file;
  }
};

std::string base64(std::string_view bytes) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]))
                                << 8 |
                            static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The Authorization header value from the credentials given, checking their combination.
std::optional<std::string> authorization_from(const Secret& api_key_secret,
                                              const Secret& username_secret,
                                              const Secret& password_secret) {
  const std::optional<std::string> api_key = api_key_secret.get();
  const std::optional<std::string> username = username_secret.get();
  const std::optional<std::string> password = password_secret.get();
  if (api_key && (username || password)) {
    throw cli::UsageError(
        "--elasticsearch-api-key and --elasticsearch-username/--elasticsearch-password are "
        "different authentications; give one");
  }
  if (api_key) return "ApiKey " + *api_key;
  if (password && !username) {
    throw cli::UsageError("--elasticsearch-password needs --elasticsearch-username");
  }
  if (username && !password) {
    throw cli::UsageError("--elasticsearch-username needs --elasticsearch-password");
  }
  if (!username) return std::nullopt;
  return "Basic " + base64(*username + ":" + *password);
}

}  // namespace

struct ConnectionFlags::State {
  std::optional<std::vector<NodeUrl>> nodes;
  Secret api_key{"--elasticsearch-api-key", {}, {}};
  Secret username{"--elasticsearch-username", {}, {}};
  Secret password{"--elasticsearch-password", {}, {}};
  std::string ca_file;
  bool insecure = false;
};

ConnectionFlags::ConnectionFlags() : state_(std::make_unique<State>()) {}
ConnectionFlags::~ConnectionFlags() = default;

void ConnectionFlags::add_to(cli::FlagSet& flags) {
  State& state = *state_;
  flags.add("elasticsearch-url", "URL[,URL...]",
            "Store events in Elasticsearch at these nodes instead of --sink; each\n"
            "      http[s]://host[:port][/prefix], comma-separated.",
            "", [&](std::string_view v) { state.nodes = parse_elasticsearch_urls(v); });
  // Secrets: no default text, and their parsers never echo the value.
  const auto add_secret = [&](Secret& secret, const std::string& name, std::string value_name,
                              std::string help, SecretKind kind) {
    flags.add(name, std::move(value_name), std::move(help), "",
              [&secret, kind](std::string_view v) {
                secret.value = checked_secret(std::string(v), kind);
              });
    flags.add(name + "-file", "PATH",
              "Read " + secret.flag +
                  " from this file (e.g. a mounted Secret), without one trailing\n"
                  "      line break.",
              "", [&secret, kind](std::string_view v) {
                secret.from_file = checked_secret(read_secret_file(v), kind);
              });
  };
  add_secret(state.api_key, "elasticsearch-api-key", "KEY",
             "Elasticsearch API key (the encoded form), sent as \"Authorization: ApiKey KEY\".",
             SecretKind::api_key);
  add_secret(state.username, "elasticsearch-username", "USER",
             "User for HTTP Basic authentication (with --elasticsearch-password).",
             SecretKind::username);
  add_secret(state.password, "elasticsearch-password", "PASSWORD",
             "Password for HTTP Basic authentication; prefer --elasticsearch-password-file.",
             SecretKind::password);
  flags.add("elasticsearch-ca", "FILE",
            "PEM CA bundle to verify https nodes with, instead of the system trust store.", "",
            [&](std::string_view v) {
              require_readable(v);
              state.ca_file = std::string(v);
            });
  flags.add_bool("elasticsearch-insecure",
                 "Do not verify the certificates and host names of https nodes (development only).",
                 &state.insecure);
}

ConnectionFlags::Connection ConnectionFlags::finish() const {
  return Connection{state_->nodes,
                    authorization_from(state_->api_key, state_->username, state_->password),
                    state_->ca_file, state_->insecure};
}

}  // namespace iot::elastic
