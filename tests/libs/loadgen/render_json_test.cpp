#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "loadgen/load_report.hpp"

#ifndef IOT_LOAD_REPORT_SCHEMA
#error "IOT_LOAD_REPORT_SCHEMA must name libs/loadgen/load-report.schema.json"
#endif

namespace iot::loadgen {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::value parse(const std::string& text) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << text;
  return value;
}

const json::value& schema() {
  static const json::value loaded = [] {
    std::ifstream file(IOT_LOAD_REPORT_SCHEMA);
    std::stringstream text;
    text << file.rdbuf();
    return parse(text.str());
  }();
  return loaded;
}

bool has_type(const json::value& value, std::string_view type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "null") return value.is_null();
  if (type == "boolean") return value.is_bool();
  if (type == "integer") return value.is_int64() || value.is_uint64();
  if (type == "number") return value.is_number();
  ADD_FAILURE() << "unknown type " << type;
  return false;
}

// A JSON string as std::string, anything else in angle brackets (so a comparison fails visibly).
std::string text_of(const json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : "<" + json::serialize(value) + ">";
}

double as_double(const json::value& value) {
  return value.to_number<double>();
}

// The subset of JSON Schema 2020-12 that load-report.schema.json uses. A keyword outside it
// fails the test, so the schema cannot grow a rule this check silently ignores. Returns the
// problems found (empty: valid).
std::vector<std::string> validate(const json::value& value, const json::object& rule,
                                  const std::string& where) {
  static const std::set<std::string_view> kAnnotations = {"$schema", "title", "description"};
  std::vector<std::string> problems;
  auto fail = [&](const std::string& message) { problems.push_back(where + ": " + message); };
  auto merge = [&](const std::vector<std::string>& more) {
    problems.insert(problems.end(), more.begin(), more.end());
  };
  for (const auto& [keyword, argument] : rule) {
    if (kAnnotations.contains(keyword)) continue;
    if (keyword == "type") {
      if (!has_type(value, argument.as_string()))
        fail("not of type " + std::string(argument.as_string()));
    } else if (keyword == "const") {
      if (value != argument) fail("not " + json::serialize(argument));
    } else if (keyword == "enum") {
      bool found = false;
      for (const json::value& option : argument.as_array()) found = found || option == value;
      if (!found) fail("not one of " + json::serialize(argument));
    } else if (keyword == "minimum") {
      if (value.is_number() && as_double(value) < as_double(argument)) fail("below minimum");
    } else if (keyword == "maximum") {
      if (value.is_number() && as_double(value) > as_double(argument)) fail("above maximum");
    } else if (keyword == "pattern") {
      if (value.is_string() && !std::regex_search(std::string(value.as_string()),
                                                  std::regex(std::string(argument.as_string())))) {
        fail("does not match " + std::string(argument.as_string()));
      }
    } else if (keyword == "anyOf") {
      bool any = false;
      for (const json::value& option : argument.as_array()) {
        any = any || validate(value, option.as_object(), where).empty();
      }
      if (!any) fail("matches no anyOf branch");
    } else if (keyword == "allOf") {
      for (const json::value& part : argument.as_array())
        merge(validate(value, part.as_object(), where));
    } else if (keyword == "if") {
      if (validate(value, argument.as_object(), where).empty()) {
        merge(validate(value, rule.at("then").as_object(), where));
      }
    } else if (keyword == "then") {
      // applied by "if"
    } else if (keyword == "required") {
      if (!value.is_object()) continue;
      for (const json::value& key : argument.as_array()) {
        if (!value.as_object().contains(key.as_string())) {
          fail("missing required " + std::string(key.as_string()));
        }
      }
    } else if (keyword == "properties") {
      if (!value.is_object()) continue;
      for (const auto& [key, member] : value.as_object()) {
        if (const json::value* property = argument.as_object().if_contains(key)) {
          merge(validate(member, property->as_object(), where + "." + std::string(key)));
        }
      }
    } else if (keyword == "patternProperties") {
      if (!value.is_object()) continue;
      for (const auto& [key, member] : value.as_object()) {
        for (const auto& [pattern, property] : argument.as_object()) {
          if (std::regex_search(std::string(key), std::regex(std::string(pattern)))) {
            merge(validate(member, property.as_object(), where + "." + std::string(key)));
          }
        }
      }
    } else if (keyword == "additionalProperties") {
      if (!value.is_object()) continue;
      EXPECT_EQ(argument, json::value(false)) << "only additionalProperties: false is checked";
      for (const auto& [key, member] : value.as_object()) {
        bool declared = false;
        if (const json::value* properties = rule.if_contains("properties")) {
          declared = properties->as_object().contains(key);
        }
        if (const json::value* patterns = rule.if_contains("patternProperties")) {
          for (const auto& [pattern, property] : patterns->as_object()) {
            declared =
                declared || std::regex_search(std::string(key), std::regex(std::string(pattern)));
          }
        }
        if (!declared) fail("undeclared property " + std::string(key));
      }
    } else if (keyword == "items") {
      if (!value.is_array()) continue;
      std::size_t index = 0;
      for (const json::value& item : value.as_array()) {
        merge(validate(item, argument.as_object(), where + "[" + std::to_string(index++) + "]"));
      }
    } else {
      ADD_FAILURE() << "schema keyword " << keyword << " is not understood by this test";
    }
  }
  return problems;
}

void expect_valid(const std::string& rendered) {
  const json::value report = parse(rendered);
  const std::vector<std::string> problems = validate(report, schema().as_object(), "$");
  for (const std::string& problem : problems) ADD_FAILURE() << problem << "\n" << rendered;
}

// Every key the schema requires, in every nested object it describes, is in the rendered JSON
// (the check the brief asks for by name, independent of the validator above).
void expect_required_keys(const json::value& rendered, const json::object& rule,
                          const std::string& where) {
  if (const json::value* required = rule.if_contains("required")) {
    ASSERT_TRUE(rendered.is_object()) << where;
    for (const json::value& key : required->as_array()) {
      EXPECT_TRUE(rendered.as_object().contains(key.as_string()))
          << where << " lacks " << key.as_string();
    }
  }
  if (const json::value* properties = rule.if_contains("properties");
      properties && rendered.is_object()) {
    for (const auto& [key, property] : properties->as_object()) {
      if (const json::value* member = rendered.as_object().if_contains(key)) {
        expect_required_keys(*member, property.as_object(), where + "." + std::string(key));
      }
    }
  }
  if (const json::value* items = rule.if_contains("items"); items && rendered.is_array()) {
    for (const json::value& item : rendered.as_array()) {
      expect_required_keys(item, items->as_object(), where + "[]");
    }
  }
}

LoadReport full_report() {
  LoadReport report;
  report.run_id = "run \"7\"\n<b>";
  report.target = "[::1]:5683";
  report.mode = OpenLoop{2500.5};
  report.threads = 2;
  report.devices = 100;
  report.batch = 5;
  report.payload_bytes = 700;
  report.started_at = std::chrono::system_clock::time_point(1'795'341'600'007ms);
  report.duration_seconds = 2.5;
  report.requests_sent = 6251;
  report.responses = {{"2.01", 6200}, {"5.03", 40}};
  report.timeouts = 11;
  report.retransmissions = 3;
  report.send_errors = 0;
  report.events_sent = 31'255;
  HdrHistogram latency_us;
  for (std::uint64_t value = 100; value < 6340; ++value) latency_us.record(value);
  report.latency = summarize_latency(latency_us);
  report.per_second = {
      {.second = 0, .sent = 2500, .ok = 2480, .errors = 20, .p50_ms = 1.5, .p99_ms = 4.25},
      {.second = 1, .sent = 2500, .ok = 2500, .errors = 0, .p50_ms = 1.25, .p99_ms = 3.0},
      {.second = 2, .sent = 1251, .ok = 0, .errors = 31, .p50_ms = {}, .p99_ms = {}},
  };
  return report;
}

TEST(RenderJsonTest, SchemaFileIsAnObjectSchemaOfDraft2020) {
  const json::object& rule = schema().as_object();
  EXPECT_EQ(text_of(rule.at("$schema")), "https://json-schema.org/draft/2020-12/schema");
  EXPECT_EQ(rule.at("additionalProperties"), json::value(false));
  EXPECT_EQ(text_of(rule.at("properties").at("schema").at("const")), kLoadReportSchema);
}

TEST(RenderJsonTest, HasEveryRequiredFieldRecursively) {
  const json::value rendered = parse(render_json(full_report()));
  expect_required_keys(rendered, schema().as_object(), "$");
  // And nothing the schema does not declare, at the top level.
  for (const auto& [key, member] : rendered.as_object()) {
    EXPECT_TRUE(schema().at("properties").as_object().contains(key)) << key;
  }
}

TEST(RenderJsonTest, FullReportValidatesAgainstTheSchema) {
  expect_valid(render_json(full_report()));
}

TEST(RenderJsonTest, EmptyAndClosedLoopReportsValidate) {
  expect_valid(render_json(LoadReport{}));
  LoadReport closed;
  closed.mode = ClosedLoop{32};
  closed.message_type = MessageType::non_confirmable;
  expect_valid(render_json(closed));
}

TEST(RenderJsonTest, SchemaRejectsWhatTheRendererMustNotProduce) {
  // The validator above is only worth something if it can fail.
  json::value report = parse(render_json(full_report()));
  report.as_object()["surprise"] = 1;
  report.as_object()["per_second"].as_array()[0].as_object().erase("p99_ms");
  report.as_object()["concurrency"] = 3;  // open loop with a concurrency
  report.as_object()["responses"].as_object()["OK"] = 1;
  const std::vector<std::string> problems = validate(report, schema().as_object(), "$");
  const std::string all = [&] {
    std::string joined;
    for (const std::string& problem : problems) joined += problem + "\n";
    return joined;
  }();
  EXPECT_NE(all.find("undeclared property surprise"), std::string::npos) << all;
  EXPECT_NE(all.find("$.per_second[0]: missing required p99_ms"), std::string::npos) << all;
  EXPECT_NE(all.find("$.concurrency: not of type null"), std::string::npos) << all;
  EXPECT_NE(all.find("$.responses: undeclared property OK"), std::string::npos) << all;
}

TEST(RenderJsonTest, ValuesRoundTrip) {
  const LoadReport report = full_report();
  const json::value rendered = parse(render_json(report));
  const json::object& root = rendered.as_object();
  EXPECT_EQ(text_of(root.at("schema")), "iotc-load-report/1");
  EXPECT_EQ(text_of(root.at("run_id")), report.run_id)
      << "quotes, newlines and markup survive JSON";
  EXPECT_EQ(text_of(root.at("target")), "[::1]:5683");
  EXPECT_EQ(text_of(root.at("mode")), "open");
  EXPECT_EQ(root.at("rate_per_second").to_number<double>(), 2500.5);
  EXPECT_TRUE(root.at("concurrency").is_null());
  EXPECT_EQ(text_of(root.at("device_spread")), "ports");
  EXPECT_EQ(text_of(root.at("message_type")), "CON");
  EXPECT_EQ(text_of(root.at("started_at")), "2026-11-22T10:00:00.007Z");
  EXPECT_EQ(root.at("duration_seconds").to_number<double>(), 2.5);
  EXPECT_EQ(root.at("requests_sent").to_number<std::uint64_t>(), 6251u);
  EXPECT_EQ(root.at("responses").at("2.01").to_number<std::uint64_t>(), 6200u);
  EXPECT_EQ(root.at("responses").at("5.03").to_number<std::uint64_t>(), 40u);
  EXPECT_EQ(root.at("answered").to_number<std::uint64_t>(), 6240u);
  EXPECT_EQ(root.at("ok_responses").to_number<std::uint64_t>(), 6200u);
  EXPECT_EQ(root.at("events_sent").to_number<std::uint64_t>(), 31'255u);
  EXPECT_DOUBLE_EQ(root.at("throughput_per_second").to_number<double>(), 6240 / 2.5);
  EXPECT_DOUBLE_EQ(root.at("error_rate").to_number<double>(), 51.0 / 6251.0);
  EXPECT_EQ(root.at("latency_ms").at("samples").to_number<std::uint64_t>(), 6240u);
  EXPECT_DOUBLE_EQ(root.at("latency_ms").at("p99_9").to_number<double>(), report.latency.p99_9_ms);
  const json::array& seconds = root.at("per_second").as_array();
  ASSERT_EQ(seconds.size(), 3u);
  EXPECT_EQ(seconds[0].at("p99_ms").to_number<double>(), 4.25);
  EXPECT_TRUE(seconds[2].at("p50_ms").is_null());
  EXPECT_EQ(seconds[2].at("errors").to_number<std::uint64_t>(), 31u);
}

TEST(RenderJsonTest, DevicesByLoopbackAddressSaySo) {
  LoadReport report = full_report();
  report.devices_by_address = true;
  const std::string rendered = render_json(report);
  expect_valid(rendered);
  EXPECT_EQ(text_of(parse(rendered).at("device_spread")), "addresses");
}

TEST(RenderJsonTest, ClosedLoopHasConcurrencyAndNoRate) {
  LoadReport report;
  report.mode = ClosedLoop{64};
  const json::value rendered = parse(render_json(report));
  EXPECT_EQ(text_of(rendered.at("mode")), "closed");
  EXPECT_EQ(rendered.at("concurrency").to_number<std::uint64_t>(), 64u);
  EXPECT_TRUE(rendered.at("rate_per_second").is_null());
  EXPECT_EQ(text_of(rendered.at("started_at")), "1970-01-01T00:00:00.000Z");
  EXPECT_TRUE(rendered.at("per_second").as_array().empty());
}

TEST(RenderJsonTest, NonFiniteNumbersStayValidJson) {
  LoadReport report;
  report.duration_seconds = std::numeric_limits<double>::quiet_NaN();
  report.mode = OpenLoop{std::numeric_limits<double>::infinity()};
  report.per_second = {{.second = 0, .p50_ms = std::numeric_limits<double>::infinity()}};
  expect_valid(render_json(report));
}

// A DTLS run carries its handshakes; a plain run has "handshakes": null. Both validate.
TEST(RenderJsonTest, HandshakesOfADtlsRunValidateAndRoundTrip) {
  LoadReport report = full_report();
  EXPECT_TRUE(parse(render_json(report)).at("handshakes").is_null());
  HdrHistogram handshake_us;
  for (std::uint64_t value = 1000; value < 1100; ++value) handshake_us.record(value);
  report.handshakes = HandshakeSummary{.started = 102,
                                       .established = 100,
                                       .failed = 2,
                                       .sessions_closed = 1,
                                       .time = summarize_latency(handshake_us),
                                       .client_cpu_ms_per_handshake = 0.25};
  const std::string rendered = render_json(report);
  expect_valid(rendered);
  expect_required_keys(parse(rendered), schema().as_object(), "$");
  const json::value root = parse(rendered);
  const json::value& handshakes = root.at("handshakes");
  EXPECT_EQ(handshakes.at("started").to_number<std::uint64_t>(), 102u);
  EXPECT_EQ(handshakes.at("established").to_number<std::uint64_t>(), 100u);
  EXPECT_EQ(handshakes.at("failed").to_number<std::uint64_t>(), 2u);
  EXPECT_EQ(handshakes.at("sessions_closed").to_number<std::uint64_t>(), 1u);
  EXPECT_DOUBLE_EQ(handshakes.at("rate_per_second").to_number<double>(), 100 / 2.5);
  EXPECT_EQ(handshakes.at("time_ms").at("samples").to_number<std::uint64_t>(), 100u);
  EXPECT_DOUBLE_EQ(handshakes.at("time_ms").at("p99").to_number<double>(),
                   report.handshakes->time.p99_ms);
  EXPECT_DOUBLE_EQ(handshakes.at("client_cpu_ms_per_handshake").to_number<double>(), 0.25);
  EXPECT_DOUBLE_EQ(handshakes.at("before_run_seconds").to_number<double>(), 0.0);

  report.handshakes->before_run_seconds = 0.4;  // iotc load --handshake-first
  const json::value first = parse(render_json(report));
  expect_valid(render_json(report));
  EXPECT_DOUBLE_EQ(first.at("handshakes").at("before_run_seconds").to_number<double>(), 0.4);
  EXPECT_DOUBLE_EQ(first.at("handshakes").at("rate_per_second").to_number<double>(), 100 / 0.4);

  json::value broken = parse(rendered);
  broken.as_object()["handshakes"].as_object().erase("failed");
  EXPECT_FALSE(validate(broken, schema().as_object(), "$").empty());
}

}  // namespace
}  // namespace iot::loadgen
