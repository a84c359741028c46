#pragma once

#include <cstdint>
#include <string>

#include "cli/flag_set.hpp"

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
};

inline constexpr const char* kEnvPrefix = "IOTC_";

// Adds --host, --port, --namespace, --sender, --origin and --silent (-s) to a command's flags.
void add_global_flags(cli::FlagSet& flags, GlobalOptions& options);

// The exit statuses of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the test failed: bad answer, errors over threshold, ...
inline constexpr int kExitUsage = 2;

}  // namespace iot::client
