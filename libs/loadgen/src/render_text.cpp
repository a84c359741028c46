#include <string>
#include <string_view>
#include <variant>

#include "loadgen/load_report.hpp"
#include "text_format.hpp"

namespace iot::loadgen {
namespace {

// Labels in one column, so the values line up and the eye can scan down them.
void line(std::string& out, std::string_view label, std::string_view value) {
  constexpr std::size_t kLabelWidth = 14;
  out += "  ";
  out += label;
  out.append(label.size() < kLabelWidth ? kLabelWidth - label.size() : 1, ' ');
  out += value;
  out += '\n';
}

std::string describe_mode(const LoadReport& report) {
  if (const auto* open = std::get_if<OpenLoop>(&report.mode)) {
    return "open loop, " + text::shortest(open->requests_per_second) + " req/s";
  }
  return "closed loop, " + text::integer(std::get<ClosedLoop>(report.mode).concurrency) +
         " in flight";
}

std::string describe_responses(const LoadReport& report) {
  if (report.responses.empty()) return "none";
  std::string text;
  for (const auto& [code, count] : report.responses) {
    if (!text.empty()) text += "  ";
    text += code + " " + text::integer(count);
  }
  return text;
}

std::string describe_latency(const LatencySummary& latency) {
  if (latency.samples == 0) return "no answers";
  auto ms = [](double value) { return text::fixed(value, 3); };
  return "p50 " + ms(latency.p50_ms) + "  p90 " + ms(latency.p90_ms) + "  p99 " +
         ms(latency.p99_ms) + "  p99.9 " + ms(latency.p99_9_ms) + "  max " + ms(latency.max_ms) +
         "  mean " + ms(latency.mean_ms) + "  (" + text::integer(latency.samples) + " samples)";
}

std::string describe_handshakes(const LoadReport& report) {
  const HandshakeSummary& h = *report.handshakes;
  std::string text = text::integer(h.established) + " established, " + text::integer(h.failed) +
                     " failed, " + text::fixed(report.handshakes_per_second(), 1) + "/s";
  if (h.before_run_seconds > 0) {
    text += " in " + text::fixed(h.before_run_seconds, 2) + " s before the run";
  }
  if (h.sessions_closed > 0) text += ", " + text::integer(h.sessions_closed) + " closed by server";
  if (h.time.samples > 0) {
    text += "  p50 " + text::fixed(h.time.p50_ms, 3) + " ms  p99 " + text::fixed(h.time.p99_ms, 3) +
            " ms";
  }
  text += "  client CPU " + text::fixed(h.client_cpu_ms_per_handshake, 3) + " ms each";
  return text;
}

}  // namespace

std::string render_text(const LoadReport& report) {
  std::string out = "iotc load report " + report.run_id + "\n";
  line(out, "target", report.target);
  line(out, "mode", describe_mode(report));
  line(out, "senders",
       text::integer(report.threads) + " threads, " + text::integer(report.devices) + " devices" +
           (report.devices_by_address ? " (one loopback address each)" : ""));
  line(out, "messages",
       std::string(report.message_type == MessageType::confirmable ? "CON" : "NON") + ", " +
           text::integer(report.batch) + " events per request, " +
           text::integer(report.payload_bytes) + " bytes per request");
  line(out, "started",
       text::rfc3339_utc(report.started_at) + ", ran " + text::fixed(report.duration_seconds, 2) +
           " s");
  line(out, "requests",
       text::integer(report.requests_sent) + " sent (" + text::integer(report.events_sent) +
           " events), " + text::integer(report.answered()) + " answered, " +
           text::fixed(report.throughput_per_second(), 1) + " answers/s");
  line(out, "responses", describe_responses(report));
  line(out, "failures",
       "timeouts " + text::integer(report.timeouts) + "  retransmissions " +
           text::integer(report.retransmissions) + "  send errors " +
           text::integer(report.send_errors));
  line(out, "error rate", text::fixed(report.error_rate() * 100.0, 3) + " %");
  line(out, "latency ms", describe_latency(report.latency));
  if (report.handshakes) line(out, "handshakes", describe_handshakes(report));
  return out;
}

}  // namespace iot::loadgen
