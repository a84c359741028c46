#pragma once

#include <string>

namespace iot::elastic {

struct BootstrapSettings {
  std::string data_stream = "iot-events";
  unsigned retention_days = 30;
  std::string rollover_max_age = "1d";
  std::string rollover_max_primary_shard_size = "50gb";
};

// Names derived from the data stream: lifecycle policy "<data_stream>-policy" and dead-letter
// data stream "<data_stream>-dlq". Each stream has an index template named like the stream whose
// index_patterns is exactly that stream name, so the two templates never overlap.
std::string lifecycle_policy_name(const BootstrapSettings& settings);
std::string dead_letter_stream(const BootstrapSettings& settings);
// The collectors' own metrics (--self-metrics-interval): "<data_stream>-collector".
std::string self_metrics_stream(const BootstrapSettings& settings);

// Body of PUT _ilm/policy/<policy>: hot phase with rollover (max_age, max_primary_shard_size),
// delete phase at retention_days.
std::string lifecycle_policy_body(const BootstrapSettings& settings);

// Body of PUT _index_template/<data_stream>: index_patterns [<data_stream>], "data_stream": {},
// priority 200, index.lifecycle.name = the policy, and mappings for every stored field:
// - @timestamp, timestamp, received_at: date
// - namespace, sender, origin, collector, payload.type: keyword
// - payload.value: {"type": "object", "enabled": false}: any JSON value (number, string,
//   boolean, object) stays in _source and can never cause a mapping conflict;
// - value_number (double) and value_text (keyword, ignore_above 1024): the value made
//   aggregatable and searchable; the encoder fills value_number for numbers and value_text for
//   strings and booleans;
// - other payload fields: dynamic templates, strings -> keyword (ignore_above 1024),
//   numbers -> double.
std::string index_template_body(const BootstrapSettings& settings);

// Body of PUT _index_template/<data_stream>-dlq: @timestamp and received_at date; event: text
// (the original event as a string, so it can never be rejected again for its content);
// error.status: integer; error.reason: text with a keyword sub-field (error.reason.keyword, to
// group by); collector, namespace, sender: keyword. Same policy.
std::string dead_letter_template_body(const BootstrapSettings& settings);

// Body of PUT _index_template/<data_stream>-collector: the self-metrics documents. @timestamp
// date; collector, version keyword; ready, elasticsearch_up boolean; interval_s, uptime_s and the
// *_ms latencies double; workers and every count (coap.*, events.*, elasticsearch.*,
// acknowledgement.count, sink_write_errors) long. "dynamic": false, same policy.
std::string self_metrics_template_body(const BootstrapSettings& settings);

}  // namespace iot::elastic
