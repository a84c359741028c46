#include "config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <utility>
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

struct BadCase {
  std::vector<std::string> args;
  cli::Environment env;
  std::string message;
};

std::string host_name() {
  std::array<char, 256> buffer{};
  EXPECT_EQ(gethostname(buffer.data(), buffer.size() - 1), 0);
  return buffer.data();
}

// A private directory for the files the _FILE and CA flags read; removed at exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "collector-config-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

const std::filesystem::path& temp_dir() {
  static const TempDir dir;
  return dir.path();
}

// Writes `content` byte for byte to a file in temp_dir() and returns its path.
std::string write_file(const std::string& name, const std::string& content) {
  const std::filesystem::path path = temp_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  EXPECT_TRUE(out) << path;
  return path.string();
}

constexpr const char* kUrl = "--elasticsearch-url=http://es:9200";

ElasticsearchSinkConfig es_of(std::vector<std::string> args, const cli::Environment& env = {}) {
  const CollectorConfig c = config_of(std::move(args), env);
  if (!c.elasticsearch) {
    ADD_FAILURE() << "expected the Elasticsearch sink";
    return {};
  }
  return *c.elasticsearch;
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
  EXPECT_EQ(c.self_metrics_interval, 0s);
  EXPECT_FALSE(c.elasticsearch.has_value());
  EXPECT_FALSE(c.rate_limit.has_value());
}

TEST(CollectorConfig, EnvironmentVariablesThatNameNoFlagAreReportedNotFatal) {
  const CollectorConfig c =
      config_of({}, {{"IOT_COLLECTOR_MAX_BATCH", "7"}, {"IOT_COLLECTOR_BULK_MAX_DOC", "10"}});
  EXPECT_EQ(c.max_batch, 7U);
  EXPECT_EQ(c.unknown_environment, std::vector<std::string>{"IOT_COLLECTOR_BULK_MAX_DOC"});
  // Every flag's variable is known, the *_FILE spellings of the secrets included.
  const std::string key_file = write_file("unknown-env-api-key", "id:key");
  EXPECT_TRUE(config_of({}, {{"IOT_COLLECTOR_ELASTICSEARCH_API_KEY_FILE", key_file},
                             {"IOT_COLLECTOR_ELASTICSEARCH_URL", "http://es:9200"}})
                  .unknown_environment.empty());
}

TEST(CollectorConfig, ElasticsearchDefaults) {
  const CollectorConfig c = config_of({"--elasticsearch-url", "http://es:9200"});
  ASSERT_TRUE(c.elasticsearch.has_value());
  const ElasticsearchSinkConfig& es = *c.elasticsearch;
  ASSERT_EQ(es.nodes.size(), 1U);
  EXPECT_FALSE(es.nodes[0].tls);
  EXPECT_EQ(es.nodes[0].host, "es");
  EXPECT_EQ(es.nodes[0].port, 9200);
  EXPECT_EQ(es.nodes[0].path_prefix, "");
  EXPECT_FALSE(es.authorization.has_value());
  EXPECT_EQ(es.ca_file, "");
  EXPECT_FALSE(es.insecure);
  EXPECT_EQ(es.request_timeout, 10000ms);
  EXPECT_EQ(es.connect_timeout, 2000ms);
  EXPECT_FALSE(es.gzip);
  EXPECT_EQ(es.bulk_max_docs, 1000U);
  EXPECT_EQ(es.bulk_max_bytes, 5242880U);
  EXPECT_EQ(es.bulk_linger, 20ms);
  EXPECT_EQ(es.bulk_concurrency, 2U);
  EXPECT_EQ(es.ack, AckMode::stored);
  EXPECT_EQ(es.ack_timeout, 5000ms);
  EXPECT_EQ(es.max_buffered_bytes, 16777216U);
  EXPECT_TRUE(es.bootstrap);
  EXPECT_EQ(es.retention_days, 30U);
  // The rest of the config is unchanged; the file sink is simply not used.
  EXPECT_EQ(c.file_sink.path, "./data/events.ndjson");
  EXPECT_EQ(c.index, "iot-events");
  EXPECT_EQ(c.self_metrics_interval, 0s);
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
      {"rate-limit", "IOT_COLLECTOR_RATE_LIMIT", "2.5",
       [](const CollectorConfig& c) {
         ASSERT_TRUE(c.rate_limit.has_value());
         EXPECT_EQ(c.rate_limit->events_per_second, 2.5);
         EXPECT_EQ(c.rate_limit->burst, 5U);
       }},
      {"elasticsearch-url", "IOT_COLLECTOR_ELASTICSEARCH_URL",
       "https://es-0.example:9243, http://[::1]/proxy/es/",
       [](const CollectorConfig& c) {
         ASSERT_TRUE(c.elasticsearch.has_value());
         const auto& nodes = c.elasticsearch->nodes;
         ASSERT_EQ(nodes.size(), 2U);
         EXPECT_TRUE(nodes[0].tls);
         EXPECT_EQ(nodes[0].host, "es-0.example");
         EXPECT_EQ(nodes[0].port, 9243);
         EXPECT_FALSE(nodes[1].tls);
         EXPECT_EQ(nodes[1].host, "::1");
         EXPECT_EQ(nodes[1].port, 9200);
         EXPECT_EQ(nodes[1].path_prefix, "/proxy/es");
       }},
  };
}

// Elasticsearch flags with a value: each is tried in the three forms, with --elasticsearch-url
// given as a flag so the sink config is kept.
struct EsFlagCase {
  std::string flag;
  std::string env;
  std::string value;
  std::function<void(const ElasticsearchSinkConfig&)> check;
};

std::vector<EsFlagCase> es_flag_cases() {
  return {
      {"elasticsearch-api-key", "IOT_COLLECTOR_ELASTICSEARCH_API_KEY",
       "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
       [](const ElasticsearchSinkConfig& es) {
         EXPECT_EQ(es.authorization,
                   "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==");
       }},
      {"elasticsearch-api-key-file", "IOT_COLLECTOR_ELASTICSEARCH_API_KEY_FILE",
       write_file("api-key", "a2V5LWlkOmtleQ==\n"),
       [](const ElasticsearchSinkConfig& es) {
         EXPECT_EQ(es.authorization, "ApiKey a2V5LWlkOmtleQ==");
       }},
      {"elasticsearch-ca", "IOT_COLLECTOR_ELASTICSEARCH_CA",
       write_file("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
       [](const ElasticsearchSinkConfig& es) {
         EXPECT_EQ(es.ca_file, (temp_dir() / "ca.pem").string());
       }},
      {"elasticsearch-timeout-ms", "IOT_COLLECTOR_ELASTICSEARCH_TIMEOUT_MS", "600000",
       [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.request_timeout, 600000ms); }},
      {"elasticsearch-connect-timeout-ms", "IOT_COLLECTOR_ELASTICSEARCH_CONNECT_TIMEOUT_MS",
       "60000", [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.connect_timeout, 60000ms); }},
      {"bulk-max-docs", "IOT_COLLECTOR_BULK_MAX_DOCS", "100000",
       [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.bulk_max_docs, 100000U); }},
      {"bulk-max-bytes", "IOT_COLLECTOR_BULK_MAX_BYTES", "1024",
       [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.bulk_max_bytes, 1024U); }},
      {"bulk-linger-ms", "IOT_COLLECTOR_BULK_LINGER_MS", "60000",
       [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.bulk_linger, 60000ms); }},
      {"bulk-concurrency", "IOT_COLLECTOR_BULK_CONCURRENCY", "64",
       [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.bulk_concurrency, 64U); }},
      {"ack", "IOT_COLLECTOR_ACK", "accepted",
       [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.ack, AckMode::accepted); }},
      {"ack-timeout-ms", "IOT_COLLECTOR_ACK_TIMEOUT_MS", "100",
       [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.ack_timeout, 100ms); }},
      {"max-buffered-bytes", "IOT_COLLECTOR_MAX_BUFFERED_BYTES", "17179869184",
       [](const ElasticsearchSinkConfig& es) {
         EXPECT_EQ(es.max_buffered_bytes, std::size_t{17179869184U});
       }},
      {"retention-days", "IOT_COLLECTOR_RETENTION_DAYS", "36500",
       [](const ElasticsearchSinkConfig& es) { EXPECT_EQ(es.retention_days, 36500U); }},
  };
}

// Boolean flags: `--x`, `--x=v` and the variable.
struct BoolFlagCase {
  std::string flag;
  std::string env;
  bool default_value;
  std::function<bool(const ElasticsearchSinkConfig&)> get;
};

std::vector<BoolFlagCase> es_bool_flag_cases() {
  return {
      {"elasticsearch-insecure", "IOT_COLLECTOR_ELASTICSEARCH_INSECURE", false,
       [](const ElasticsearchSinkConfig& es) { return es.insecure; }},
      {"bulk-gzip", "IOT_COLLECTOR_BULK_GZIP", false,
       [](const ElasticsearchSinkConfig& es) { return es.gzip; }},
      {"elasticsearch-bootstrap", "IOT_COLLECTOR_ELASTICSEARCH_BOOTSTRAP", true,
       [](const ElasticsearchSinkConfig& es) { return es.bootstrap; }},
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

TEST(CollectorConfig, EveryElasticsearchFlagSeparateValueForm) {
  for (const EsFlagCase& f : es_flag_cases()) {
    SCOPED_TRACE("--" + f.flag);
    f.check(es_of({kUrl, "--" + f.flag, f.value}));
  }
}

TEST(CollectorConfig, EveryElasticsearchFlagEqualsForm) {
  for (const EsFlagCase& f : es_flag_cases()) {
    SCOPED_TRACE("--" + f.flag);
    f.check(es_of({kUrl, "--" + f.flag + "=" + f.value}));
  }
}

TEST(CollectorConfig, EveryElasticsearchFlagFromEnvironment) {
  for (const EsFlagCase& f : es_flag_cases()) {
    SCOPED_TRACE(f.env);
    f.check(es_of({}, {{"IOT_COLLECTOR_ELASTICSEARCH_URL", "http://es:9200"}, {f.env, f.value}}));
  }
}

TEST(CollectorConfig, ElasticsearchFlagsAtTheirOtherLimits) {
  const ElasticsearchSinkConfig low =
      es_of({kUrl, "--elasticsearch-timeout-ms=100", "--elasticsearch-connect-timeout-ms=100",
             "--bulk-max-docs=1", "--bulk-max-bytes=1024", "--bulk-linger-ms=0",
             "--bulk-concurrency=1", "--ack=stored", "--ack-timeout-ms=600000",
             "--max-buffered-bytes=1048576", "--retention-days=1"});
  EXPECT_EQ(low.request_timeout, 100ms);
  EXPECT_EQ(low.connect_timeout, 100ms);
  EXPECT_EQ(low.bulk_max_docs, 1U);
  EXPECT_EQ(low.bulk_max_bytes, 1024U);
  EXPECT_EQ(low.bulk_linger, 0ms);
  EXPECT_EQ(low.bulk_concurrency, 1U);
  EXPECT_EQ(low.ack, AckMode::stored);
  EXPECT_EQ(low.ack_timeout, 600000ms);
  EXPECT_EQ(low.max_buffered_bytes, 1048576U);
  EXPECT_EQ(low.retention_days, 1U);
  const ElasticsearchSinkConfig high =
      es_of({kUrl, "--bulk-max-bytes=104857600", "--max-buffered-bytes=104857600"});
  EXPECT_EQ(high.bulk_max_bytes, 104857600U);
  EXPECT_EQ(high.max_buffered_bytes, 104857600U);
  EXPECT_EQ(config_of({"--self-metrics-interval=0"}).self_metrics_interval, 0s);
}

TEST(CollectorConfig, ElasticsearchBooleanFlags) {
  for (const BoolFlagCase& f : es_bool_flag_cases()) {
    SCOPED_TRACE(f.flag);
    EXPECT_EQ(f.get(es_of({kUrl})), f.default_value);
    EXPECT_TRUE(f.get(es_of({kUrl, "--" + f.flag})));
    EXPECT_TRUE(f.get(es_of({kUrl, "--" + f.flag + "=true"})));
    EXPECT_TRUE(f.get(es_of({kUrl, "--" + f.flag + "=1"})));
    EXPECT_FALSE(f.get(es_of({kUrl, "--" + f.flag + "=false"})));
    EXPECT_FALSE(f.get(es_of({kUrl, "--" + f.flag + "=0"})));
    EXPECT_TRUE(f.get(es_of({kUrl}, {{f.env, "true"}})));
    EXPECT_TRUE(f.get(es_of({kUrl}, {{f.env, "1"}})));
    EXPECT_FALSE(f.get(es_of({kUrl}, {{f.env, "false"}})));
    EXPECT_FALSE(f.get(es_of({kUrl}, {{f.env, "0"}})));
    EXPECT_EQ(f.get(es_of({kUrl}, {{f.env, ""}})), f.default_value);  // empty: unset
    // The flag wins over the variable.
    EXPECT_FALSE(f.get(es_of({kUrl, "--" + f.flag + "=false"}, {{f.env, "true"}})));
    EXPECT_TRUE(f.get(es_of({kUrl, "--" + f.flag}, {{f.env, "false"}})));
    EXPECT_EQ(error_of({kUrl, "--" + f.flag + "=yes"}),
              "--" + f.flag + ": expected true, false, 1 or 0, got 'yes'");
    EXPECT_EQ(error_of({kUrl}, {{f.env, "off"}}),
              f.env + ": expected true, false, 1 or 0, got 'off'");
  }
}

TEST(CollectorConfig, ElasticsearchFlagsBeatEnvironment) {
  const ElasticsearchSinkConfig es =
      es_of({"--elasticsearch-url=https://flag:9200", "--bulk-max-docs=5",
             "--elasticsearch-api-key=flag-key"},
            {{"IOT_COLLECTOR_ELASTICSEARCH_URL", "https://env:9200"},
             {"IOT_COLLECTOR_BULK_MAX_DOCS", "6"},
             {"IOT_COLLECTOR_ELASTICSEARCH_API_KEY", "env-key"},
             {"IOT_COLLECTOR_ACK", "accepted"}});
  ASSERT_EQ(es.nodes.size(), 1U);
  EXPECT_EQ(es.nodes[0].host, "flag");
  EXPECT_EQ(es.bulk_max_docs, 5U);
  EXPECT_EQ(es.authorization, "ApiKey flag-key");
  EXPECT_EQ(es.ack, AckMode::accepted);
}

// Operators set the batching variables fleet-wide, so they are accepted (and validated) on
// collectors that write to a file too; the Elasticsearch settings are then not kept.
TEST(CollectorConfig, ElasticsearchFlagsWithoutUrlAreAcceptedAndIgnored) {
  const CollectorConfig c =
      config_of({"--bulk-max-docs=10", "--ack=accepted", "--elasticsearch-insecure",
                 "--elasticsearch-api-key=key"},
                {{"IOT_COLLECTOR_BULK_GZIP", "true"}, {"IOT_COLLECTOR_RETENTION_DAYS", "7"}});
  EXPECT_FALSE(c.elasticsearch.has_value());
  EXPECT_EQ(c.file_sink.path, "./data/events.ndjson");
  EXPECT_EQ(error_of({"--bulk-max-docs=0"}),
            "--bulk-max-docs: expected an integer in 1..100000, got '0'");
}

TEST(CollectorConfig, InsecureWithHttpOnlyUrlsIsAllowed) {
  const ElasticsearchSinkConfig es =
      es_of({"--elasticsearch-url=http://a:9200,http://b:9200", "--elasticsearch-insecure"});
  EXPECT_TRUE(es.insecure);
  EXPECT_EQ(es.nodes.size(), 2U);
}

TEST(CollectorConfig, SinkAndElasticsearchUrlConflict) {
  const std::string message = "--sink and --elasticsearch-url select different sinks; give one";
  EXPECT_EQ(error_of({"--sink=file:/tmp/x", kUrl}), message);
  EXPECT_EQ(error_of({kUrl, "--sink", "file:./data/events.ndjson"}), message);
  EXPECT_EQ(error_of({kUrl}, {{"IOT_COLLECTOR_SINK", "file:/tmp/x"}}), message);
  EXPECT_EQ(error_of({"--sink=file:/tmp/x"}, {{"IOT_COLLECTOR_ELASTICSEARCH_URL", "http://es"}}),
            message);
  EXPECT_EQ(error_of({}, {{"IOT_COLLECTOR_SINK", "file:/tmp/x"},
                          {"IOT_COLLECTOR_ELASTICSEARCH_URL", "http://es"}}),
            message);
  // An empty variable counts as unset, as everywhere.
  EXPECT_TRUE(config_of({kUrl}, {{"IOT_COLLECTOR_SINK", ""}}).elasticsearch.has_value());
}

TEST(CollectorConfig, MaxBufferedBytesMustHoldOneBulkRequest) {
  EXPECT_EQ(error_of({kUrl, "--bulk-max-bytes=2097152", "--max-buffered-bytes=1048576"}),
            "--max-buffered-bytes (1048576) must be at least --bulk-max-bytes (2097152)");
  EXPECT_EQ(error_of({kUrl, "--bulk-max-bytes=104857600"}),
            "--max-buffered-bytes (16777216) must be at least --bulk-max-bytes (104857600)");
  EXPECT_EQ(error_of({}, {{"IOT_COLLECTOR_BULK_MAX_BYTES", "2097152"},
                          {"IOT_COLLECTOR_MAX_BUFFERED_BYTES", "2097151"}}),
            "--max-buffered-bytes (2097151) must be at least --bulk-max-bytes (2097152)");
  const ElasticsearchSinkConfig equal =
      es_of({kUrl, "--bulk-max-bytes=2097152", "--max-buffered-bytes=2097152"});
  EXPECT_EQ(equal.max_buffered_bytes, 2097152U);
}

TEST(CollectorConfig, BasicAuthorizationHeader) {
  EXPECT_EQ(
      es_of({kUrl, "--elasticsearch-username", "elastic", "--elasticsearch-password", "changeme"})
          .authorization,
      "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
  // Every padding length, and bytes above 0x7f (UTF-8).
  EXPECT_EQ(es_of({kUrl, "--elasticsearch-username=a", "--elasticsearch-password=b"}).authorization,
            "Basic YTpi");
  EXPECT_EQ(
      es_of({kUrl, "--elasticsearch-username=a", "--elasticsearch-password=bc"}).authorization,
      "Basic YTpiYw==");
  EXPECT_EQ(
      es_of({kUrl, "--elasticsearch-username=a", "--elasticsearch-password=bcd"}).authorization,
      "Basic YTpiY2Q=");
  EXPECT_EQ(es_of({kUrl, "--elasticsearch-username=\xc3\xbcn\xc3\xaf",
                   "--elasticsearch-password=p\xc3\xa4ssw\xc3\xb6rd\xe2\x82\xac"})
                .authorization,
            "Basic w7xuw686cMOkc3N3w7ZyZOKCrA==");
  // A password may contain ':' and spaces; only the user name may not contain ':'.
  EXPECT_EQ(
      es_of({kUrl, "--elasticsearch-username=a", "--elasticsearch-password=b: c"}).authorization,
      "Basic YTpiOiBj");
}

// Each way of giving the user name, combined with each way of giving the password.
TEST(CollectorConfig, BasicAuthorizationFromEverySource) {
  const std::string user_file = write_file("user", "elastic\n");
  const std::string password_file = write_file("password", "changeme\r\n");
  struct Source {
    std::vector<std::string> args;
    cli::Environment env;
  };
  const std::vector<Source> users = {
      {{"--elasticsearch-username", "elastic"}, {}},
      {{"--elasticsearch-username=elastic"}, {}},
      {{}, {{"IOT_COLLECTOR_ELASTICSEARCH_USERNAME", "elastic"}}},
      {{"--elasticsearch-username-file", user_file}, {}},
      {{"--elasticsearch-username-file=" + user_file}, {}},
      {{}, {{"IOT_COLLECTOR_ELASTICSEARCH_USERNAME_FILE", user_file}}},
  };
  const std::vector<Source> passwords = {
      {{"--elasticsearch-password", "changeme"}, {}},
      {{"--elasticsearch-password=changeme"}, {}},
      {{}, {{"IOT_COLLECTOR_ELASTICSEARCH_PASSWORD", "changeme"}}},
      {{"--elasticsearch-password-file", password_file}, {}},
      {{"--elasticsearch-password-file=" + password_file}, {}},
      {{}, {{"IOT_COLLECTOR_ELASTICSEARCH_PASSWORD_FILE", password_file}}},
  };
  for (std::size_t u = 0; u < users.size(); ++u) {
    for (std::size_t p = 0; p < passwords.size(); ++p) {
      SCOPED_TRACE("user source " + std::to_string(u) + ", password source " + std::to_string(p));
      std::vector<std::string> args{kUrl};
      args.insert(args.end(), users[u].args.begin(), users[u].args.end());
      args.insert(args.end(), passwords[p].args.begin(), passwords[p].args.end());
      cli::Environment env = users[u].env;
      env.insert(passwords[p].env.begin(), passwords[p].env.end());
      EXPECT_EQ(es_of(args, env).authorization, "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
    }
  }
}

TEST(CollectorConfig, ApiKeyAuthorizationHeader) {
  EXPECT_EQ(es_of({kUrl, "--elasticsearch-api-key", "id:secret"}).authorization,
            "ApiKey id:secret");  // sent as given; Elasticsearch's encoded form is the caller's job
  EXPECT_EQ(es_of({kUrl}, {{"IOT_COLLECTOR_ELASTICSEARCH_API_KEY_FILE",
                            write_file("api-key-env", "ZW52\r\n")}})
                .authorization,
            "ApiKey ZW52");
}

TEST(CollectorConfig, SecretFilesStripOneTrailingLineBreak) {
  const auto key_from = [](const std::string& content) {
    return es_of({kUrl, "--elasticsearch-api-key-file", write_file("key", content)})
        .authorization.value_or("<none>");
  };
  EXPECT_EQ(key_from("abc"), "ApiKey abc");
  EXPECT_EQ(key_from("abc\n"), "ApiKey abc");
  EXPECT_EQ(key_from("abc\r\n"), "ApiKey abc");
  const auto password_from = [](const std::string& content) {
    return es_of({kUrl, "--elasticsearch-username=a", "--elasticsearch-password-file",
                  write_file("pw", content)})
        .authorization.value_or("<none>");
  };
  EXPECT_EQ(password_from("bc\n"), "Basic YTpiYw==");
  EXPECT_EQ(password_from("bc\r\n"), "Basic YTpiYw==");
  EXPECT_EQ(password_from(" bc "), "Basic YTogYmMg");  // other whitespace is part of it
  // Only one line break is removed; what is left is refused, not silently trimmed.
  EXPECT_EQ(error_of({kUrl, "--elasticsearch-username=a", "--elasticsearch-password-file",
                      write_file("pw2", "bc\n\n")}),
            "--elasticsearch-password-file: must not contain control characters or line breaks "
            "(value not shown)");
}

TEST(CollectorConfig, SecretFileErrors) {
  for (const std::string name : {"elasticsearch-api-key-file", "elasticsearch-username-file",
                                 "elasticsearch-password-file"}) {
    SCOPED_TRACE(name);
    const std::string env = "IOT_COLLECTOR_" + [&] {
      std::string upper;
      for (char c : name) upper += c == '-' ? '_' : static_cast<char>(std::toupper(c));
      return upper;
    }();
    const std::string missing = (temp_dir() / "no-such-file").string();
    EXPECT_EQ(error_of({kUrl, "--" + name, missing}),
              "--" + name + ": cannot read '" + missing + "': No such file or directory");
    EXPECT_EQ(error_of({kUrl}, {{env, missing}}),
              env + ": cannot read '" + missing + "': No such file or directory");
    for (const char* content : {"", "\n", "\r\n"}) {
      const std::string empty = write_file("empty", content);
      EXPECT_EQ(error_of({kUrl, "--" + name + "=" + empty}),
                "--" + name + ": '" + empty + "' is empty");
    }
    EXPECT_EQ(error_of({kUrl, "--" + name, temp_dir().string()}),
              "--" + name + ": cannot read '" + temp_dir().string() + "': Is a directory");
  }
  if (geteuid() != 0) {  // root reads anything
    const std::string locked = write_file("locked", "s3cr3t-XYZ\n");
    std::filesystem::permissions(locked, std::filesystem::perms::none);
    EXPECT_EQ(error_of({kUrl, "--elasticsearch-api-key-file", locked}),
              "--elasticsearch-api-key-file: cannot read '" + locked + "': Permission denied");
  }
}

TEST(CollectorConfig, CaFileMustBeReadable) {
  const std::string missing = (temp_dir() / "no-ca.pem").string();
  EXPECT_EQ(error_of({kUrl, "--elasticsearch-ca", missing}),
            "--elasticsearch-ca: cannot read '" + missing + "': No such file or directory");
  EXPECT_EQ(
      error_of({kUrl}, {{"IOT_COLLECTOR_ELASTICSEARCH_CA", missing}}),
      "IOT_COLLECTOR_ELASTICSEARCH_CA: cannot read '" + missing + "': No such file or directory");
  const std::string empty = write_file("empty-ca.pem", "");
  EXPECT_EQ(error_of({kUrl, "--elasticsearch-ca=" + empty}),
            "--elasticsearch-ca: '" + empty + "' is empty");
  EXPECT_EQ(error_of({kUrl, "--elasticsearch-ca=" + temp_dir().string()}),
            "--elasticsearch-ca: cannot read '" + temp_dir().string() + "': Is a directory");
}

TEST(CollectorConfig, AuthenticationCombinationErrors) {
  const std::string key_file = write_file("combo-key", "k\n");
  const std::string user_file = write_file("combo-user", "u\n");
  const std::string password_file = write_file("combo-password", "p\n");
  const std::string methods =
      "--elasticsearch-api-key and --elasticsearch-username/--elasticsearch-password are "
      "different authentications; give one";
  const std::vector<BadCase> cases = {
      {{kUrl, "--elasticsearch-api-key=k", "--elasticsearch-api-key-file", key_file},
       {},
       "--elasticsearch-api-key and --elasticsearch-api-key-file are the same setting; give one"},
      {{kUrl, "--elasticsearch-username=u", "--elasticsearch-username-file", user_file,
        "--elasticsearch-password=p"},
       {},
       "--elasticsearch-username and --elasticsearch-username-file are the same setting; give "
       "one"},
      {{kUrl, "--elasticsearch-username=u", "--elasticsearch-password=p"},
       {{"IOT_COLLECTOR_ELASTICSEARCH_PASSWORD_FILE", password_file}},
       "--elasticsearch-password and --elasticsearch-password-file are the same setting; give "
       "one"},
      {{kUrl, "--elasticsearch-api-key=k", "--elasticsearch-username=u",
        "--elasticsearch-password=p"},
       {},
       methods},
      {{kUrl, "--elasticsearch-api-key=k", "--elasticsearch-username=u"}, {}, methods},
      {{kUrl, "--elasticsearch-api-key=k", "--elasticsearch-password=p"}, {}, methods},
      {{kUrl},
       {{"IOT_COLLECTOR_ELASTICSEARCH_API_KEY_FILE", key_file},
        {"IOT_COLLECTOR_ELASTICSEARCH_USERNAME_FILE", user_file},
        {"IOT_COLLECTOR_ELASTICSEARCH_PASSWORD_FILE", password_file}},
       methods},
      {{kUrl, "--elasticsearch-password=p"},
       {},
       "--elasticsearch-password needs --elasticsearch-username"},
      {{kUrl, "--elasticsearch-password-file", password_file},
       {},
       "--elasticsearch-password needs --elasticsearch-username"},
      {{kUrl, "--elasticsearch-username=u"},
       {},
       "--elasticsearch-username needs --elasticsearch-password"},
      {{kUrl},
       {{"IOT_COLLECTOR_ELASTICSEARCH_USERNAME_FILE", user_file}},
       "--elasticsearch-username needs --elasticsearch-password"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.message);
    EXPECT_EQ(error_of(c.args, c.env), c.message);
  }
}

TEST(CollectorConfig, ElasticsearchBadValuesHaveExactMessages) {
  const std::vector<BadCase> cases = {
      {{"--elasticsearch-url="}, {}, "--elasticsearch-url: at least one URL is required"},
      {{"--elasticsearch-url", "ftp://es"},
       {},
       "--elasticsearch-url: entry 1 'ftp://es': scheme must be http or https"},
      {{"--elasticsearch-url=http://a,"}, {}, "--elasticsearch-url: entry 2 is empty"},
      {{},
       {{"IOT_COLLECTOR_ELASTICSEARCH_URL", "es:9200"}},
       "IOT_COLLECTOR_ELASTICSEARCH_URL: entry 1 'es:9200': expected "
       "http[s]://host[:port][/prefix]"},
      {{"--elasticsearch-api-key="}, {}, "--elasticsearch-api-key: must not be empty"},
      {{"--elasticsearch-username="}, {}, "--elasticsearch-username: must not be empty"},
      {{"--elasticsearch-password="}, {}, "--elasticsearch-password: must not be empty"},
      {{"--elasticsearch-api-key=a b"},
       {},
       "--elasticsearch-api-key: expected printable ASCII without spaces or line breaks (value "
       "not shown)"},
      {{"--elasticsearch-username=a:b"},
       {},
       "--elasticsearch-username: must not contain ':' (value not shown)"},
      {{"--elasticsearch-password=a\tb"},
       {},
       "--elasticsearch-password: must not contain control characters or line breaks (value not "
       "shown)"},
      {{},
       {{"IOT_COLLECTOR_ELASTICSEARCH_USERNAME", "a\nb"}},
       "IOT_COLLECTOR_ELASTICSEARCH_USERNAME: must not contain control characters or line breaks "
       "(value not shown)"},
      {{"--elasticsearch-api-key"}, {}, "--elasticsearch-api-key: missing value (expected KEY)"},
      {{"--elasticsearch-timeout-ms=99"},
       {},
       "--elasticsearch-timeout-ms: expected an integer in 100..600000, got '99'"},
      {{"--elasticsearch-timeout-ms=600001"},
       {},
       "--elasticsearch-timeout-ms: expected an integer in 100..600000, got '600001'"},
      {{"--elasticsearch-connect-timeout-ms=99"},
       {},
       "--elasticsearch-connect-timeout-ms: expected an integer in 100..60000, got '99'"},
      {{"--elasticsearch-connect-timeout-ms=60001"},
       {},
       "--elasticsearch-connect-timeout-ms: expected an integer in 100..60000, got '60001'"},
      {{"--bulk-max-docs=0"}, {}, "--bulk-max-docs: expected an integer in 1..100000, got '0'"},
      {{"--bulk-max-docs=100001"},
       {},
       "--bulk-max-docs: expected an integer in 1..100000, got '100001'"},
      {{"--bulk-max-bytes=1023"},
       {},
       "--bulk-max-bytes: expected an integer in 1024..104857600, got '1023'"},
      {{"--bulk-max-bytes=104857601"},
       {},
       "--bulk-max-bytes: expected an integer in 1024..104857600, got '104857601'"},
      {{"--bulk-linger-ms=60001"},
       {},
       "--bulk-linger-ms: expected an integer in 0..60000, got '60001'"},
      {{"--bulk-linger-ms=-1"}, {}, "--bulk-linger-ms: expected an integer in 0..60000, got '-1'"},
      {{"--bulk-concurrency=0"}, {}, "--bulk-concurrency: expected an integer in 1..64, got '0'"},
      {{"--bulk-concurrency=65"}, {}, "--bulk-concurrency: expected an integer in 1..64, got '65'"},
      {{"--ack=none"}, {}, "--ack: expected stored|accepted, got 'none'"},
      {{"--ack=STORED"}, {}, "--ack: expected stored|accepted, got 'STORED'"},
      {{}, {{"IOT_COLLECTOR_ACK", "x"}}, "IOT_COLLECTOR_ACK: expected stored|accepted, got 'x'"},
      {{"--ack-timeout-ms=99"},
       {},
       "--ack-timeout-ms: expected an integer in 100..600000, got '99'"},
      {{"--ack-timeout-ms=600001"},
       {},
       "--ack-timeout-ms: expected an integer in 100..600000, got '600001'"},
      {{"--max-buffered-bytes=1048575"},
       {},
       "--max-buffered-bytes: expected an integer in 1048576..17179869184, got '1048575'"},
      {{"--max-buffered-bytes=17179869185"},
       {},
       "--max-buffered-bytes: expected an integer in 1048576..17179869184, got '17179869185'"},
      {{"--retention-days=0"}, {}, "--retention-days: expected an integer in 1..36500, got '0'"},
      {{"--retention-days=36501"},
       {},
       "--retention-days: expected an integer in 1..36500, got '36501'"},
      {{"--self-metrics-interval=86401"},
       {},
       "--self-metrics-interval: expected an integer in 0..86400, got '86401'"},
      {{"--self-metrics-interval=1m"},
       {},
       "--self-metrics-interval: expected an integer in 0..86400, got '1m'"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.args.empty() ? c.env.begin()->first : c.args.front());
    EXPECT_EQ(error_of(c.args, c.env), c.message);
  }
}

// Self-metrics documents go to Elasticsearch: the flag (or its variable) needs that sink.
TEST(CollectorConfig, SelfMetricsIntervalNeedsTheElasticsearchSink) {
  EXPECT_EQ(config_of({kUrl, "--self-metrics-interval=86400"}).self_metrics_interval, 86400s);
  EXPECT_EQ(config_of({kUrl, "--self-metrics-interval", "30"}).self_metrics_interval, 30s);
  EXPECT_EQ(
      config_of({kUrl}, {{"IOT_COLLECTOR_SELF_METRICS_INTERVAL", "10"}}).self_metrics_interval,
      10s);
  const std::string message =
      "--self-metrics-interval: the documents go to Elasticsearch; give --elasticsearch-url";
  EXPECT_EQ(error_of({"--self-metrics-interval=10"}, {}), message);
  EXPECT_EQ(error_of({}, {{"IOT_COLLECTOR_SELF_METRICS_INTERVAL", "10"}}), message);
  EXPECT_EQ(config_of({"--self-metrics-interval=0"}).self_metrics_interval, 0s)
      << "0 (off) is fine with the file sink";
}

// Credentials must never reach stderr or logs: every error involving them leaves them out.
TEST(CollectorConfig, SecretsNeverAppearInErrors) {
  const std::string secret = "s3cr3t-XYZ";
  const std::string basic = "ZWxhc3RpYzpzM2NyM3QtWFla";  // base64("elastic:s3cr3t-XYZ")
  const std::string secret_file = write_file("secret", secret + "\n");
  const std::string bad_secret_file = write_file("bad-secret", secret + "\n\n");
  const std::vector<std::pair<std::vector<std::string>, cli::Environment>> cases = {
      {{kUrl, "--elasticsearch-password", secret}, {}},
      {{kUrl, "--elasticsearch-password=" + secret}, {}},
      {{kUrl}, {{"IOT_COLLECTOR_ELASTICSEARCH_PASSWORD", secret}}},
      {{kUrl, "--elasticsearch-username", secret}, {}},
      {{kUrl, "--elasticsearch-password-file", secret_file}, {}},
      {{kUrl, "--elasticsearch-username=elastic", "--elasticsearch-password=" + secret,
        "--elasticsearch-api-key=" + secret},
       {}},
      {{kUrl, "--elasticsearch-username=elastic", "--elasticsearch-password=" + secret,
        "--elasticsearch-password-file", secret_file},
       {}},
      {{kUrl, "--elasticsearch-api-key", secret, "--elasticsearch-api-key-file", secret_file}, {}},
      {{kUrl, "--elasticsearch-username=elastic", "--elasticsearch-password=" + secret,
        "--sink=file:/tmp/x"},
       {}},
      {{kUrl, "--elasticsearch-username=elastic", "--elasticsearch-password=" + secret,
        "--bulk-max-bytes=104857600"},
       {}},
      {{kUrl, "--elasticsearch-username=elastic", "--elasticsearch-password=" + secret,
        "--drain-delay=10"},
       {}},
      {{kUrl, "--elasticsearch-api-key=" + secret + " x"}, {}},
      {{kUrl, "--elasticsearch-password=" + secret + "\n"}, {}},
      {{kUrl, "--elasticsearch-username=" + secret + ":"}, {}},
      {{kUrl, "--elasticsearch-username=elastic", "--elasticsearch-password-file", bad_secret_file},
       {}},
      {{kUrl, "--elasticsearch-api-key-file", bad_secret_file}, {}},
      {{"--elasticsearch-url=https://elastic:" + secret + "@es:9200"}, {}},
      {{"--elasticsearch-url=http://ok:9200,https://elastic:" + secret + "@es/x"}, {}},
      {{}, {{"IOT_COLLECTOR_ELASTICSEARCH_URL", "https://elastic:" + secret + "@es:9200"}}},
  };
  for (const auto& [args, env] : cases) {
    const std::string message = error_of(args, env);
    SCOPED_TRACE(message);
    EXPECT_NE(message, "<no error>");
    EXPECT_THAT(message, ::testing::Not(HasSubstr(secret)));
    EXPECT_THAT(message, ::testing::Not(HasSubstr(basic)));
    EXPECT_THAT(message, ::testing::Not(HasSubstr("s3cr3t")));
  }
}

TEST(CollectorConfig, SecretsNeverAppearInHelp) {
  const std::string secret = "s3cr3t-XYZ";
  const ParseResult result =
      parse({"--elasticsearch-username=elastic", "--elasticsearch-password", secret,
             "--elasticsearch-api-key=" + secret, "--help"},
            {{"IOT_COLLECTOR_ELASTICSEARCH_PASSWORD", secret},
             {"IOT_COLLECTOR_ELASTICSEARCH_API_KEY", secret},
             {"IOT_COLLECTOR_ELASTICSEARCH_PASSWORD_FILE", write_file("help-secret", secret)}});
  ASSERT_TRUE(std::holds_alternative<ExitNow>(result));
  EXPECT_THAT(std::get<ExitNow>(result).text, ::testing::Not(HasSubstr("s3cr3t")));
  // And the secret flags show no default at all.
  const std::string help = std::get<ExitNow>(result).text;
  for (const char* flag :
       {"elasticsearch-api-key", "elasticsearch-api-key-file", "elasticsearch-username",
        "elasticsearch-username-file", "elasticsearch-password", "elasticsearch-password-file"}) {
    const auto at = help.find(std::string("  --") + flag + " ");
    ASSERT_NE(at, std::string::npos) << flag;
    const auto next = help.find("\n  --", at + 1);
    EXPECT_THAT(help.substr(at, next - at), ::testing::Not(HasSubstr("default:"))) << flag;
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

TEST(CollectorConfig, RateLimitAndBurst) {
  const CollectorConfig c = config_of({"--rate-limit", "5", "--rate-burst", "7"});
  ASSERT_TRUE(c.rate_limit.has_value());
  EXPECT_EQ(c.rate_limit->events_per_second, 5.0);
  EXPECT_EQ(c.rate_limit->burst, 7U);
  const CollectorConfig from_env =
      config_of({}, {{"IOT_COLLECTOR_RATE_LIMIT", "0.25"}, {"IOT_COLLECTOR_RATE_BURST", "1"}});
  ASSERT_TRUE(from_env.rate_limit.has_value());
  EXPECT_EQ(from_env.rate_limit->events_per_second, 0.25);
  EXPECT_EQ(from_env.rate_limit->burst, 1U);
  EXPECT_EQ(config_of({"--rate-limit=1000000", "--rate-burst=1000000"}).rate_limit->burst,
            1000000U);
}

TEST(CollectorConfig, RateBurstDefaultsToTwiceTheRateRoundedUpAtLeastOne) {
  const std::vector<std::pair<std::string, std::uint64_t>> cases = {
      {"5", 10}, {"0.001", 1}, {"0.5", 1}, {"0.6", 2}, {"2.25", 5}, {"1000000", 2000000}};
  for (const auto& [rate, burst] : cases) {
    const CollectorConfig c = config_of({"--rate-limit", rate});
    ASSERT_TRUE(c.rate_limit.has_value()) << rate;
    EXPECT_EQ(c.rate_limit->burst, burst) << rate;
  }
}

TEST(CollectorConfig, RateLimitZeroIsOff) {
  EXPECT_FALSE(config_of({"--rate-limit=0"}).rate_limit.has_value());
  EXPECT_FALSE(config_of({"--rate-limit=0.000"}).rate_limit.has_value());
  EXPECT_FALSE(config_of({}, {{"IOT_COLLECTOR_RATE_LIMIT", "0"}}).rate_limit.has_value());
}

TEST(CollectorConfig, RateLimitBadValuesHaveExactMessages) {
  const std::string expected = "expected 0 (off) or a decimal number in 0.001..1000000, got ";
  for (const char* bad :
       {"", "-1", "1e3", "5/s", ".5", "5.", "0.0009", "1000000.5", "1000001", "nan", "inf", " 5"}) {
    EXPECT_EQ(error_of({std::string("--rate-limit=") + bad}),
              "--rate-limit: " + expected + "'" + bad + "'");
  }
  EXPECT_EQ(error_of({}, {{"IOT_COLLECTOR_RATE_LIMIT", "x"}}),
            "IOT_COLLECTOR_RATE_LIMIT: " + expected + "'x'");
  EXPECT_EQ(error_of({"--rate-limit=1", "--rate-burst=0"}),
            "--rate-burst: expected an integer in 1..1000000, got '0'");
  EXPECT_EQ(error_of({"--rate-limit=1", "--rate-burst=1000001"}),
            "--rate-burst: expected an integer in 1..1000000, got '1000001'");
  EXPECT_EQ(error_of({"--rate-limit=1", "--rate-burst=2.5"}),
            "--rate-burst: expected an integer in 1..1000000, got '2.5'");
}

TEST(CollectorConfig, RateBurstWithoutRateLimitIsAUsageError) {
  const std::string message = "--rate-burst needs --rate-limit (without a rate there is no limit)";
  EXPECT_EQ(error_of({"--rate-burst=5"}), message);
  EXPECT_EQ(error_of({"--rate-burst=5", "--rate-limit=0"}), message);
  EXPECT_EQ(error_of({}, {{"IOT_COLLECTOR_RATE_BURST", "5"}}), message);
}

TEST(CollectorConfig, DtlsIsOnWithAPskFile) {
  EXPECT_FALSE(config_of({}).dtls.has_value());
  // An empty variable (compose passes one through) leaves DTLS off.
  EXPECT_FALSE(config_of({}, {{"IOT_COLLECTOR_PSK_FILE", ""}}).dtls.has_value());
  const CollectorConfig defaults = config_of({"--psk-file", "/etc/psk.txt"});
  ASSERT_TRUE(defaults.dtls.has_value());
  EXPECT_EQ(defaults.dtls->psk_file, "/etc/psk.txt");
  EXPECT_EQ(defaults.dtls->listen.to_string(), "0.0.0.0:5684");
  EXPECT_FALSE(defaults.dtls->required);
  EXPECT_EQ(defaults.dtls->max_sessions, 2000U);
  EXPECT_EQ(defaults.dtls->idle_timeout, std::chrono::seconds(300));
  const CollectorConfig set = config_of({}, {{"IOT_COLLECTOR_PSK_FILE", "/k"},
                                             {"IOT_COLLECTOR_LISTEN_DTLS", "127.0.0.1:6000"},
                                             {"IOT_COLLECTOR_REQUIRE_DTLS", "true"},
                                             {"IOT_COLLECTOR_DTLS_MAX_SESSIONS", "1"},
                                             {"IOT_COLLECTOR_DTLS_IDLE_TIMEOUT", "86400"}});
  ASSERT_TRUE(set.dtls.has_value());
  EXPECT_EQ(set.dtls->listen.to_string(), "127.0.0.1:6000");
  EXPECT_TRUE(set.dtls->required);
  EXPECT_EQ(set.dtls->max_sessions, 1U);
  EXPECT_EQ(set.dtls->idle_timeout, std::chrono::seconds(86400));
}

TEST(CollectorConfig, DtlsMistakesAreUsageErrors) {
  EXPECT_EQ(error_of({"--require-dtls"}), "--require-dtls needs --psk-file (the devices' keys)");
  EXPECT_EQ(error_of({"--listen-dtls", "0.0.0.0:5684"}),
            "--listen-dtls needs --psk-file (the devices' keys)");
  EXPECT_EQ(error_of({"--psk-file", "k", "--listen", "0.0.0.0:5684"}),
            "--listen and --listen-dtls name the same address");
  EXPECT_NE(error_of({"--psk-file", "k", "--dtls-max-sessions", "0"}), "<no error>");
  EXPECT_NE(error_of({"--psk-file", "k", "--dtls-idle-timeout", "9"}), "<no error>");
  // With plain CoAP closed, its port may be reused.
  EXPECT_TRUE(config_of({"--psk-file", "k", "--require-dtls", "--listen", "0.0.0.0:5684"})
                  .dtls.has_value());
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
  for (const EsFlagCase& f : es_flag_cases()) {
    EXPECT_THAT(exit.text, HasSubstr("  --" + f.flag + " ")) << f.flag;
    EXPECT_THAT(exit.text, HasSubstr("env: " + f.env + "\n")) << f.flag;
  }
  for (const BoolFlagCase& f : es_bool_flag_cases()) {
    EXPECT_THAT(exit.text, HasSubstr("  --" + f.flag + "[=true|false]\n")) << f.flag;
    EXPECT_THAT(exit.text, HasSubstr("env: " + f.env + "\n")) << f.flag;
  }
  for (const char* env :
       {"IOT_COLLECTOR_ELASTICSEARCH_USERNAME", "IOT_COLLECTOR_ELASTICSEARCH_USERNAME_FILE",
        "IOT_COLLECTOR_ELASTICSEARCH_PASSWORD", "IOT_COLLECTOR_ELASTICSEARCH_PASSWORD_FILE"}) {
    EXPECT_THAT(exit.text, HasSubstr(std::string("env: ") + env + "\n"));
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
                            "--self-metrics-interval SECONDS",
                            "--rate-limit EVENTS_PER_S",
                            "--rate-burst N",
                            "default: 2 x --rate-limit, at least 1, env: IOT_COLLECTOR_RATE_BURST",
                            "--elasticsearch-url URL[,URL...]",
                            "--elasticsearch-api-key KEY",
                            "--elasticsearch-api-key-file PATH",
                            "--elasticsearch-username USER",
                            "--elasticsearch-username-file PATH",
                            "--elasticsearch-password PASSWORD",
                            "--elasticsearch-password-file PATH",
                            "--elasticsearch-ca FILE",
                            "--elasticsearch-timeout-ms MS",
                            "default: 10000",
                            "--elasticsearch-connect-timeout-ms MS",
                            "default: 2000",
                            "--bulk-max-docs N",
                            "default: 1000",
                            "--bulk-max-bytes BYTES",
                            "default: 5242880",
                            "--bulk-linger-ms MS",
                            "default: 20",
                            "--bulk-concurrency N",
                            "default: 2",
                            "--ack MODE",
                            "default: stored",
                            "--ack-timeout-ms MS",
                            "default: 5000",
                            "--max-buffered-bytes BYTES",
                            "default: 16777216",
                            "--retention-days N",
                            "default: 30",
                            "default: true, env: IOT_COLLECTOR_ELASTICSEARCH_BOOTSTRAP",
                            "default: false, env: IOT_COLLECTOR_BULK_GZIP",
                            "default: false, env: IOT_COLLECTOR_ELASTICSEARCH_INSECURE",
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
