// iotc: the operators' device simulator and load generator. Dispatches to a command; every
// command parses its own flags (globals included, before or after the command name).
#include <cstring>
#include <iostream>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "global_options.hpp"

namespace {

using Command = int (*)(int, const char* const*, const iot::cli::Environment&);

struct CommandEntry {
  std::string_view name;
  Command run;
  std::string_view summary;
};

constexpr CommandEntry kCommands[] = {
    {"health", iot::client::run_health, "GET /health; exit 0 only on 2.05"},
    {"send", iot::client::run_send, "POST one event: iotc send <type> <value>"},
    {"incremental", iot::client::run_incremental,
     "POST a series: iotc incremental <type> <initial> -n N -p SECONDS -f FACTOR"},
    {"simulate", iot::client::run_simulate,
     "a fleet of devices with realistic sensors: --devices N --period S --profile P"},
    {"load", iot::client::run_load,
     "load test: open loop --rate R or closed loop --concurrency C, with a report"},
    {"verify", iot::client::run_verify,
     "count a load run's events in Elasticsearch: missing and duplicated"},
    {"probe", iot::client::run_probe,
     "HTTP GET a URL, exit 0 on 2xx: health checks in the curl-less image"},
};

std::string usage() {
  std::string text =
      "Usage: iotc <command> [flags] [arguments]\n\n"
      "Device simulator and load generator for iot-collector (CoAP over UDP).\n\nCommands:\n";
  for (const auto& command : kCommands) {
    text += "  " + std::string(command.name);
    text += std::string(13 - command.name.size(), ' ') + std::string(command.summary) + "\n";
  }
  text +=
      "\nGlobal flags (every command): --host HOST (127.0.0.1), --port PORT (5683), --namespace, "
      "--sender, --origin, --silent.\n\nDTLS (coaps, RFC 7252 §9 with pre-shared keys): "
      "--psk-identity ID with --psk-key KEY (hex or\nbase64:KEY; better as IOTC_PSK_KEY), or "
      "--psk-file FILE (the collector's IDENTITY KEY lines; device i\nuses line i mod N). With a "
      "PSK the default port is 5684, the events' sender is the identity, and\nhealth, send, "
      "incremental, simulate and load all run over DTLS; a handshake that does not finish\n"
      "within --handshake-timeout (10 s) fails with \"dtls handshake failed: ...\" and exit "
      "status 1.\nKeys are never printed.\n\n`iotc <command> --help` lists a command's flags. "
      "Exit status: 0 success, 1 test failed, 2 usage error.\n";
  return text;
}

}  // namespace

int main(int argc, char** argv, char** envp) {
  using namespace iot;
  std::vector<const char*> args(argv, argv + argc);
  // The command is the first argument that names one; flags may come before it.
  const CommandEntry* command = nullptr;
  std::size_t at = 1;
  for (; at < args.size(); ++at) {
    const std::string_view arg = args[at];
    for (const auto& entry : kCommands) {
      if (arg == entry.name) command = &entry;
    }
    if (command != nullptr) break;
    if (arg == "--version") {
      std::cout << "iotc " << IOT_VERSION << "\n";
      return client::kExitOk;
    }
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::cout << usage();
      return client::kExitOk;
    }
  }
  if (command == nullptr) {
    std::cerr << (argc > 1 ? "iotc: unknown command (see iotc --help)\n" : usage());
    return client::kExitUsage;
  }
  const std::string name = "iotc " + std::string(command->name);
  args.erase(args.begin() + static_cast<std::ptrdiff_t>(at));
  args[0] = name.c_str();
  try {
    return command->run(static_cast<int>(args.size()), args.data(), cli::environment_from(envp));
  } catch (const cli::UsageError& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return client::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return client::kExitFailed;
  }
}
