#include "elastic/bulk_writer.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <random>
#include <variant>

#include "elastic/bulk_response.hpp"
#include "event/timestamp.hpp"
#include "logging/log.hpp"

namespace iot::elastic {
namespace {

using Clock = std::chrono::steady_clock;

std::string json_string(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

// The rejected document as a dead-letter record: same _id (so a retried dead-letter write is
// idempotent too), the original source kept as one string, and why it was refused.
std::string dead_letter_lines(std::string_view lines, std::string_view stream, int status,
                              std::string_view reason) {
  const auto first_newline = lines.find('\n');
  const std::string_view action(lines.data(),
                                first_newline == std::string::npos ? 0 : first_newline);
  std::string_view source =
      first_newline == std::string::npos ? std::string_view() : lines.substr(first_newline + 1);
  if (!source.empty() && source.back() == '\n') source.remove_suffix(1);
  std::string id;
  if (const auto at = action.find(R"("_id":")"); at != std::string_view::npos) {
    const auto start = at + 7;
    id = std::string(action.substr(start, action.find('"', start) - start));
  }
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string out = R"({"create":{"_index":)" + json_string(stream);
  if (!id.empty()) out += R"(,"_id":)" + json_string(id);
  out += "}}\n";
  out += R"({"@timestamp":")" + event::format_rfc3339_ms(now_ms) + R"(","event":)" +
         json_string(source) + R"(,"error":{"status":)" + std::to_string(status) + R"(,"reason":)" +
         json_string(reason) + "}}\n";
  return out;
}

}  // namespace

struct BulkWriter::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& io, BulkTransport& transport, BulkWriterSettings settings,
       Callbacks callbacks, BulkWriterStats& stats)
      : io(io),
        transport(transport),
        settings(std::move(settings)),
        callbacks(std::move(callbacks)),
        stats(stats),
        batcher(this->settings.batching),
        retry(this->settings.retry_base, this->settings.retry_cap),
        linger_timer(io),
        expiry_timer(io),
        random(std::random_device{}()) {}

  void add_buffered(std::ptrdiff_t delta) {
    buffered = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(buffered) + delta);
    stats.buffered_bytes.store(buffered, std::memory_order_relaxed);
  }

  GroupId write(const std::vector<std::string>& documents, bool acknowledge) {
    const auto now = Clock::now();
    const GroupId group =
        acknowledge ? groups.open(documents.size(), now + settings.ack_timeout) : 0;
    for (const auto& lines : documents) {
      add_buffered(static_cast<std::ptrdiff_t>(lines.size()));
      batcher.add(lines, QueuedDocument{.group = group}, now);
    }
    if (acknowledge) arm_expiry();
    pump_soon();
    return group;
  }

  // write() runs while the worker handles a batch of datagrams whose answers leave only when it
  // returns: a bulk request due now (assembling ~350 KB, ~0.05 ms; with a transport on this
  // thread, writing it too, ~0.2 ms more) is taken from the next turn of the event loop instead,
  // after those answers. Sending it inline delayed the whole batch (up to 64 devices) once per
  // bulk request: 1-2 % of the answers at 50,000 events/s came more than 0.25 ms after their
  // datagram arrived.
  void pump_soon() {
    if (pump_posted) return;
    pump_posted = true;
    boost::asio::post(io, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self || !self->alive) return;
      self->pump_posted = false;
      self->pump();
    });
  }

  // Sends what is due while there is a free slot; otherwise waits for linger or a completion.
  void pump() {
    const auto now = Clock::now();
    while (in_flight < settings.concurrency && !batcher.empty() && (draining || batcher.due(now))) {
      send(batcher.take());
    }
    if (!batcher.empty() && in_flight < settings.concurrency) arm_linger();
    finish_drain_if_done();
  }

  void send(DocumentBatch batch) {
    ++in_flight;
    stats.requests.add();
    const auto started = Clock::now();
    for (auto& document : batch.documents) ++document.attempt;
    // The batch stays here until settled: its body holds each document's lines for a retry or
    // the dead-letter stream. The transport shares that body (it is not changed while the
    // request is out) and copies it, if it must, on its own thread.
    auto held = std::make_shared<DocumentBatch>(std::move(batch));
    std::shared_ptr<const std::string> body(held, &held->body);
    std::weak_ptr<Impl> weak = shared_from_this();
    transport.send_bulk(
        std::move(body), [weak, held, started](int status, std::string body, std::string error) {
          if (auto self = weak.lock(); self && self->alive) {
            self->on_result(std::move(*held), status, body, std::move(error), started);
          }
        });
  }

  void on_result(DocumentBatch batch, int status, const std::string& body, std::string error,
                 Clock::time_point started) {
    --in_flight;
    stats.request_duration.observe_ns(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count()));
    if (status == 200) {
      auto parsed = parse_bulk_response(body, batch.documents.size());
      if (auto* result = std::get_if<BulkResult>(&parsed)) {
        consecutive_failures = 0;
        settle(batch, *result);
        pump();
        return;
      }
      error = "unreadable bulk response: " + std::get<std::string>(parsed);
    } else if (status == 413) {
      stats.request_failures.add();
      split_too_large(batch);
      pump();
      return;
    } else if (status != 0) {
      error = "HTTP " + std::to_string(status) + ": " + body.substr(0, 200);
    }
    stats.request_failures.add();
    // Still retried: dropping would lose events that may already be acknowledged. But a status
    // that will not heal by itself (400, 401/403 credentials) needs an operator, so it is logged
    // as an error.
    const bool needs_operator =
        status != 0 && status != 200 && classify_bulk_status(status) == StatusClass::fatal;
    log_failure(error, batch.documents.size(), needs_operator);
    retry_later(std::move(batch), consecutive_failures++);
    pump();
  }

  void settle(const DocumentBatch& batch, const BulkResult& result) {
    DocumentBatch again;
    unsigned highest_attempt = 0;
    for (std::size_t i = 0; i < batch.documents.size(); ++i) {
      const auto& document = batch.documents[i];
      const auto& item = result.items[i];
      switch (item.outcome) {
        case ItemOutcome::created:
          stats.created.add();
          done(document, true, {});
          break;
        case ItemOutcome::duplicate:
          stats.duplicates.add();
          done(document, true, {});
          break;
        case ItemOutcome::retry:
          stats.item_retries.add();
          highest_attempt = std::max(highest_attempt, document.attempt);
          again.append(batch.lines(document), document);
          break;
        case ItemOutcome::rejected:
          reject(batch.lines(document), document, item);
          break;
      }
    }
    if (!again.documents.empty()) retry_later(std::move(again), highest_attempt - 1);
  }

  // HTTP 413: the request was bigger than Elasticsearch (http.max_content_length, 100 MB by
  // default) or a proxy in front of it (nginx: 1 MB) takes. Nothing of it was stored, so its
  // documents go straight back to the queue, and from now on batches stay below half its size,
  // which splits this one too. A document refused alone can never be stored: its device is told.
  void split_too_large(const DocumentBatch& batch) {
    const auto& documents = batch.documents;
    const std::size_t bytes = batch.body.size();
    if (documents.size() == 1) {
      const auto& document = documents.front();
      stats.too_large.add();
      logging::error("elasticsearch refused a single document as too large (HTTP 413)",
                     {{"bytes", bytes}, {"dead_letter", document.dead_letter}});
      done(document, document.dead_letter,
           "Elasticsearch refused the event as too large (HTTP 413)");
      return;
    }
    if (bytes / 2 < batcher.max_bytes()) {
      batcher.lower_max_bytes(bytes / 2);
      logging::warn(
          "elasticsearch refused a bulk request as too large (HTTP 413); splitting",
          {{"bytes", bytes},
           {"documents", documents.size()},
           {"max_request_bytes", batcher.max_bytes()},
           {"hint", "lower --bulk-max-bytes below the limit of Elasticsearch or its proxy"}});
    }
    const auto now = Clock::now();
    for (const auto& document : documents) batcher.add(batch.lines(document), document, now);
  }

  void reject(std::string_view lines, const QueuedDocument& document, const ItemResult& item) {
    if (document.dead_letter) {
      // The dead-letter stream refused the record too: nothing more can be done with it.
      logging::error("dead-letter write rejected",
                     {{"status", item.status}, {"reason", item.reason}});
      done(document, true, {});
      return;
    }
    stats.dead_lettered.add();
    const std::string record =
        dead_letter_lines(lines, settings.dead_letter_stream, item.status, item.reason);
    add_buffered(static_cast<std::ptrdiff_t>(record.size()));
    batcher.add(record, QueuedDocument{.dead_letter = true}, Clock::now());
    done(document, false, item.reason);
  }

  // A document leaves the writer: its bytes are released and its device's group advances.
  void done(const QueuedDocument& document, bool stored, std::string_view reason) {
    add_buffered(-static_cast<std::ptrdiff_t>(document.length));
    if (document.group == 0) return;
    if (auto completion = groups.settle(document.group, stored, reason)) {
      callbacks.completed(*completion);
    }
  }

  void retry_later(DocumentBatch documents, unsigned attempt) {
    ++awaiting_retry;
    auto timer = std::make_shared<boost::asio::steady_timer>(io, retry.delay(attempt, random()));
    auto held = std::make_shared<DocumentBatch>(std::move(documents));
    std::weak_ptr<Impl> weak = shared_from_this();
    timer->async_wait([weak, timer, held](const boost::system::error_code& error) {
      auto self = weak.lock();
      if (!self || !self->alive || error) return;
      --self->awaiting_retry;
      const auto now = Clock::now();
      for (const auto& document : held->documents) {
        self->batcher.add(held->lines(document), document, now);
      }
      self->pump();
    });
  }

  void arm_linger() {
    arm(linger_timer, linger_armed, batcher.linger_deadline(), [](Impl& self) { self.pump(); });
  }

  void arm_expiry() {
    arm(expiry_timer, expiry_armed, groups.next_deadline(), [](Impl& self) {
      for (const GroupId id : self.groups.expire(Clock::now())) self.callbacks.expired(id);
      self.arm_expiry();
    });
  }

  // One timer per purpose, armed at most once: `armed` clears before `fire` runs, so `fire` may
  // arm it again. A writer destroyed meanwhile is never touched.
  template <typename Fire>
  void arm(boost::asio::steady_timer& timer, bool& armed, std::optional<Clock::time_point> deadline,
           Fire fire) {
    if (armed || !deadline) return;
    armed = true;
    timer.expires_at(*deadline);
    std::weak_ptr<Impl> weak = shared_from_this();
    timer.async_wait([weak, &armed, fire](const boost::system::error_code& error) {
      auto self = weak.lock();
      if (!self || !self->alive || error) return;
      armed = false;
      fire(*self);
    });
  }

  void finish_drain_if_done() {
    if (!drain_done || !batcher.empty() || in_flight > 0 || awaiting_retry > 0) return;
    auto done = std::move(drain_done);
    drain_done = nullptr;
    done();
  }

  // A failing Elasticsearch fails every request: one line per interval, with the count.
  void log_failure(const std::string& error, std::size_t documents, bool needs_operator) {
    ++failures_since_log;
    const auto now = Clock::now();
    if (now < next_failure_log) return;
    logging::write(needs_operator ? logging::Level::error : logging::Level::warn,
                   "bulk request failed; retrying",
                   {{"error", error},
                    {"documents", documents},
                    {"failures", failures_since_log},
                    {"buffered_bytes", buffered}});
    failures_since_log = 0;
    next_failure_log = now + std::chrono::seconds(10);
  }

  boost::asio::io_context& io;
  BulkTransport& transport;
  BulkWriterSettings settings;
  Callbacks callbacks;
  BulkWriterStats& stats;
  BulkBatcher batcher;
  AcknowledgementGroups groups;
  RetryPolicy retry;
  boost::asio::steady_timer linger_timer;
  boost::asio::steady_timer expiry_timer;
  std::mt19937_64 random;
  bool alive = true;
  bool linger_armed = false;
  bool expiry_armed = false;
  bool pump_posted = false;
  bool draining = false;
  std::function<void()> drain_done;
  std::size_t in_flight = 0;
  std::size_t awaiting_retry = 0;
  std::size_t buffered = 0;
  unsigned consecutive_failures = 0;
  std::uint64_t failures_since_log = 0;
  Clock::time_point next_failure_log{};
};

BulkWriter::BulkWriter(boost::asio::io_context& io, BulkTransport& transport,
                       BulkWriterSettings settings, Callbacks callbacks, BulkWriterStats& stats)
    : impl_(std::make_shared<Impl>(io, transport, std::move(settings), std::move(callbacks),
                                   stats)) {}

BulkWriter::~BulkWriter() {
  impl_->alive = false;
  impl_->linger_timer.cancel();
  impl_->expiry_timer.cancel();
}

bool BulkWriter::has_room(std::size_t bytes) const {
  return impl_->buffered + bytes <= impl_->settings.max_buffered_bytes;
}

std::uint32_t BulkWriter::retry_after_seconds() const {
  // While Elasticsearch fails, the next retry is the earliest the backlog can move; otherwise a
  // full backlog drains in about one round of requests per linger period.
  const auto& impl = *impl_;
  const auto wait = impl.consecutive_failures > 0 ? impl.retry.ceiling(impl.consecutive_failures)
                                                  : impl.settings.batching.linger;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(wait).count() + 1;
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(seconds, 1, 60));
}

BulkWriter::GroupId BulkWriter::write(const std::vector<std::string>& documents, bool acknowledge) {
  return impl_->write(documents, acknowledge);
}

void BulkWriter::drain(std::function<void()> done) {
  impl_->draining = true;
  impl_->drain_done = std::move(done);
  impl_->pump();
}

std::size_t BulkWriter::in_flight() const {
  return impl_->in_flight;
}

}  // namespace iot::elastic
