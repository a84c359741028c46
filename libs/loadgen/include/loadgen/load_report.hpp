#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "loadgen/hdr_histogram.hpp"
#include "loadgen/per_second_series.hpp"

namespace iot::loadgen {

// The value of the JSON report's "schema" field; load-report.schema.json describes that version.
inline constexpr std::string_view kLoadReportSchema = "iotc-load-report/1";

// Open loop: requests leave at a fixed rate whether or not earlier ones were answered.
struct OpenLoop {
  double requests_per_second = 0;
};
// Closed loop: a fixed number of requests in flight, each sent when another is answered.
struct ClosedLoop {
  std::uint32_t concurrency = 0;
};

enum class MessageType { confirmable, non_confirmable };  // CoAP CON / NON

// Latency of all answered requests, in milliseconds, from an HdrHistogram of microseconds (so
// each value is a bucket bound: within 0.1 % at 3 significant digits). All 0 when samples is 0.
struct LatencySummary {
  std::uint64_t samples = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double p99_9_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;

  bool operator==(const LatencySummary&) const = default;
};

// Fills LoadReport::latency (and the p50/p99 of a SecondSample) from recorded microseconds.
LatencySummary summarize_latency(const HdrHistogram& latency_us);

// DTLS handshakes of a run over coaps.
struct HandshakeSummary {
  std::uint64_t started = 0;
  std::uint64_t established = 0;
  std::uint64_t failed = 0;           // failed or timed out
  std::uint64_t sessions_closed = 0;  // by the server (close_notify): the device handshakes again
  LatencySummary time;                // first ClientHello -> established, of established ones
  // The client's CPU time in handshakes divided by the handshakes that ended (established or
  // failed); 0 when none ended.
  double client_cpu_ms_per_handshake = 0;
  // iotc load --handshake-first: how long the handshakes took before the run started; 0 when
  // they happened during the run (each device's first request started its own).
  double before_run_seconds = 0;

  bool operator==(const HandshakeSummary&) const = default;
};

// Everything `iotc load` reports about one run.
struct LoadReport {
  std::string run_id;
  std::string target;  // host:port
  std::variant<OpenLoop, ClosedLoop> mode;
  std::uint32_t threads = 1;
  std::uint64_t devices = 0;
  // false: each device its own UDP source port; true: its own loopback source address.
  bool devices_by_address = false;
  MessageType message_type = MessageType::confirmable;
  std::uint32_t batch = 1;          // events per request
  std::uint64_t payload_bytes = 0;  // request body size
  std::chrono::system_clock::time_point started_at;
  double duration_seconds = 0;

  std::uint64_t requests_sent = 0;
  std::map<std::string, std::uint64_t> responses;  // by CoAP code text: "2.01", "5.03", ...
  std::uint64_t timeouts = 0;
  std::uint64_t retransmissions = 0;  // CON retransmissions: not counted in requests_sent
  std::uint64_t send_errors = 0;
  std::uint64_t events_sent = 0;

  LatencySummary latency;
  std::vector<SecondSample> per_second;
  std::optional<HandshakeSummary> handshakes;  // DTLS runs only

  // Derived, so they cannot disagree with the counts above.
  std::uint64_t answered() const;      // all responses, any code
  std::uint64_t ok_responses() const;  // 2.xx responses
  // Responses per second of duration; 0 for a run without duration.
  double throughput_per_second() const;
  // Fraction of requests sent that got no 2.xx answer (other codes, timeouts, send errors); 0
  // when nothing was sent.
  double error_rate() const;
  // Established handshakes per second of duration (of their own phase when they came before the
  // run); 0 without DTLS or duration.
  double handshakes_per_second() const;
};

// A compact, aligned report for a terminal, ending in a newline.
std::string render_text(const LoadReport& report);
// The report as JSON: an object with "schema": "iotc-load-report/1" and snake_case fields,
// described exactly by libs/loadgen/load-report.schema.json. Per-second latencies are null for
// seconds without answers; the mode that does not apply has null for its rate or concurrency.
std::string render_json(const LoadReport& report);
// One self-contained HTML page (inline CSS and SVG, no scripts, no external resources, and
// well-formed XML as well): the summary, a "latency over time" chart (svg#latency-over-time,
// p50 and p99 per second) and a "latency by percentile" chart (svg#latency-by-percentile, drawn
// from `latency_us` on a logarithmic 1/(1-p) axis). Every data line is a
// <polyline class="series ..." data-series="p50|p99|percentile">, present even when empty.
std::string render_html(const LoadReport& report, const HdrHistogram& latency_us);

// What the live status line shows, once a second.
struct LiveStatus {
  std::chrono::seconds elapsed{0};
  std::uint64_t sent = 0;          // requests since the start
  double rate_per_second = 0;      // requests sent in the last second
  std::uint64_t ok = 0;            // 2.xx answers since the start
  std::uint64_t errors = 0;        // other answers, timeouts and send errors since the start
  std::uint64_t timeouts = 0;      // since the start
  std::optional<double> p99_ms{};  // of the last second; empty when nothing was answered
};
// `  12s  sent 120000  rate 10001/s  ok 119990  err 10  timeouts 0  p99 3.2 ms`: one line, no
// line break, so the caller decides between "\r" (a terminal) and "\n" (a log).
std::string format_status_line(const LiveStatus& status);

}  // namespace iot::loadgen
