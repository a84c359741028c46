#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/flag_set.hpp"
#include "dtls/client_channel.hpp"

namespace iot::client {

// Options every iotc command takes (the original client's globals). Each is also read from
// IOTC_<NAME> (IOTC_HOST, IOTC_PORT, ...).
struct GlobalOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5683;
  std::string namespace_ = "default";
  std::string sender = "iotc";
  std::string origin = "iotc";
  bool silent = false;  // print nothing but errors; the exit status tells the outcome

  // DTLS (coaps) with pre-shared keys: empty for plain CoAP; else one identity and key every
  // device uses (--psk-identity + --psk-key), or a keys file (--psk-file; device i uses entry
  // i mod N). The keys are secrets: never printed. Set by finish_global_flags().
  std::vector<dtls::ClientCredentials> psk;
  std::chrono::milliseconds handshake_timeout{10'000};

  // What the flags said, before finish_global_flags() resolves them.
  bool port_given = false;
  bool sender_given = false;
  std::string psk_identity;
  std::optional<std::vector<std::uint8_t>> psk_key;
  std::string psk_file;

  bool dtls() const { return !psk.empty(); }
  // Device `device`'s credentials (psk[device mod N]); requires dtls().
  const dtls::ClientCredentials& credentials_of(std::size_t device) const {
    return psk[device % psk.size()];
  }
  // The sender id of simulated device `device`: over DTLS its PSK identity (the collector takes
  // the identity as the sender), else <sender>-<device>.
  std::string device_sender(std::size_t device) const;
  // For a ClientEngine of `count` devices, the first being fleet device `first`.
  std::vector<dtls::ClientCredentials> engine_credentials(std::size_t first,
                                                          std::size_t count) const;
};

inline constexpr const char* kEnvPrefix = "IOTC_";

// Adds --host, --port, --namespace, --sender, --origin, --silent (-s), --psk-identity,
// --psk-key, --psk-file and --handshake-timeout to a command's flags.
void add_global_flags(cli::FlagSet& flags, GlobalOptions& options);

// After parsing: checks the DTLS flags' combination (UsageError), reads the keys file, makes
// 5684 (coaps) the default port when a PSK is given, and the sender the PSK identity when
// --sender was not given.
void finish_global_flags(GlobalOptions& options);

inline constexpr std::uint16_t kCoapPort = 5683;
inline constexpr std::uint16_t kCoapsPort = 5684;

// The exit statuses of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the test failed: bad answer, errors over threshold, ...
inline constexpr int kExitUsage = 2;

}  // namespace iot::client
