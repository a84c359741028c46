#pragma once

#include "cli/flag_set.hpp"

namespace iot::client {

// Each command parses its own flags (the globals included) from argv, where argv[0] is the
// command's name ("iotc send"), and returns the process exit status (global_options.hpp).
// Usage errors are thrown as cli::UsageError; main prints them and exits 2.
int run_health(int argc, const char* const* argv, const cli::Environment& env);
int run_send(int argc, const char* const* argv, const cli::Environment& env);
int run_incremental(int argc, const char* const* argv, const cli::Environment& env);
int run_simulate(int argc, const char* const* argv, const cli::Environment& env);
int run_load(int argc, const char* const* argv, const cli::Environment& env);
int run_verify(int argc, const char* const* argv, const cli::Environment& env);
int run_probe(int argc, const char* const* argv, const cli::Environment& env);

}  // namespace iot::client
