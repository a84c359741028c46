// iotc simulate: a fleet of devices with realistic sensors, each its own UDP source port and
// sender id, posting its readings every period with the device's own timestamp.
#include <csignal>
#include <iostream>
#include <map>

#include "coapwire/client_engine.hpp"
#include "commands.hpp"
#include "device_session.hpp"
#include "event_json.hpp"
#include "global_options.hpp"
#include "loadgen/rate_schedule.hpp"
#include "simulation/sensor_models.hpp"

namespace iot::client {
namespace {

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void request_stop(int) {
  stop_requested = 1;
}

EventValue to_event_value(const std::variant<double, bool, std::string_view>& value) {
  if (const auto* number = std::get_if<double>(&value)) return *number;
  if (const auto* flag = std::get_if<bool>(&value)) return *flag;
  return std::string(std::get<std::string_view>(value));
}

// A device's readings of one moment: one event, or an array of them.
std::string readings_body(const GlobalOptions& globals, std::string_view sender,
                          const std::vector<simulation::Reading>& readings,
                          std::chrono::system_clock::time_point now) {
  std::string body = readings.size() > 1 ? "[" : "";
  for (std::size_t i = 0; i < readings.size(); ++i) {
    if (i > 0) body += ',';
    body += event_json({globals.namespace_, sender, globals.origin, readings[i].type,
                        to_event_value(readings[i].value), readings[i].unit, now});
  }
  if (readings.size() > 1) body += ']';
  return body;
}

}  // namespace

int run_simulate(int argc, const char* const* argv, const cli::Environment& env) {
  GlobalOptions globals;
  std::size_t devices = 10;
  double period_seconds = 10;
  simulation::Profile profile = simulation::Profile::temperature;
  std::optional<std::chrono::milliseconds> duration;
  std::uint64_t seed = 1;
  cli::FlagSet flags(argv[0],
                     "Simulates a fleet: every device has its own UDP source port, sender id "
                     "(<sender>-<n>) and\nsensor, and posts its readings every period with its "
                     "own timestamp. Runs until --duration\nor SIGINT/SIGTERM; exit 0 if every "
                     "request got 2.xx.",
                     kEnvPrefix);
  add_global_flags(flags, globals);
  flags.add("devices", "N", "Devices (1..50000).", std::to_string(devices),
            [&](std::string_view v) { devices = cli::parse_unsigned(v, 1, 50'000); });
  flags.add(
      "period", "SECONDS", "Time between a device's readings (0.001..86400).", "10",
      [&](std::string_view v) {
        const auto value = parse_event_value(v);
        const auto* number = std::get_if<double>(&value);
        if (number == nullptr || *number < 0.001 || *number > 86400) {
          throw cli::UsageError("expected 0.001..86400 seconds, got '" + std::string(v) + "'");
        }
        period_seconds = *number;
      });
  flags.add(
      "profile", "NAME", "temperature, humidity, door, energy-meter or solar.", "temperature",
      [&](std::string_view v) {
        const auto parsed = simulation::parse_profile(v);
        if (!parsed) {
          throw cli::UsageError("expected temperature|humidity|door|energy-meter|solar, got '" +
                                std::string(v) + "'");
        }
        profile = *parsed;
      });
  flags.add("duration", "SECONDS", "Stop after this long (default: run until stopped).", "",
            [&](std::string_view v) {
              duration = std::chrono::seconds(cli::parse_unsigned(v, 1, 365 * 86400ULL));
            });
  flags.add("seed", "N", "Makes the fleet's behaviour repeatable; devices get seed + n.", "1",
            [&](std::string_view v) { seed = cli::parse_unsigned(v, 0, UINT64_MAX); });
  std::string out;
  if (flags.parse(argc, argv, env, IOT_VERSION, out) != cli::FlagSet::Outcome::run) {
    std::cout << out;
    return kExitOk;
  }

  finish_global_flags(globals);

  coapwire::EngineOptions engine_options;
  engine_options.remote_host = globals.host;
  engine_options.remote_port = globals.port;
  engine_options.devices = devices;
  engine_options.dtls_devices = globals.engine_credentials(0, devices);
  engine_options.dtls_handshake_timeout = globals.handshake_timeout;
  coapwire::ClientEngine engine(engine_options);
  std::vector<std::unique_ptr<simulation::SensorModel>> sensors;
  std::vector<std::string> senders;
  for (std::size_t d = 0; d < devices; ++d) {
    sensors.push_back(simulation::make_sensor(profile, seed + d));
    senders.push_back(globals.device_sender(d));
  }

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto stop = duration ? start + *duration : Clock::time_point::max();
  // Device n % devices reads at start + n * period / devices: the fleet is spread evenly over
  // each period instead of bursting at its start.
  const loadgen::OpenLoopSchedule schedule(static_cast<double>(devices) / period_seconds, start);
  std::uint64_t sent = 0, ok = 0, failed = 0;
  std::map<std::string, std::uint64_t> failures;  // by answer, for the summary
  std::vector<simulation::Reading> readings;
  std::string body;
  auto next_status = start + std::chrono::seconds(10);
  const auto print_status = [&](Clock::time_point now) {
    if (globals.silent) return;
    std::cout << std::chrono::duration_cast<std::chrono::seconds>(now - start).count()
              << "s  devices " << devices << "  sent " << sent << "  ok " << ok << "  failed "
              << failed << "\n"
              << std::flush;
  };
  while (stop_requested == 0) {
    const auto now = Clock::now();
    if (now >= stop) break;
    for (const auto due = schedule.due_by(now); sent < due; ++sent) {
      const std::size_t device = sent % devices;
      const auto wall_now = std::chrono::system_clock::now();
      sensors[device]->read(wall_now, readings);
      body = readings_body(globals, senders[device], readings, wall_now);
      const bool queued =
          engine.send(device, post_events(body), [&](const coapwire::Result& result) {
            if (result.kind == coapwire::Result::Kind::response && result.code.cls == 2) {
              ++ok;
              return;
            }
            ++failed;
            Answer answer;
            answer.kind = result.kind;
            answer.code = result.code;
            answer.error = result.error;
            answer.reason = std::string(result.reason);
            ++failures[answer.describe()];
          });
      if (!queued) {
        // Every message id of the device is in flight: the server is far behind. Not sent.
        ++failed;
        ++failures["not sent (device out of message ids)"];
      }
    }
    if (now >= next_status) {
      print_status(now);
      next_status += std::chrono::seconds(10);
    }
    engine.poll(std::min({schedule.intended_send_time(sent), stop, next_status}));
  }
  // Every request ends by itself (answer, or timeout after the retransmissions).
  while (engine.in_flight() > 0) engine.poll(Clock::now() + std::chrono::seconds(1));
  engine.close_sessions();
  print_status(Clock::now());
  for (const auto& [answer, count] : failures) {
    std::cerr << "iotc simulate: " << count << " x " << answer << "\n";
  }
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace iot::client
