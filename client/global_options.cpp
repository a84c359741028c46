#include "global_options.hpp"

#include "dtls/psk_keys.hpp"

namespace iot::client {
namespace {

// The collector refuses identifiers outside [A-Za-z0-9._:-]{1,128}; saying so before sending
// anything turns a 4.00 from the server into a usage error at once.
std::string identifier(std::string_view text) {
  const bool valid = !text.empty() && text.size() <= 128 &&
                     text.find_first_not_of(
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789._:-") == std::string_view::npos;
  if (!valid) {
    throw cli::UsageError("expected 1-128 characters of [A-Za-z0-9._:-], got '" +
                          std::string(text) + "'");
  }
  return std::string(text);
}

}  // namespace

void add_global_flags(cli::FlagSet& flags, GlobalOptions& options) {
  flags.add("host", "HOST", "Collector host name or IP address.", options.host,
            [&](std::string_view v) {
              if (v.empty()) throw cli::UsageError("expected a host name or address");
              options.host = std::string(v);
            });
  flags.add("port", "PORT", "Collector CoAP port (1..65535); 5684 (coaps) with a PSK.",
            std::to_string(options.port), [&](std::string_view v) {
              options.port = static_cast<std::uint16_t>(cli::parse_unsigned(v, 1, 65535));
              options.port_given = true;
            });
  flags.add("namespace", "NAME", "Event namespace.", options.namespace_,
            [&](std::string_view v) { options.namespace_ = identifier(v); });
  flags.add("sender", "ID", "Sender id (simulated devices append -<n>).", options.sender,
            [&](std::string_view v) {
              options.sender = identifier(v);
              options.sender_given = true;
            });
  flags.add("origin", "ID", "Origin of the events (the sensor on the device).", options.origin,
            [&](std::string_view v) { options.origin = identifier(v); });
  flags.add_bool("silent", "Print nothing but errors.", &options.silent);
  flags.add_short('s', "silent");
  flags.add("psk-identity", "ID",
            "DTLS (coaps): the PSK identity of every device; needs --psk-key. Over DTLS the "
            "collector takes the identity as the events' sender.",
            "", [&](std::string_view v) { options.psk_identity = std::string(v); });
  flags.add("psk-key", "KEY",
            "DTLS: the pre-shared key, hex (32..128 digits) or base64:KEY; a secret, better given "
            "as IOTC_PSK_KEY than on the command line.",
            "", [&](std::string_view v) {
              std::string problem;
              auto key = dtls::decode_key(v, problem);
              // decode_key's problem never quotes the key.
              if (!key) throw cli::UsageError(problem);
              options.psk_key = std::move(*key);
            });
  flags.add("psk-file", "FILE",
            "DTLS: a keys file (IDENTITY KEY per line, the collector's format); device i uses "
            "line i mod N.",
            "", [&](std::string_view v) {
              if (v.empty()) throw cli::UsageError("expected a file name");
              options.psk_file = std::string(v);
            });
  flags.add("handshake-timeout", "SECONDS",
            "DTLS: a handshake not done by then fails (a wrong key is never answered) (1..600).",
            "10", [&](std::string_view v) {
              options.handshake_timeout = std::chrono::seconds(cli::parse_unsigned(v, 1, 600));
            });
}

void finish_global_flags(GlobalOptions& options) {
  const bool identity = !options.psk_identity.empty();
  const bool key = options.psk_key.has_value();
  const bool file = !options.psk_file.empty();
  if (file && (identity || key)) {
    throw cli::UsageError(
        "--psk-file conflicts with --psk-identity/--psk-key: give one or the other");
  }
  if (identity != key) {
    throw cli::UsageError(identity ? "--psk-identity needs --psk-key (or IOTC_PSK_KEY)"
                                   : "--psk-key needs --psk-identity");
  }
  options.psk.clear();
  if (identity) {
    if (!dtls::is_valid_identity(options.psk_identity)) {
      throw cli::UsageError("--psk-identity: expected 1-128 characters of [A-Za-z0-9._:-], got '" +
                            options.psk_identity + "'");
    }
    options.psk.push_back({options.psk_identity, *options.psk_key});
  } else if (file) {
    dtls::PskKeys keys;
    try {
      keys = dtls::PskKeys::load(options.psk_file);
    } catch (const dtls::PskFileError& e) {
      throw cli::UsageError(std::string("--psk-file: ") + e.what());  // never quotes a key
    }
    if (keys.size() == 0) {
      throw cli::UsageError("--psk-file: " + options.psk_file + " holds no identity");
    }
    for (const auto& entry : keys.entries()) options.psk.push_back({entry.identity, entry.key});
  }
  if (options.dtls()) {
    if (!options.port_given) options.port = kCoapsPort;
    if (!options.sender_given) options.sender = options.psk.front().identity;
  }
}

std::string GlobalOptions::device_sender(std::size_t device) const {
  if (dtls()) return credentials_of(device).identity;
  return sender + "-" + std::to_string(device);
}

std::vector<dtls::ClientCredentials> GlobalOptions::engine_credentials(std::size_t first,
                                                                       std::size_t count) const {
  if (psk.size() <= 1) return psk;  // plain, or one shared identity
  std::vector<dtls::ClientCredentials> out;
  out.reserve(count);
  for (std::size_t d = 0; d < count; ++d) out.push_back(credentials_of(first + d));
  return out;
}

}  // namespace iot::client
