#include "config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace iot::collector {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

ParseResult parse(std::vector<std::string> args, const cli::Environment& env = {}) {
  std::vector<const char*> argv{"iot-collector"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return parse_collector_config(static_cast<int>(argv.size()), argv.data(), env);
}

CollectorConfig config_of(std::vector<std::string> args, const cli::Environment& env = {}) {
  ParseResult result = parse(std::move(args), env);
  if (auto* exit = std::get_if<ExitNow>(&result)) {
    ADD_FAILURE() << "expected a config, got exit " << exit->status << ": " << exit->text;
    return {};
  }
  return std::get<CollectorConfig>(std::move(result));
}

std::string error_of(std::vector<std::string> args, const cli::Environment& env = {}) {
  try {
    parse(std::move(args), env);
  } catch (const cli::UsageError& e) {
    return e.what();
  }
  return "<no error>";
}

std::string host_name() {
  std::array<char, 256> buffer{};
  EXPECT_EQ(gethostname(buffer.data(), buffer.size() - 1), 0);
  return buffer.data();
}

TEST(CollectorConfig, Defaults) {
  const CollectorConfig c = config_of({});
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 5683);
  EXPECT_EQ(c.admin_listen.host, "0.0.0.0");
  EXPECT_EQ(c.admin_listen.port, 8080);
  EXPECT_EQ(c.file_sink.path, "./data/events.ndjson");
  EXPECT_EQ(c.max_payload, 16384U);
  EXPECT_EQ(c.max_batch, 100U);
  EXPECT_EQ(c.threads, std::clamp(std::thread::hardware_concurrency(), 1U, 256U));
  EXPECT_GE(c.threads, 1U);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, LogFormat::text);
  EXPECT_EQ(c.shutdown_timeout, 10s);
  EXPECT_EQ(c.drain_delay, 0s);
  EXPECT_EQ(c.instance, host_name());
  EXPECT_EQ(c.index, "iot-events");
}

// One accepted value per flag; each is tried as `--x v`, `--x=v` and IOT_COLLECTOR_X=v.
struct FlagCase {
  std::string flag;
  std::string env;
  std::string value;
  std::function<void(const CollectorConfig&)> check;
};

std::vector<FlagCase> flag_cases() {
  return {
      {"listen", "IOT_COLLECTOR_LISTEN", "127.0.0.1:1234",
       [](const CollectorConfig& c) {
         EXPECT_EQ(c.listen.host, "127.0.0.1");
         EXPECT_EQ(c.listen.port, 1234);
       }},
      {"admin-listen", "IOT_COLLECTOR_ADMIN_LISTEN", "[::1]:9090",
       [](const CollectorConfig& c) {
         EXPECT_EQ(c.admin_listen.host, "::1");
         EXPECT_EQ(c.admin_listen.port, 9090);
       }},
      {"sink", "IOT_COLLECTOR_SINK", "file:/var/lib/iot/out.ndjson",
       [](const CollectorConfig& c) { EXPECT_EQ(c.file_sink.path, "/var/lib/iot/out.ndjson"); }},
      {"max-payload", "IOT_COLLECTOR_MAX_PAYLOAD", "16777216",
       [](const CollectorConfig& c) { EXPECT_EQ(c.max_payload, 16777216U); }},
      {"max-batch", "IOT_COLLECTOR_MAX_BATCH", "10000",
       [](const CollectorConfig& c) { EXPECT_EQ(c.max_batch, 10000U); }},
      {"threads", "IOT_COLLECTOR_THREADS", "256",
       [](const CollectorConfig& c) { EXPECT_EQ(c.threads, 256U); }},
      {"log-level", "IOT_COLLECTOR_LOG_LEVEL", "debug",
       [](const CollectorConfig& c) { EXPECT_EQ(c.log_level, "debug"); }},
      {"log-format", "IOT_COLLECTOR_LOG_FORMAT", "json",
       [](const CollectorConfig& c) { EXPECT_EQ(c.log_format, LogFormat::json); }},
      {"shutdown-timeout", "IOT_COLLECTOR_SHUTDOWN_TIMEOUT", "3600",
       [](const CollectorConfig& c) { EXPECT_EQ(c.shutdown_timeout, 3600s); }},
      {"drain-delay", "IOT_COLLECTOR_DRAIN_DELAY", "9",
       [](const CollectorConfig& c) { EXPECT_EQ(c.drain_delay, 9s); }},
      {"instance", "IOT_COLLECTOR_INSTANCE", "collector-0.eu_west-1",
       [](const CollectorConfig& c) { EXPECT_EQ(c.instance, "collector-0.eu_west-1"); }},
      {"data-stream", "IOT_COLLECTOR_DATA_STREAM", "logs-iot.sensors-prod",
       [](const CollectorConfig& c) { EXPECT_EQ(c.index, "logs-iot.sensors-prod"); }},
  };
}

TEST(CollectorConfig, EveryFlagSeparateValueForm) {
  for (const FlagCase& f : flag_cases()) {
    SCOPED_TRACE("--" + f.flag);
    f.check(config_of({"--" + f.flag, f.value}));
  }
}

TEST(CollectorConfig, EveryFlagEqualsForm) {
  for (const FlagCase& f : flag_cases()) {
    SCOPED_TRACE("--" + f.flag);
    f.check(config_of({"--" + f.flag + "=" + f.value}));
  }
}

TEST(CollectorConfig, EveryFlagFromEnvironment) {
  for (const FlagCase& f : flag_cases()) {
    SCOPED_TRACE(f.env);
    f.check(config_of({}, {{f.env, f.value}}));
  }
}

TEST(CollectorConfig, FlagBeatsEnvironment) {
  const CollectorConfig c =
      config_of({"--max-batch", "7", "--log-level=warn"}, {{"IOT_COLLECTOR_MAX_BATCH", "8"},
                                                           {"IOT_COLLECTOR_LOG_LEVEL", "error"},
                                                           {"IOT_COLLECTOR_THREADS", "3"}});
  EXPECT_EQ(c.max_batch, 7U);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.threads, 3U);
}

TEST(CollectorConfig, ValidFlagOverridesBadEnvironment) {
  EXPECT_EQ(config_of({"--max-batch=5"}, {{"IOT_COLLECTOR_MAX_BATCH", "x"}}).max_batch, 5U);
}

TEST(CollectorConfig, UnrelatedEnvironmentIsIgnored) {
  const CollectorConfig c = config_of({}, {{"PATH", "/bin"},
                                           {"IOT_COLLECTOR_", "x"},
                                           {"IOTC_THREADS", "x"},
                                           {"iot_collector_threads", "x"}});
  EXPECT_EQ(c.max_batch, 100U);
}

TEST(CollectorConfig, Ipv6Listen) {
  const CollectorConfig c = config_of({"--listen", "[::]:5683"});
  EXPECT_EQ(c.listen.host, "::");
  EXPECT_EQ(c.listen.port, 5683);
  EXPECT_EQ(c.listen.to_string(), "[::]:5683");
}

TEST(CollectorConfig, PortZeroPicksAFreePort) {
  EXPECT_EQ(config_of({"--listen=127.0.0.1:0"}).listen.port, 0);
}

struct BadCase {
  std::vector<std::string> args;
  cli::Environment env;
  std::string message;
};

TEST(CollectorConfig, BadValuesHaveExactMessages) {
  const std::vector<BadCase> cases = {
      {{"--foo"}, {}, "unknown flag --foo (see --help)"},
      {{"--foo=1"}, {}, "unknown flag --foo (see --help)"},
      {{"serve"}, {}, "unexpected argument 'serve' (see --help)"},
      {{"--threads", "4", "extra"}, {}, "unexpected argument 'extra' (see --help)"},
      {{"--listen"}, {}, "--listen: missing value (expected HOST:PORT)"},
      {{"--listen", "5683"}, {}, "--listen: expected HOST:PORT, got '5683'"},
      {{"--listen=::1:5683"},
       {},
       "--listen: expected HOST:PORT, got '::1:5683' (write IPv6 addresses as [::1]:5683)"},
      {{"--listen=host:70000"},
       {},
       "--listen: expected HOST:PORT, got 'host:70000' (PORT must be in 0..65535)"},
      {{"--admin-listen", "localhost"}, {}, "--admin-listen: expected HOST:PORT, got 'localhost'"},
      {{"--sink", "foo"}, {}, "--sink: expected file:PATH, got 'foo'"},
      {{"--sink=file:"}, {}, "--sink: expected file:PATH, got 'file:'"},
      {{"--sink=elasticsearch:http://es:9200"},
       {},
       "--sink: expected file:PATH, got 'elasticsearch:http://es:9200'"},
      {{"--max-payload", "0"}, {}, "--max-payload: expected an integer in 1..16777216, got '0'"},
      {{"--max-payload=16777217"},
       {},
       "--max-payload: expected an integer in 1..16777216, got '16777217'"},
      {{"--max-payload=16k"}, {}, "--max-payload: expected an integer in 1..16777216, got '16k'"},
      {{"--max-batch=0"}, {}, "--max-batch: expected an integer in 1..10000, got '0'"},
      {{"--max-batch=10001"}, {}, "--max-batch: expected an integer in 1..10000, got '10001'"},
      {{"--threads", "0"}, {}, "--threads: expected an integer in 1..256, got '0'"},
      {{"--threads=257"}, {}, "--threads: expected an integer in 1..256, got '257'"},
      {{"--threads=-1"}, {}, "--threads: expected an integer in 1..256, got '-1'"},
      {{"--log-level=verbose"},
       {},
       "--log-level: expected trace|debug|info|warn|error|off, got 'verbose'"},
      {{"--log-level=INFO"},
       {},
       "--log-level: expected trace|debug|info|warn|error|off, got 'INFO'"},
      {{"--log-format=xml"}, {}, "--log-format: expected text|json, got 'xml'"},
      {{"--shutdown-timeout=0"}, {}, "--shutdown-timeout: expected an integer in 1..3600, got '0'"},
      {{"--shutdown-timeout=3601"},
       {},
       "--shutdown-timeout: expected an integer in 1..3600, got '3601'"},
      {{"--shutdown-timeout=10s"},
       {},
       "--shutdown-timeout: expected an integer in 1..3600, got '10s'"},
      {{"--drain-delay=3601"}, {}, "--drain-delay: expected an integer in 0..3600, got '3601'"},
      {{"--drain-delay=-1"}, {}, "--drain-delay: expected an integer in 0..3600, got '-1'"},
      {{"--instance="}, {}, "--instance: expected 1..253 characters of [A-Za-z0-9._-], got ''"},
      {{"--instance=pod 1"},
       {},
       "--instance: expected 1..253 characters of [A-Za-z0-9._-], got 'pod 1'"},
      {{"--instance=" + std::string(254, 'a')},
       {},
       "--instance: expected 1..253 characters of [A-Za-z0-9._-], got '" + std::string(254, 'a') +
           "'"},
      {{"--data-stream="},
       {},
       "--data-stream: expected a data stream name of 1..255 bytes, got ''"},
      {{"--data-stream=" + std::string(256, 'a')},
       {},
       "--data-stream: expected a data stream name of 1..255 bytes, got '" + std::string(256, 'a') +
           "'"},
      {{"--data-stream=IoT-events"},
       {},
       "--data-stream: expected a lowercase data stream name, got 'IoT-events'"},
      {{"--help=1"}, {}, "--help takes no value"},
      {{},
       {{"IOT_COLLECTOR_MAX_BATCH", "x"}},
       "IOT_COLLECTOR_MAX_BATCH: expected an integer in 1..10000, got 'x'"},
      {{},
       {{"IOT_COLLECTOR_LISTEN", "5683"}},
       "IOT_COLLECTOR_LISTEN: expected HOST:PORT, got '5683'"},
      {{}, {{"IOT_COLLECTOR_SINK", "foo"}}, "IOT_COLLECTOR_SINK: expected file:PATH, got 'foo'"},
      {{},
       {{"IOT_COLLECTOR_THREADS", "0"}},
       "IOT_COLLECTOR_THREADS: expected an integer in 1..256, got '0'"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.args.empty() ? c.env.begin()->first : c.args.front());
    EXPECT_EQ(error_of(c.args, c.env), c.message);
  }
}

TEST(CollectorConfig, DataStreamRejectsLeadingCharacters) {
  for (const char* bad : {"-x", "_x", "+x", ".x", ".", ".."}) {
    EXPECT_EQ(error_of({std::string("--data-stream=") + bad}),
              std::string("--data-stream: expected a data stream name not starting with '-', '_', "
                          "'+' or '.', got '") +
                  bad + "'");
  }
}

TEST(CollectorConfig, DataStreamRejectsForbiddenCharacters) {
  for (char c : std::string("\\/*?\"<>|,#: ")) {
    const std::string name = std::string("iot") + c + "events";
    EXPECT_EQ(error_of({"--data-stream", name}),
              "--data-stream: expected a data stream name without \\ / * ? \" < > | , # : or "
              "spaces, got '" +
                  name + "'")
        << c;
  }
}

TEST(CollectorConfig, DataStreamAcceptsLimits) {
  EXPECT_EQ(config_of({"--data-stream=" + std::string(255, 'a')}).index, std::string(255, 'a'));
  EXPECT_EQ(config_of({"--data-stream=a"}).index, "a");
  EXPECT_EQ(config_of({"--data-stream=iot-events-2024.01"}).index, "iot-events-2024.01");
}

TEST(CollectorConfig, InstanceAcceptsLimits) {
  EXPECT_EQ(config_of({"--instance=" + std::string(253, 'x')}).instance, std::string(253, 'x'));
  EXPECT_EQ(config_of({"--instance=A"}).instance, "A");
}

TEST(CollectorConfig, ValueRangesAcceptTheirLimits) {
  const CollectorConfig low = config_of({"--max-payload=1", "--max-batch=1", "--threads=1",
                                         "--shutdown-timeout=1", "--drain-delay=0"});
  EXPECT_EQ(low.max_payload, 1U);
  EXPECT_EQ(low.max_batch, 1U);
  EXPECT_EQ(low.threads, 1U);
  EXPECT_EQ(low.shutdown_timeout, 1s);
  EXPECT_EQ(low.drain_delay, 0s);
  const CollectorConfig high = config_of({"--shutdown-timeout=3600", "--drain-delay=3599"});
  EXPECT_EQ(high.drain_delay, 3599s);
}

TEST(CollectorConfig, EveryLogLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    EXPECT_EQ(config_of({"--log-level", level}).log_level, level);
  }
}

TEST(CollectorConfig, DrainDelayMustBeLessThanShutdownTimeout) {
  EXPECT_EQ(error_of({"--drain-delay=10"}),
            "--drain-delay (10) must be less than --shutdown-timeout (10)");
  EXPECT_EQ(error_of({"--drain-delay=30", "--shutdown-timeout=20"}),
            "--drain-delay (30) must be less than --shutdown-timeout (20)");
  EXPECT_EQ(
      error_of({}, {{"IOT_COLLECTOR_DRAIN_DELAY", "5"}, {"IOT_COLLECTOR_SHUTDOWN_TIMEOUT", "5"}}),
      "--drain-delay (5) must be less than --shutdown-timeout (5)");
  const CollectorConfig c = config_of({"--drain-delay=19", "--shutdown-timeout=20"});
  EXPECT_EQ(c.drain_delay, 19s);
  EXPECT_EQ(c.shutdown_timeout, 20s);
}

TEST(CollectorConfig, HelpListsEveryFlagWithEnvironmentVariable) {
  const ParseResult result = parse({"--help"});
  ASSERT_TRUE(std::holds_alternative<ExitNow>(result));
  const ExitNow& exit = std::get<ExitNow>(result);
  EXPECT_EQ(exit.status, 0);
  EXPECT_THAT(exit.text, HasSubstr("Usage: iot-collector [flags]"));
  for (const FlagCase& f : flag_cases()) {
    EXPECT_THAT(exit.text, HasSubstr("  --" + f.flag + " ")) << f.flag;
    EXPECT_THAT(exit.text, HasSubstr("env: " + f.env + "\n")) << f.flag;
  }
  for (const char* shown : {"--listen HOST:PORT",
                            "default: 0.0.0.0:5683",
                            "--admin-listen HOST:PORT",
                            "default: 0.0.0.0:8080",
                            "--sink file:PATH",
                            "default: file:./data/events.ndjson",
                            "--max-payload BYTES",
                            "default: 16384",
                            "--max-batch N",
                            "default: 100",
                            "--threads N",
                            "--log-level LEVEL",
                            "default: info",
                            "--log-format FORMAT",
                            "default: text",
                            "--shutdown-timeout SECONDS",
                            "default: 10",
                            "--drain-delay SECONDS",
                            "default: 0",
                            "--instance NAME",
                            "--data-stream NAME",
                            "default: iot-events",
                            "--help",
                            "--version"}) {
    EXPECT_THAT(exit.text, HasSubstr(shown));
  }
}

TEST(CollectorConfig, HelpWinsOverBadEnvironment) {
  const ParseResult result = parse({"--help"}, {{"IOT_COLLECTOR_THREADS", "0"}});
  ASSERT_TRUE(std::holds_alternative<ExitNow>(result));
  EXPECT_EQ(std::get<ExitNow>(result).status, 0);
}

TEST(CollectorConfig, Version) {
  const ParseResult result = parse({"--version"});
  ASSERT_TRUE(std::holds_alternative<ExitNow>(result));
  EXPECT_EQ(std::get<ExitNow>(result).status, 0);
  EXPECT_EQ(std::get<ExitNow>(result).text, "iot-collector " IOT_VERSION "\n");
}

}  // namespace
}  // namespace iot::collector
