#include "load_runner.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "coapwire/client_engine.hpp"
#include "device_session.hpp"
#include "event/timestamp.hpp"
#include "loadgen/rate_schedule.hpp"

namespace iot::client {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t micros(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
}

// Counts and latencies of one second of one thread, handed to the aggregator when the thread
// sees the second end (so the hot path touches no lock).
struct SecondTally {
  std::uint64_t sent = 0, ok = 0, errors = 0;
  loadgen::HdrHistogram latency_us;
};

// Totals of a thread, merged at the end.
struct ThreadTotals {
  std::uint64_t sent = 0, events = 0, timeouts = 0, send_errors = 0, retransmissions = 0;
  std::uint64_t not_sent = 0;  // refused by the engine: every message id of the device in flight
  std::array<std::uint64_t, 256> responses{};  // by raw CoAP code
  coapwire::EngineCounters engine;
  loadgen::HdrHistogram handshake_us;  // established handshakes
};

// Shared by the threads and the reporting thread; touched once a second per thread.
class Aggregator {
 public:
  explicit Aggregator(Clock::time_point start) : start_(start) {}

  std::uint64_t second_of(Clock::time_point t) const {
    return t <= start_ ? 0
                       : static_cast<std::uint64_t>(
                             std::chrono::duration_cast<std::chrono::seconds>(t - start_).count());
  }

  void add(std::uint64_t second, SecondTally& tally) {
    std::lock_guard lock(mutex_);
    // A thread late to hand in a second that was already closed counts it in the oldest open one.
    second = std::max(second, next_to_close_);
    auto& slot = open_[second];
    slot.sent += tally.sent;
    slot.ok += tally.ok;
    slot.errors += tally.errors;
    slot.latency_us.merge(tally.latency_us);
    total_latency_us_.merge(tally.latency_us);
    sent_ += tally.sent;
    ok_ += tally.ok;
    errors_ += tally.errors;
    tally.sent = tally.ok = tally.errors = 0;
    tally.latency_us.reset();
  }

  // Closes every second before `second` (quiet ones too) into rows.
  void close_before(std::uint64_t second) {
    std::lock_guard lock(mutex_);
    for (; next_to_close_ < second; ++next_to_close_) {
      loadgen::SecondSample row;
      row.second = next_to_close_;
      if (auto it = open_.find(next_to_close_); it != open_.end()) {
        row.sent = it->second.sent;
        row.ok = it->second.ok;
        row.errors = it->second.errors;
        if (it->second.latency_us.total_count() > 0) {
          row.p50_ms = static_cast<double>(it->second.latency_us.value_at_percentile(50)) / 1000.0;
          row.p99_ms = static_cast<double>(it->second.latency_us.value_at_percentile(99)) / 1000.0;
        }
        open_.erase(it);
      }
      rows_.push_back(row);
    }
  }

  loadgen::LiveStatus status(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    loadgen::LiveStatus s;
    s.elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - start_);
    s.sent = sent_;
    s.ok = ok_;
    s.errors = errors_;
    if (!rows_.empty()) {
      s.rate_per_second = static_cast<double>(rows_.back().sent);
      s.p99_ms = rows_.back().p99_ms;
    }
    return s;
  }

  std::vector<loadgen::SecondSample> take_rows() {
    std::lock_guard lock(mutex_);
    return std::move(rows_);
  }
  const loadgen::HdrHistogram& total_latency_us() const { return total_latency_us_; }

 private:
  struct Slot {
    std::uint64_t sent = 0, ok = 0, errors = 0;
    loadgen::HdrHistogram latency_us;
  };
  const Clock::time_point start_;
  std::mutex mutex_;
  std::map<std::uint64_t, Slot> open_;
  std::vector<loadgen::SecondSample> rows_;
  std::uint64_t next_to_close_ = 0;
  std::uint64_t sent_ = 0, ok_ = 0, errors_ = 0;
  loadgen::HdrHistogram total_latency_us_;
};

// One thread's share of the run.
struct Share {
  unsigned index = 0;
  std::size_t first_device = 0;  // global index of its first device (for sender ids)
  std::size_t devices = 0;
  std::variant<loadgen::OpenLoop, loadgen::ClosedLoop> mode;
  std::optional<std::uint64_t> count;
};

std::vector<Share> split(const LoadOptions& options) {
  std::vector<Share> shares;
  const unsigned n = options.threads;
  const auto part = [n](std::uint64_t total, unsigned i) {
    return total / n + (i < total % n ? 1 : 0);
  };
  std::size_t device = 0;
  for (unsigned i = 0; i < n; ++i) {
    Share share;
    share.index = i;
    share.first_device = device;
    share.devices = part(options.devices, i);
    device += share.devices;
    if (const auto* open = std::get_if<loadgen::OpenLoop>(&options.mode)) {
      share.mode = loadgen::OpenLoop{open->requests_per_second / n};
    } else {
      share.mode = loadgen::ClosedLoop{static_cast<std::uint32_t>(
          part(std::get<loadgen::ClosedLoop>(options.mode).concurrency, i))};
    }
    if (options.count) share.count = part(*options.count, i);
    shares.push_back(share);
  }
  return shares;
}

class LoadThread {
 public:
  LoadThread(const LoadOptions& options, Share share, std::atomic<bool>& out_of_message_ids)
      : options_(options),
        share_(share),
        out_of_message_ids_(out_of_message_ids),
        engine_(
            [&] {
              coapwire::EngineOptions engine;
              engine.remote_host = options.globals.host;
              engine.remote_port = options.globals.port;
              engine.devices = std::max<std::size_t>(share.devices, 1);
              engine.spread = options.spread;
              engine.transmission = options.transmission;
              // Room for bursts without a full socket per device: 64 MiB spread over the sockets,
              // between 64 KiB and 4 MiB each.
              const std::size_t sockets =
                  options.spread == coapwire::DeviceSpread::source_ports ? engine.devices : 1;
              const auto per_socket =
                  std::clamp<std::size_t>((64u << 20) / sockets, 64u << 10, 4u << 20);
              engine.receive_buffer_bytes = static_cast<int>(per_socket);
              engine.send_buffer_bytes = static_cast<int>(per_socket);
              engine.dtls_devices =
                  options.globals.engine_credentials(share.first_device, engine.devices);
              engine.dtls_handshake_timeout = options.globals.handshake_timeout;
              return engine;
            }(),
            [this](const coapwire::HandshakeEvent& event) {
              if (event.established) {
                totals_.handshake_us.record(micros(event.finished_at - event.started_at));
              }
            }) {
    for (std::size_t d = 0; d < engine_.device_count(); ++d) {
      senders_.push_back(options.globals.device_sender(share.first_device + d));
    }
  }

  // --handshake-first: every device of this thread handshakes now, before the run. Bounded: a
  // handshake that does not end by itself fails at the handshake timeout.
  void handshake_all() {
    const std::size_t started = engine_.start_handshakes();
    const auto limit = Clock::now() + options_.globals.handshake_timeout + std::chrono::seconds(1);
    const auto ended = [this] {
      const auto counters = engine_.counters();
      return counters.dtls_handshakes_established + counters.dtls_handshakes_failed;
    };
    while (ended() < started && Clock::now() < limit) {
      engine_.poll(Clock::now() + std::chrono::milliseconds(10));
    }
  }

  void run(Aggregator& aggregator, Clock::time_point start, Clock::time_point stop) {
    aggregator_ = &aggregator;
    start_ = start;
    stop_ = stop;
    // Every thread starts at the run's start, after all sockets are open (pacing, not a wait for
    // another thread).
    std::this_thread::sleep_until(start_);
    second_ = aggregator_->second_of(Clock::now());
    if (const auto* open = std::get_if<loadgen::OpenLoop>(&share_.mode)) {
      run_open(open->requests_per_second);
    } else {
      run_closed(std::get<loadgen::ClosedLoop>(share_.mode).concurrency);
    }
    drain();
    // The collector frees the sessions now rather than hold them (and evict idle real devices
    // for them) until its idle timeout.
    engine_.close_sessions();
    const auto counters = engine_.counters();
    totals_.retransmissions = counters.retransmissions;
    totals_.engine = counters;
    aggregator_->add(second_, tally_);
  }

  const ThreadTotals& totals() const { return totals_; }

 private:
  bool may_send(std::uint64_t n) const { return !share_.count || n < *share_.count; }

  void run_open(double rate) {
    if (rate <= 0) return;
    const loadgen::OpenLoopSchedule schedule(rate, start_);
    std::uint64_t n = 0;
    while (true) {
      const auto now = Clock::now();
      if (now >= stop_ || !may_send(n)) break;
      std::uint64_t due = schedule.due_by(now);
      if (share_.count) due = std::min(due, *share_.count);
      for (; n < due; ++n) send(n, schedule.intended_send_time(n));
      const auto next = may_send(n) ? schedule.intended_send_time(n) : stop_;
      poll_until(std::min({next, stop_, next_second_boundary()}));
    }
  }

  void run_closed(std::uint32_t concurrency) {
    for (std::uint32_t k = 0; k < concurrency && may_send(next_); ++k) send(next_++, Clock::now());
    while (Clock::now() < stop_ && engine_.in_flight() > 0) {
      poll_until(std::min(stop_, next_second_boundary()));
    }
  }

  void drain() {
    draining_ = true;
    const auto limit = Clock::now() + options_.drain_timeout;
    while (engine_.in_flight() > 0 && Clock::now() < limit) {
      poll_until(std::min(limit, next_second_boundary()));
    }
    // What is still open never got an answer within the run: a timeout, for the report.
    const auto unanswered = engine_.in_flight();
    totals_.timeouts += unanswered;
    tally_.errors += unanswered;
  }

  Clock::time_point next_second_boundary() const {
    return start_ + std::chrono::seconds(second_ + 1);
  }

  void poll_until(Clock::time_point deadline) {
    engine_.poll(deadline);
    const auto second = aggregator_->second_of(Clock::now());
    if (second != second_) {
      aggregator_->add(second_, tally_);
      second_ = second;
    }
  }

  void send(std::uint64_t n, Clock::time_point intended) {
    const std::size_t device = n % engine_.device_count();
    // Unique in the run: thread index + threads * (request * batch + event).
    const std::uint64_t stride = options_.threads;
    const std::uint64_t first_seq = share_.index + stride * n * options_.batch;
    body_ = load_request_body(options_, senders_[device], first_seq, stride,
                              std::chrono::system_clock::now());
    const bool queued = engine_.send(
        device,
        post_events(body_, options_.confirmable ? coapwire::MessageType::confirmable
                                                : coapwire::MessageType::non_confirmable),
        [this, intended](const coapwire::Result& result) { complete(result, intended); });
    // A request that cannot be sent counts like one the kernel refused: sent (it was due) and
    // failed, never answered, so it has no latency and the schedule goes on without it.
    ++totals_.sent;
    totals_.events += options_.batch;
    ++tally_.sent;
    if (!queued) {
      // Its device has all 65,536 message ids in flight: the server is not keeping up.
      ++totals_.not_sent;
      ++totals_.send_errors;
      ++tally_.errors;
      if (totals_.not_sent == 1) out_of_message_ids_.store(true, std::memory_order_relaxed);
    }
  }

  void complete(const coapwire::Result& result, Clock::time_point intended) {
    switch (result.kind) {
      case coapwire::Result::Kind::response: {
        ++totals_.responses[result.code.raw()];
        const auto latency = micros(result.completed_at - intended);
        tally_.latency_us.record(latency);
        if (result.code.cls == 2) {
          ++tally_.ok;
        } else {
          ++tally_.errors;
        }
        break;
      }
      case coapwire::Result::Kind::timeout:
        ++totals_.timeouts;
        ++tally_.errors;
        break;
      case coapwire::Result::Kind::reset:
      case coapwire::Result::Kind::send_error:
      case coapwire::Result::Kind::handshake_failed:  // also in the report's handshakes
        ++totals_.send_errors;
        ++tally_.errors;
        break;
    }
    // Closed loop: an answer frees a slot for the next request.
    if (std::holds_alternative<loadgen::ClosedLoop>(share_.mode) && !draining_ &&
        Clock::now() < stop_ && may_send(next_)) {
      send(next_++, Clock::now());
    }
  }

  const LoadOptions& options_;
  Share share_;
  std::atomic<bool>& out_of_message_ids_;  // set by the first request a thread could not send
  Aggregator* aggregator_ = nullptr;       // the run's: set by run()
  Clock::time_point start_, stop_;
  coapwire::ClientEngine engine_;
  std::vector<std::string> senders_;
  std::string body_;
  SecondTally tally_;
  std::uint64_t second_ = 0;
  std::uint64_t next_ = 0;  // closed loop: the next request number
  bool draining_ = false;
  ThreadTotals totals_;
};

constexpr std::string_view kOutOfMessageIdsNotice =
    "a device has all 65,536 CoAP message ids in flight: the server is not keeping up; requests "
    "due on such a device are not sent and count as send errors";

std::string target_of(const GlobalOptions& globals) {
  const bool ipv6 = globals.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + globals.host + "]" : globals.host) + ":" + std::to_string(globals.port);
}

}  // namespace

std::string new_run_id() {
  std::random_device random;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string id;
  for (int i = 0; i < 12; ++i) id += "0123456789abcdef"[digit(random)];
  return id;
}

std::string load_request_body(const LoadOptions& options, std::string_view sender,
                              std::uint64_t first_seq, std::uint64_t stride,
                              std::chrono::system_clock::time_point now) {
  const std::string timestamp = event::format_rfc3339_ms(event::epoch_ms(now));
  std::string body;
  body.reserve(std::max<std::size_t>(options.payload_bytes, 256 * options.batch));
  const auto append_events = [&](std::size_t pad) {
    body.clear();
    if (options.batch > 1) body += '[';
    for (std::uint32_t k = 0; k < options.batch; ++k) {
      if (k > 0) body += ',';
      body += R"({"namespace":")" + options.globals.namespace_ + R"(","sender":")";
      body += sender;
      body += R"(","origin":")" + options.globals.origin + R"(","timestamp":")" + timestamp +
              R"(","payload":{"type":"load","value":)" + std::to_string(first_seq + k * stride) +
              R"(,"run_id":")" + options.run_id + '"';
      if (pad > 0) body += R"(,"pad":")" + std::string(pad, 'x') + '"';
      body += "}}";
    }
    if (options.batch > 1) body += ']';
  };
  append_events(0);
  if (options.payload_bytes > body.size()) {
    // Each event takes an equal share of the padding; ",\"pad\":\"\"" costs 9 bytes itself.
    const std::size_t missing = options.payload_bytes - body.size();
    const std::size_t per_event = missing / options.batch;
    if (per_event > 9) append_events(per_event - 9);
  }
  return body;
}

LoadResult run_load_test(const LoadOptions& options,
                         const std::function<void(const loadgen::LiveStatus&)>& on_second,
                         const std::function<void(std::string_view)>& on_notice) {
  if (!options.duration && !options.count) {
    throw std::invalid_argument("a load test needs a duration or a count");
  }
  // The sockets are opened before the clock starts, so their setup is not part of the run.
  const auto shares = split(options);
  std::atomic<bool> out_of_message_ids{false};
  std::vector<std::unique_ptr<LoadThread>> workers;
  for (const auto& share : shares) {
    workers.push_back(std::make_unique<LoadThread>(options, share, out_of_message_ids));
  }
  // Neither are the handshakes with --handshake-first: each thread makes its devices' in
  // parallel with the others, and the run starts when all have ended.
  double handshakes_before_run_seconds = 0;
  if (options.handshake_first && options.globals.dtls()) {
    const auto began = Clock::now();
    std::vector<std::thread> handshaking;
    for (auto& worker : workers) handshaking.emplace_back([&worker] { worker->handshake_all(); });
    for (auto& thread : handshaking) thread.join();
    handshakes_before_run_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  }
  const auto wall_start = std::chrono::system_clock::now();
  const auto provisional = Clock::now() + std::chrono::milliseconds(50);
  Aggregator aggregator(provisional);
  const auto stop = options.duration ? provisional + *options.duration : Clock::time_point::max();
  bool told_out_of_message_ids = false;
  const auto tell_out_of_message_ids = [&] {
    if (told_out_of_message_ids || !out_of_message_ids.load(std::memory_order_relaxed)) return;
    told_out_of_message_ids = true;
    if (on_notice) on_notice(kOutOfMessageIdsNotice);
  };
  std::atomic<unsigned> running{static_cast<unsigned>(workers.size())};
  std::vector<std::thread> threads;
  for (auto& worker : workers) {
    threads.emplace_back([&, &worker = worker] {
      worker->run(aggregator, provisional, stop);
      running.fetch_sub(1);
    });
  }
  // Once a second: close the seconds every thread has left behind, and show the live numbers.
  for (std::uint64_t tick = 1; running.load() > 0; ++tick) {
    const auto at = provisional + std::chrono::seconds(tick);
    while (running.load() > 0 && Clock::now() < at) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (running.load() == 0) break;
    if (tick >= 2) aggregator.close_before(tick - 1);
    tell_out_of_message_ids();
    if (on_second) on_second(aggregator.status(Clock::now()));
  }
  for (auto& thread : threads) thread.join();
  tell_out_of_message_ids();
  const auto end = Clock::now();
  aggregator.close_before(aggregator.second_of(end) + 1);

  LoadResult result;
  auto& report = result.report;
  report.run_id = options.run_id;
  report.target = target_of(options.globals);
  report.mode = options.mode;
  report.threads = options.threads;
  report.devices = options.devices;
  report.devices_by_address = options.spread == coapwire::DeviceSpread::loopback_addresses;
  report.message_type = options.confirmable ? loadgen::MessageType::confirmable
                                            : loadgen::MessageType::non_confirmable;
  report.batch = options.batch;
  report.payload_bytes = options.payload_bytes;
  report.started_at = wall_start;
  report.duration_seconds = std::max(0.0, std::chrono::duration<double>(end - provisional).count());
  std::array<std::uint64_t, 256> responses{};
  loadgen::HdrHistogram handshake_us;
  loadgen::HandshakeSummary handshakes;
  std::uint64_t handshake_cpu_ns = 0;
  for (const auto& worker : workers) {
    const auto& t = worker->totals();
    report.requests_sent += t.sent;
    report.events_sent += t.events;
    report.timeouts += t.timeouts;
    report.send_errors += t.send_errors;
    report.retransmissions += t.retransmissions;
    result.not_sent += t.not_sent;
    handshakes.started += t.engine.dtls_handshakes_started;
    handshakes.established += t.engine.dtls_handshakes_established;
    handshakes.failed += t.engine.dtls_handshakes_failed;
    handshakes.sessions_closed += t.engine.dtls_sessions_closed;
    handshake_cpu_ns += t.engine.dtls_handshake_cpu_nanoseconds;
    handshake_us.merge(t.handshake_us);
    for (std::size_t code = 0; code < responses.size(); ++code)
      responses[code] += t.responses[code];
  }
  for (std::size_t code = 0; code < responses.size(); ++code) {
    if (responses[code] == 0) continue;
    report.responses[coapwire::Code::from_raw(static_cast<std::uint8_t>(code)).to_string()] =
        responses[code];
  }
  result.latency_us = aggregator.total_latency_us();
  report.latency = loadgen::summarize_latency(result.latency_us);
  report.per_second = aggregator.take_rows();
  if (options.globals.dtls()) {
    handshakes.time = loadgen::summarize_latency(handshake_us);
    const auto ended = handshakes.established + handshakes.failed;
    if (ended > 0) {
      handshakes.client_cpu_ms_per_handshake =
          static_cast<double>(handshake_cpu_ns) / 1e6 / static_cast<double>(ended);
    }
    handshakes.before_run_seconds = handshakes_before_run_seconds;
    report.handshakes = handshakes;
  }
  return result;
}

}  // namespace iot::client
