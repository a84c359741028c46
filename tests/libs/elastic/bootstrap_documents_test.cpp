#include "elastic/bootstrap_documents.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace iot::elastic {
namespace {

namespace json = boost::json;

json::value parse(const std::string& body) {
  json::error_code ec;
  json::value value = json::parse(body, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << body;
  return value;
}

// Follows a path of object keys; fails the test (and returns null) when one is missing.
const json::value& at(const json::value& root, std::initializer_list<std::string_view> path) {
  static const json::value null_value;
  const json::value* value = &root;
  for (const std::string_view key : path) {
    const json::object* object = value->if_object();
    value = object == nullptr ? nullptr : object->if_contains(key);
    if (value == nullptr) {
      ADD_FAILURE() << "missing " << key << " in " << json::serialize(root);
      return null_value;
    }
  }
  return *value;
}

json::value mapping(std::string_view type) {
  return json::object{{"type", type}};
}

json::value keyword_1024() {
  return json::object{{"type", "keyword"}, {"ignore_above", 1024}};
}

TEST(BootstrapNamesTest, DerivedFromDataStream) {
  BootstrapSettings settings;
  EXPECT_EQ(lifecycle_policy_name(settings), "iot-events-policy");
  EXPECT_EQ(dead_letter_stream(settings), "iot-events-dlq");
  settings.data_stream = "plant-7";
  EXPECT_EQ(lifecycle_policy_name(settings), "plant-7-policy");
  EXPECT_EQ(dead_letter_stream(settings), "plant-7-dlq");
  EXPECT_EQ(self_metrics_stream(settings), "plant-7-collector");
}

TEST(LifecyclePolicyTest, DefaultPolicy) {
  const std::string body = lifecycle_policy_body(BootstrapSettings{});
  EXPECT_EQ(body.find_first_of(" \n"), std::string::npos) << "not compact: " << body;
  const json::value policy = parse(body);
  EXPECT_EQ(at(policy, {"policy", "phases", "hot", "actions", "rollover"}),
            (json::object{{"max_age", "1d"}, {"max_primary_shard_size", "50gb"}}));
  EXPECT_EQ(at(policy, {"policy", "phases", "delete", "min_age"}), "30d");
  EXPECT_EQ(at(policy, {"policy", "phases", "delete", "actions"}),
            (json::object{{"delete", json::object{}}}));
  EXPECT_EQ(at(policy, {"policy", "phases"}).as_object().size(), 2u);
}

TEST(LifecyclePolicyTest, CustomSettings) {
  BootstrapSettings settings;
  settings.retention_days = 400;
  settings.rollover_max_age = "7d";
  settings.rollover_max_primary_shard_size = "10gb";
  const json::value policy = parse(lifecycle_policy_body(settings));
  EXPECT_EQ(at(policy, {"policy", "phases", "hot", "actions", "rollover", "max_age"}), "7d");
  EXPECT_EQ(
      at(policy, {"policy", "phases", "hot", "actions", "rollover", "max_primary_shard_size"}),
      "10gb");
  EXPECT_EQ(at(policy, {"policy", "phases", "delete", "min_age"}), "400d");
}

TEST(IndexTemplateTest, StreamPolicyAndPriority) {
  const std::string body = index_template_body(BootstrapSettings{});
  EXPECT_EQ(body.find_first_of(" \n"), std::string::npos) << "not compact: " << body;
  const json::value tpl = parse(body);
  EXPECT_EQ(at(tpl, {"index_patterns"}), (json::array{"iot-events"}));
  EXPECT_EQ(at(tpl, {"data_stream"}), json::object{});
  EXPECT_EQ(at(tpl, {"priority"}), 200);
  EXPECT_EQ(at(tpl, {"template", "settings", "index.lifecycle.name"}), "iot-events-policy");
}

TEST(IndexTemplateTest, FieldMappings) {
  const json::value tpl = parse(index_template_body(BootstrapSettings{}));
  const json::value& properties = at(tpl, {"template", "mappings", "properties"});
  for (const std::string_view name : {"@timestamp", "timestamp", "received_at"}) {
    EXPECT_EQ(at(properties, {name}), mapping("date")) << name;
  }
  for (const std::string_view name : {"namespace", "sender", "origin", "collector"}) {
    EXPECT_EQ(at(properties, {name}), mapping("keyword")) << name;
  }
  EXPECT_EQ(at(properties, {"payload", "properties", "type"}), mapping("keyword"));
  EXPECT_EQ(at(properties, {"payload", "properties", "value"}),
            (json::object{{"type", "object"}, {"enabled", false}}));
  EXPECT_EQ(at(properties, {"value_number"}), mapping("double"));
  EXPECT_EQ(at(properties, {"value_text"}), keyword_1024());
}

TEST(IndexTemplateTest, DynamicTemplatesForOtherPayloadFields) {
  const json::value tpl = parse(index_template_body(BootstrapSettings{}));
  EXPECT_EQ(at(tpl, {"template", "mappings", "date_detection"}), false);
  const json::array& templates = at(tpl, {"template", "mappings", "dynamic_templates"}).as_array();
  // match_mapping_type -> expected mapping; every template must apply to payload fields only.
  int strings = 0;
  int numbers = 0;
  for (const json::value& entry : templates) {
    ASSERT_EQ(entry.as_object().size(), 1u);
    const json::value& body = entry.as_object().begin()->value();
    EXPECT_EQ(at(body, {"path_match"}), "payload.*");
    const json::value& type = at(body, {"match_mapping_type"});
    if (type == "string") {
      ++strings;
      EXPECT_EQ(at(body, {"mapping"}), keyword_1024());
    } else if (type == "long" || type == "double") {
      ++numbers;
      EXPECT_EQ(at(body, {"mapping"}), mapping("double"));
    } else {
      ADD_FAILURE() << "unexpected dynamic template " << json::serialize(entry);
    }
  }
  EXPECT_EQ(strings, 1);
  EXPECT_EQ(numbers, 2);
}

TEST(IndexTemplateTest, NamesFollowTheDataStream) {
  BootstrapSettings settings;
  settings.data_stream = "plant-7";
  const json::value tpl = parse(index_template_body(settings));
  EXPECT_EQ(at(tpl, {"index_patterns"}), (json::array{"plant-7"}));
  EXPECT_EQ(at(tpl, {"template", "settings", "index.lifecycle.name"}), "plant-7-policy");
}

TEST(DeadLetterTemplateTest, StreamPolicyAndPriority) {
  const std::string body = dead_letter_template_body(BootstrapSettings{});
  EXPECT_EQ(body.find_first_of(" \n"), std::string::npos) << "not compact: " << body;
  const json::value tpl = parse(body);
  EXPECT_EQ(at(tpl, {"index_patterns"}), (json::array{"iot-events-dlq"}));
  EXPECT_EQ(at(tpl, {"data_stream"}), json::object{});
  EXPECT_EQ(at(tpl, {"priority"}), 200);
  EXPECT_EQ(at(tpl, {"template", "settings", "index.lifecycle.name"}), "iot-events-policy");
}

TEST(DeadLetterTemplateTest, FieldMappings) {
  const json::value tpl = parse(dead_letter_template_body(BootstrapSettings{}));
  EXPECT_EQ(at(tpl, {"template", "mappings", "dynamic"}), false);
  const json::value& properties = at(tpl, {"template", "mappings", "properties"});
  EXPECT_EQ(at(properties, {"@timestamp"}), mapping("date"));
  EXPECT_EQ(at(properties, {"received_at"}), mapping("date"));
  EXPECT_EQ(at(properties, {"event"}), mapping("text"));
  EXPECT_EQ(at(properties, {"error", "properties", "status"}), mapping("integer"));
  EXPECT_EQ(at(properties, {"error", "properties", "reason", "type"}), "text");
  EXPECT_EQ(at(properties, {"error", "properties", "reason", "fields", "keyword"}),
            parse(R"({"type":"keyword","ignore_above":1024})"));
  for (const std::string_view name : {"collector", "namespace", "sender"}) {
    EXPECT_EQ(at(properties, {name}), mapping("keyword")) << name;
  }
}

TEST(DeadLetterTemplateTest, PatternsNeverOverlap) {
  // The main template's pattern is the exact stream name, so it cannot capture "<stream>-dlq".
  const json::value main = parse(index_template_body(BootstrapSettings{}));
  const json::value dlq = parse(dead_letter_template_body(BootstrapSettings{}));
  const std::string_view main_pattern = at(main, {"index_patterns"}).as_array()[0].as_string();
  const std::string_view dlq_pattern = at(dlq, {"index_patterns"}).as_array()[0].as_string();
  EXPECT_EQ(main_pattern.find('*'), std::string_view::npos);
  EXPECT_EQ(dlq_pattern.find('*'), std::string_view::npos);
  EXPECT_NE(main_pattern, dlq_pattern);
}

TEST(SelfMetricsTemplateTest, StreamPolicyAndEveryReportedField) {
  const json::value tpl = parse(self_metrics_template_body(BootstrapSettings{}));
  EXPECT_EQ(at(tpl, {"index_patterns"}), (json::array{"iot-events-collector"}));
  EXPECT_EQ(at(tpl, {"data_stream"}), json::object{});
  EXPECT_EQ(at(tpl, {"template", "settings", "index.lifecycle.name"}), "iot-events-policy");
  EXPECT_EQ(at(tpl, {"template", "mappings", "dynamic"}), false);
  const json::value& p = at(tpl, {"template", "mappings", "properties"});
  EXPECT_EQ(at(p, {"@timestamp"}), mapping("date"));
  EXPECT_EQ(at(p, {"collector"}), mapping("keyword"));
  EXPECT_EQ(at(p, {"ready"}), mapping("boolean"));
  EXPECT_EQ(at(p, {"coap", "properties", "responses", "properties", "server_error"}),
            mapping("long"));
  EXPECT_EQ(at(p, {"events", "properties", "accepted"}), mapping("long"));
  EXPECT_EQ(at(p, {"elasticsearch", "properties", "documents", "properties", "dead_lettered"}),
            mapping("long"));
  EXPECT_EQ(at(p, {"elasticsearch", "properties", "bulk_latency_ms"}), mapping("double"));
  EXPECT_EQ(at(p, {"acknowledgement", "properties", "latency_ms"}), mapping("double"));
}

TEST(BootstrapDocumentsTest, StreamNameIsJsonEscaped) {
  BootstrapSettings settings;
  settings.data_stream = "a\"b";
  const json::value tpl = parse(index_template_body(settings));
  EXPECT_EQ(at(tpl, {"index_patterns"}), (json::array{"a\"b"}));
}

}  // namespace
}  // namespace iot::elastic
