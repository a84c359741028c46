#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <optional>
#include <string>
#include <variant>

#include "loadgen/load_report.hpp"
#include "text_format.hpp"

namespace iot::loadgen {
namespace {

namespace json = boost::json;

// JSON has no NaN or infinity; a caller's bad double must not make the report unparseable.
double finite(double value) {
  return std::isfinite(value) ? value : 0.0;
}

json::value optional_number(const std::optional<double>& value) {
  return value ? json::value(finite(*value)) : json::value(nullptr);
}

json::object latency_object(const LatencySummary& latency) {
  return json::object{
      {"samples", latency.samples},        {"p50", finite(latency.p50_ms)},
      {"p90", finite(latency.p90_ms)},     {"p99", finite(latency.p99_ms)},
      {"p99_9", finite(latency.p99_9_ms)}, {"max", finite(latency.max_ms)},
      {"mean", finite(latency.mean_ms)},
  };
}

json::array per_second_array(const std::vector<SecondSample>& rows) {
  json::array array;
  array.reserve(rows.size());
  for (const SecondSample& row : rows) {
    array.push_back(json::object{
        {"second", row.second},
        {"sent", row.sent},
        {"ok", row.ok},
        {"errors", row.errors},
        {"p50_ms", optional_number(row.p50_ms)},
        {"p99_ms", optional_number(row.p99_ms)},
    });
  }
  return array;
}

json::value handshakes_value(const LoadReport& report) {
  if (!report.handshakes) return nullptr;
  const HandshakeSummary& h = *report.handshakes;
  return json::object{
      {"started", h.started},
      {"established", h.established},
      {"failed", h.failed},
      {"sessions_closed", h.sessions_closed},
      {"rate_per_second", finite(report.handshakes_per_second())},
      {"time_ms", latency_object(h.time)},
      {"client_cpu_ms_per_handshake", finite(h.client_cpu_ms_per_handshake)},
      {"before_run_seconds", finite(h.before_run_seconds)},
  };
}

}  // namespace

std::string render_json(const LoadReport& report) {
  json::object responses;
  for (const auto& [code, count] : report.responses) responses[code] = count;

  const auto* open = std::get_if<OpenLoop>(&report.mode);
  const auto* closed = std::get_if<ClosedLoop>(&report.mode);

  // Keys in a fixed order: the schema's, so a diff of two reports lines up.
  json::object root;
  root["schema"] = kLoadReportSchema;
  root["run_id"] = report.run_id;
  root["target"] = report.target;
  root["mode"] = open != nullptr ? "open" : "closed";
  root["rate_per_second"] =
      open != nullptr ? json::value(finite(open->requests_per_second)) : json::value(nullptr);
  root["concurrency"] = closed != nullptr ? json::value(closed->concurrency) : json::value(nullptr);
  root["threads"] = report.threads;
  root["devices"] = report.devices;
  root["device_spread"] = report.devices_by_address ? "addresses" : "ports";
  root["message_type"] = report.message_type == MessageType::confirmable ? "CON" : "NON";
  root["batch"] = report.batch;
  root["payload_bytes"] = report.payload_bytes;
  root["started_at"] = text::rfc3339_utc(report.started_at);
  root["duration_seconds"] = finite(report.duration_seconds);
  root["requests_sent"] = report.requests_sent;
  root["responses"] = std::move(responses);
  root["answered"] = report.answered();
  root["ok_responses"] = report.ok_responses();
  root["timeouts"] = report.timeouts;
  root["retransmissions"] = report.retransmissions;
  root["send_errors"] = report.send_errors;
  root["events_sent"] = report.events_sent;
  root["throughput_per_second"] = report.throughput_per_second();
  root["error_rate"] = report.error_rate();
  root["latency_ms"] = latency_object(report.latency);
  root["per_second"] = per_second_array(report.per_second);
  root["handshakes"] = handshakes_value(report);
  return json::serialize(root);
}

}  // namespace iot::loadgen
