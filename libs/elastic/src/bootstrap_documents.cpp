#include "elastic/bootstrap_documents.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace iot::elastic {
namespace {

namespace json = boost::json;

constexpr std::int64_t kIgnoreAbove = 1024;

json::object field(std::string_view type) {
  return json::object{{"type", type}};
}

json::object keyword() {
  return json::object{{"type", "keyword"}, {"ignore_above", kIgnoreAbove}};
}

json::object dynamic_template(std::string_view name, std::string_view match_mapping_type,
                              json::object mapping) {
  return json::object{{name,
                       {{"path_match", "payload.*"},
                        {"match_mapping_type", match_mapping_type},
                        {"mapping", std::move(mapping)}}}};
}

json::object template_body(std::string_view pattern, const BootstrapSettings& settings,
                           json::object mappings) {
  return json::object{
      {"index_patterns", json::array{pattern}},
      {"data_stream", json::object{}},
      {"priority", 200},
      {"template",
       {{"settings", {{"index.lifecycle.name", lifecycle_policy_name(settings)}}},
        {"mappings", std::move(mappings)}}},
  };
}

}  // namespace

std::string lifecycle_policy_name(const BootstrapSettings& settings) {
  return settings.data_stream + "-policy";
}

std::string dead_letter_stream(const BootstrapSettings& settings) {
  return settings.data_stream + "-dlq";
}

std::string self_metrics_stream(const BootstrapSettings& settings) {
  return settings.data_stream + "-collector";
}

std::string lifecycle_policy_body(const BootstrapSettings& settings) {
  // The delete phase's min_age counts from rollover, so an index lives about
  // rollover_max_age + retention_days.
  const json::object policy{
      {"policy",
       {{"phases",
         {{"hot",
           {{"actions",
             {{"rollover",
               {{"max_age", settings.rollover_max_age},
                {"max_primary_shard_size", settings.rollover_max_primary_shard_size}}}}}}},
          {"delete",
           {{"min_age", std::to_string(settings.retention_days) + "d"},
            {"actions", {{"delete", json::object{}}}}}}}}}}};
  return json::serialize(policy);
}

std::string index_template_body(const BootstrapSettings& settings) {
  json::object mappings{
      // Date detection would map the first date-like string of a payload field as a date and
      // then reject every later event whose value there is not a date.
      {"date_detection", false},
      {"dynamic_templates",
       json::array{
           dynamic_template("payload_strings", "string", keyword()),
           // Integers and fractions share one field type, so 21 followed by 21.5 never conflicts.
           dynamic_template("payload_longs", "long", field("double")),
           dynamic_template("payload_doubles", "double", field("double")),
       }},
      {"properties",
       {
           {"@timestamp", field("date")},
           {"timestamp", field("date")},
           {"received_at", field("date")},
           {"namespace", field("keyword")},
           {"sender", field("keyword")},
           {"origin", field("keyword")},
           {"collector", field("keyword")},
           {"payload",
            {{"properties",
              {{"type", field("keyword")}, {"value", {{"type", "object"}, {"enabled", false}}}}}}},
           {"value_number", field("double")},
           {"value_text", keyword()},
       }},
  };
  return json::serialize(template_body(settings.data_stream, settings, std::move(mappings)));
}

std::string dead_letter_template_body(const BootstrapSettings& settings) {
  json::object mappings{
      // Whatever else a dead letter carries stays in _source unindexed: this stream must accept
      // every document, as there is nowhere left to send one it rejects.
      {"dynamic", false},
      {"properties",
       {
           {"@timestamp", field("date")},
           {"received_at", field("date")},
           {"event", field("text")},
           // reason: text to search in, plus a keyword sub-field so Kibana can group by it.
           {"error",
            {{"properties",
              {{"status", field("integer")},
               {"reason", {{"type", "text"}, {"fields", {{"keyword", keyword()}}}}}}}}},
           {"collector", field("keyword")},
           {"namespace", field("keyword")},
           {"sender", field("keyword")},
       }},
  };
  return json::serialize(
      template_body(dead_letter_stream(settings), settings, std::move(mappings)));
}

std::string self_metrics_template_body(const BootstrapSettings& settings) {
  const auto counts = [](std::initializer_list<std::string_view> names) {
    json::object properties;
    for (const auto name : names) properties[name] = field("long");
    return json::object{{"properties", std::move(properties)}};
  };
  json::object elasticsearch = counts({"bulk_requests", "bulk_failures", "buffered_bytes"});
  auto& es_properties = elasticsearch["properties"].as_object();
  es_properties["bulk_latency_ms"] = field("double");
  es_properties["documents"] =
      counts({"created", "duplicate", "retried", "dead_lettered", "too_large"});
  json::object coap = counts({"requests", "duplicates", "payload_bytes"});
  coap["properties"].as_object()["responses"] = counts({"success", "client_error", "server_error"});
  json::object acknowledgement = counts({"count"});
  acknowledgement["properties"].as_object()["latency_ms"] = field("double");
  json::object mappings{
      {"dynamic", false},
      {"properties",
       {
           {"@timestamp", field("date")},
           {"collector", field("keyword")},
           {"version", field("keyword")},
           {"interval_s", field("double")},
           {"uptime_s", field("double")},
           {"workers", field("long")},
           {"ready", field("boolean")},
           {"elasticsearch_up", field("boolean")},
           {"coap", std::move(coap)},
           {"events", counts({"accepted", "rejected"})},
           {"elasticsearch", std::move(elasticsearch)},
           {"acknowledgement", std::move(acknowledgement)},
           {"sink_write_errors", field("long")},
       }},
  };
  return json::serialize(
      template_body(self_metrics_stream(settings), settings, std::move(mappings)));
}

}  // namespace iot::elastic
