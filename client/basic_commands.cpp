// iotc health, send and incremental: one device, one request at a time.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "device_session.hpp"
#include "event_json.hpp"
#include "global_options.hpp"

namespace iot::client {
namespace {

// Parses the command's flags; returns false when --help or --version was answered.
bool parse_flags(cli::FlagSet& flags, int argc, const char* const* argv,
                 const cli::Environment& env) {
  std::string out;
  const auto outcome = flags.parse(argc, argv, env, IOT_VERSION, out);
  if (outcome == cli::FlagSet::Outcome::run) return true;
  std::cout << out;
  return false;
}

double parse_number(std::string_view text) {
  const auto value = parse_event_value(text);
  if (const auto* number = std::get_if<double>(&value)) return *number;
  throw cli::UsageError("expected a number, got '" + std::string(text) + "'");
}

void print_answer(const GlobalOptions& globals, const Answer& answer, std::string_view event) {
  if (globals.silent) return;
  std::cout << answer.describe();
  if (!event.empty()) std::cout << "  " << event;
  // Diagnostics of 4.xx/5.xx and the body of 2.05 are short text or JSON.
  if (!answer.payload.empty()) std::cout << (event.empty() ? "  " : "\n  ") << answer.payload;
  std::cout << "\n" << std::flush;
}

}  // namespace

int run_health(int argc, const char* const* argv, const cli::Environment& env) {
  GlobalOptions globals;
  cli::FlagSet flags(argv[0], "GET /health from the collector; exit 0 only on 2.05 Content.",
                     kEnvPrefix);
  add_global_flags(flags, globals);
  if (!parse_flags(flags, argc, argv, env)) return kExitOk;
  finish_global_flags(globals);
  DeviceSession device(globals);
  coapwire::Request request;
  request.method = coapwire::codes::kGet;
  request.path = "health";
  const Answer answer = device.exchange(request);
  print_answer(globals, answer, "");
  const bool healthy =
      answer.kind == coapwire::Result::Kind::response && answer.code == coapwire::codes::kContent;
  return healthy ? kExitOk : kExitFailed;
}

int run_send(int argc, const char* const* argv, const cli::Environment& env) {
  GlobalOptions globals;
  std::string unit;
  std::optional<std::chrono::system_clock::time_point> timestamp;
  bool non_confirmable = false;
  std::vector<std::string> args;
  cli::FlagSet flags(argv[0],
                     "POST one event to /events and print the answer and the event; exit 0 on "
                     "2.xx.\n<value> is a number, true/false, or text.",
                     kEnvPrefix);
  add_global_flags(flags, globals);
  flags.add("unit", "UNIT", "payload.unit, e.g. C.", "", [&](std::string_view v) { unit = v; });
  flags.add("timestamp", "TIME", "Event time: RFC 3339 or epoch milliseconds.", "now",
            [&](std::string_view v) { timestamp = parse_event_timestamp(v); });
  flags.add_bool("non", "Send non-confirmable (no retransmission, no delivery promise).",
                 &non_confirmable);
  flags.set_positional("<type> <value>", &args, 2, 2);
  if (!parse_flags(flags, argc, argv, env)) return kExitOk;
  finish_global_flags(globals);

  const std::string event = event_json({globals.namespace_, globals.sender, globals.origin, args[0],
                                        parse_event_value(args[1]), unit,
                                        timestamp.value_or(std::chrono::system_clock::now())});
  DeviceSession device(globals);
  const Answer answer =
      device.exchange(post_events(event, non_confirmable ? coapwire::MessageType::non_confirmable
                                                         : coapwire::MessageType::confirmable));
  print_answer(globals, answer, event);
  return answer.is_success() ? kExitOk : kExitFailed;
}

int run_incremental(int argc, const char* const* argv, const cli::Environment& env) {
  GlobalOptions globals;
  std::uint64_t count = 10;
  double period_seconds = 1;
  double factor = 1.1;
  std::optional<double> min, max;
  std::string unit;
  std::vector<std::string> args;
  cli::FlagSet flags(argv[0],
                     "POST a series of events: the value starts at <initial> and is multiplied by "
                     "the factor\nat every step, clamped to [--min, --max]; exit 0 if every one "
                     "got 2.xx.",
                     kEnvPrefix);
  add_global_flags(flags, globals);
  flags.add("count", "N", "Events to send (1..1000000).", std::to_string(count),
            [&](std::string_view v) { count = cli::parse_unsigned(v, 1, 1'000'000); });
  flags.add("period", "SECONDS", "Time between events (0..86400, fractions allowed).", "1",
            [&](std::string_view v) {
              period_seconds = parse_number(v);
              if (period_seconds < 0 || period_seconds > 86400) {
                throw cli::UsageError("expected 0..86400 seconds, got '" + std::string(v) + "'");
              }
            });
  flags.add("factor", "FACTOR", "Multiplier per step.", "1.1",
            [&](std::string_view v) { factor = parse_number(v); });
  flags.add("min", "V", "Lowest value.", "none",
            [&](std::string_view v) { min = parse_number(v); });
  flags.add("max", "V", "Highest value.", "none",
            [&](std::string_view v) { max = parse_number(v); });
  flags.add("unit", "UNIT", "payload.unit, e.g. C.", "", [&](std::string_view v) { unit = v; });
  flags.add_short('n', "count");
  flags.add_short('p', "period");
  flags.add_short('f', "factor");
  flags.set_positional("<type> <initial>", &args, 2, 2);
  if (!parse_flags(flags, argc, argv, env)) return kExitOk;
  finish_global_flags(globals);
  if (min && max && *min > *max) throw cli::UsageError("--min must not exceed --max");
  const double initial = parse_number(args[1]);

  DeviceSession device(globals);
  const auto start = std::chrono::steady_clock::now();
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(period_seconds));
  std::uint64_t failures = 0;
  double value = initial;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (i > 0) {
      value *= factor;
      // Pacing, not synchronisation: event i leaves at start + i * period, whatever the answers
      // took, so the series keeps its rhythm.
      std::this_thread::sleep_until(start + period * static_cast<std::int64_t>(i));
    }
    if (min) value = std::max(value, *min);
    if (max) value = std::min(value, *max);
    const std::string event = event_json({globals.namespace_, globals.sender, globals.origin,
                                          args[0], value, unit, std::chrono::system_clock::now()});
    const Answer answer = device.exchange(post_events(event));
    print_answer(globals, answer, event);
    if (!answer.is_success()) ++failures;
  }
  if (failures > 0 && !globals.silent) {
    std::cerr << "iotc incremental: " << failures << " of " << count << " events failed\n";
  }
  return failures == 0 ? kExitOk : kExitFailed;
}

}  // namespace iot::client
