#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "coapwire/client_engine.hpp"
#include "coapwire/transmission.hpp"
#include "global_options.hpp"
#include "loadgen/hdr_histogram.hpp"
#include "loadgen/load_report.hpp"

namespace iot::client {

struct LoadOptions {
  GlobalOptions globals;
  std::variant<loadgen::OpenLoop, loadgen::ClosedLoop> mode = loadgen::OpenLoop{1000};
  unsigned threads = 1;
  std::size_t devices = 100;  // spread over the threads
  // How the server tells the devices apart: by source port (a socket each), or by loopback
  // source address on one socket per thread (coapwire::DeviceSpread).
  coapwire::DeviceSpread spread = coapwire::DeviceSpread::source_ports;
  // The run ends at whichever comes first; at least one is set.
  std::optional<std::chrono::milliseconds> duration;
  std::optional<std::uint64_t> count;  // requests
  bool confirmable = true;
  std::uint32_t batch = 1;        // events per request (1: a JSON object, else an array)
  std::size_t payload_bytes = 0;  // pad request bodies to about this size; 0: no padding
  std::string run_id;             // carried by every event as payload.run_id
  coapwire::TransmissionParameters transmission;
  // After the last request, answers are awaited this long; what is still open then is counted
  // as a timeout.
  std::chrono::milliseconds drain_timeout{5000};
  // DTLS: every device handshakes before the clock starts, so the run measures established
  // sessions; the handshakes are reported as before, their rate per second of their own phase.
  bool handshake_first = false;
};

struct LoadResult {
  loadgen::LoadReport report;
  loadgen::HdrHistogram latency_us;  // every answer, from its intended send time
  // Requests that were due but not sent because their device had all 65,536 CoAP message ids in
  // flight (the server fell behind). Counted in report.requests_sent and report.send_errors too,
  // so they raise the error rate; they have no latency.
  std::uint64_t not_sent = 0;
};

// Runs the load test: one ClientEngine per thread, each with its share of devices, rate or
// concurrency, and count. Open loop sends request n at start + n/rate (per thread) and measures
// its latency from that intended time, so a stalled sender or server cannot hide (no coordinated
// omission); closed loop keeps `concurrency` requests in flight and measures from the send.
// Every event carries the run id and a sequence number unique in the run (payload.value), so
// `iotc verify` can find missing and duplicated events. `on_second` runs on the calling thread
// once a second with the live numbers; `on_notice` runs on the calling thread with a one-line
// message (no "iotc load: " prefix, no newline) the first time something needs the operator's
// attention during the run: today, that requests are not sent for lack of message ids (at most
// once per run, within a second of it starting). Throws std::runtime_error when the sockets
// cannot be had.
LoadResult run_load_test(const LoadOptions& options,
                         const std::function<void(const loadgen::LiveStatus&)>& on_second,
                         const std::function<void(std::string_view)>& on_notice = {});

// The body of request `request_index` of a run: `batch` events from `sender`, sequence numbers
// first_seq, first_seq + stride, ..., padded to about `payload_bytes`. Exposed for tests.
std::string load_request_body(const LoadOptions& options, std::string_view sender,
                              std::uint64_t first_seq, std::uint64_t stride,
                              std::chrono::system_clock::time_point now);

// 12 random lowercase hex digits.
std::string new_run_id();

}  // namespace iot::client
