#include "ingest_handler.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <variant>

#include "event/bulk_encoder.hpp"
#include "logging/log.hpp"

namespace iot::collector {
namespace {

using coap::Code;
using coap::Response;

std::int64_t now_epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PathLabel path_label(std::string_view path) {
  if (path == "events") return PathLabel::events;
  if (path == "health") return PathLabel::health;
  return PathLabel::other;
}

Response too_large(std::size_t limit) {
  auto response = Response::text(Code::request_entity_too_large,
                                 "body exceeds " + std::to_string(limit) + " bytes");
  response.size1 = static_cast<std::uint32_t>(limit);
  return response;
}

// "5", "0.5", "0.001": the rate as an operator wrote it, for the 4.29 diagnostic.
std::string rate_text(double events_per_second) {
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%.3f", events_per_second);
  std::string text(buffer.data());
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

// The device a request counts against: its authenticated identity over DTLS (however many
// addresses it uses), else its UDP source address and port. The two cannot collide: an address
// key starts with an address family byte (2 or 10), an identity with a printable character.
std::span<const std::uint8_t> device_key(const coap::Request& request) {
  if (!request.identity.empty()) {
    return {reinterpret_cast<const std::uint8_t*>(request.identity.data()),
            request.identity.size()};
  }
  return {request.peer.bytes.data(), request.peer.length};
}

}  // namespace

IngestHandler::IngestHandler(IngestSettings settings, EventStore& store, WorkerMetrics& metrics,
                             const std::atomic<bool>& draining)
    : settings_(std::move(settings)),
      store_(store),
      metrics_(metrics),
      draining_(draining),
      validator_(event::ValidationLimits{.max_batch = settings_.max_batch}),
      assembler_(coap::Block1Assembler::Limits{.max_body_bytes = settings_.max_payload}) {
  if (settings_.rate_limit) {
    rate_limiter_.emplace(*settings_.rate_limit, throttle::TokenBucketTable::kDefaultMaxDevices,
                          settings_.rate_limit_seed);
    rate_limit_text_ = "rate limit: " + rate_text(settings_.rate_limit->events_per_second) +
                       " events/s per device; retry in ";
  }
}

std::optional<Response> IngestHandler::handle(const coap::Request& request) {
  const auto started = std::chrono::steady_clock::now();
  const PathLabel path = path_label(request.path);
  auto response = route(request, path);
  // A deferred answer is counted by the store when it is sent.
  if (response) {
    metrics_.count_request(
        request.method, path, response->code,
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count()));
  }
  return response;
}

std::optional<Response> IngestHandler::route(const coap::Request& request, PathLabel path) {
  if (draining_.load(std::memory_order_relaxed)) {
    // Devices retry after Max-Age, by then at another collector.
    auto response = Response::text(Code::service_unavailable, "shutting down; retry later");
    response.max_age = settings_.drain_max_age_seconds;
    return response;
  }
  switch (path) {
    case PathLabel::events:
      if (request.method != coap::Method::post) {
        return Response::text(Code::method_not_allowed, "/events accepts POST only");
      }
      return post_events(request);
    case PathLabel::health:
      if (request.method != coap::Method::get) {
        return Response::text(Code::method_not_allowed, "/health accepts GET only");
      }
      return Response(Code::content,
                      R"({"status":"ok","version":")" IOT_VERSION R"(","instance":")" +
                          settings_.instance + "\"}",
                      coap::kContentFormatJson);
    case PathLabel::other:
      break;
  }
  return Response::text(Code::not_found, "no such resource; use /events or /health");
}

std::optional<Response> IngestHandler::post_events(const coap::Request& request) {
  const bool first_part = !request.block1 || request.block1->number == 0;
  // Later blocks of an upload may omit Content-Format; the first one decides.
  if (first_part && request.content_format != coap::kContentFormatJson) {
    return reject(RejectLabel::unsupported_content_format, Code::unsupported_content_format,
                  "Content-Format must be 50 (application/json)");
  }
  metrics_.payload_bytes.add(request.payload.size());

  // The server reads max-payload plus room for the header whole: a datagram cut short had a
  // body over the limit.
  if (request.maybe_truncated) {
    metrics_.rejected[static_cast<std::size_t>(RejectLabel::payload_too_large)].add();
    return too_large(settings_.max_payload);
  }
  if (!request.block1) {
    if (request.payload.size() > settings_.max_payload) {
      metrics_.rejected[static_cast<std::size_t>(RejectLabel::payload_too_large)].add();
      return too_large(settings_.max_payload);
    }
    return store({reinterpret_cast<const char*>(request.payload.data()), request.payload.size()},
                 request);
  }

  auto outcome = assembler_.add(request.peer, request.path, *request.block1, request.size1,
                                request.payload, coap::Block1Assembler::Clock::now());
  return std::visit(
      [&](auto& result) -> std::optional<Response> {
        using R = std::decay_t<decltype(result)>;
        if constexpr (std::is_same_v<R, coap::Block1Assembler::Continue>) {
          Response response(Code::continue_);
          response.block1 = request.block1;
          return response;
        } else if constexpr (std::is_same_v<R, coap::Block1Assembler::TooLarge>) {
          metrics_.rejected[static_cast<std::size_t>(RejectLabel::payload_too_large)].add();
          return too_large(settings_.max_payload);
        } else if constexpr (std::is_same_v<R, coap::Block1Assembler::Incomplete>) {
          return Response::text(Code::request_entity_incomplete,
                                "Block1 out of order; restart the upload at block 0");
        } else if constexpr (std::is_same_v<R, coap::Block1Assembler::Busy>) {
          auto response = Response::text(Code::service_unavailable, "too many uploads in progress");
          response.max_age = 1;
          return response;
        } else {
          auto response = store(result.body, request);
          // A deferred answer gets the option from the server (PendingExchange echoes it).
          if (response) {
            response->block1 =
                coap::BlockOption{request.block1->number, false, request.block1->size_exponent};
          }
          return response;
        }
      },
      outcome);
}

std::optional<Response> IngestHandler::store(std::string_view body, const coap::Request& request) {
  // The clock is read only when there is a limit: this runs for every request.
  const auto now = rate_limiter_ ? throttle::TokenBucketTable::Clock::now()
                                 : throttle::TokenBucketTable::Clock::time_point{};
  const auto device = device_key(request);
  // A device without a single token is refused before its body is parsed: a flooding device
  // costs the worker as little as possible.
  if (rate_limiter_) {
    if (auto decision = rate_limiter_->would_admit(device, 1, now); !decision.allowed) {
      return too_many_requests(decision);
    }
  }
  if (auto refused = store_.refuse_early(body.size(), request)) return refused;
  const std::int64_t received_at = now_epoch_ms();
  auto result = validator_.validate(body, received_at, request.identity);
  if (!result.ok()) {
    // A device posting as another is refused, not corrected (RFC 7252 §5.9.2.4: 4.03).
    const Code code = result.error->reason == event::RejectReason::sender_mismatch
                          ? Code::forbidden
                          : Code::bad_request;
    return reject(reject_label(result.error->reason), code, std::move(result.error->message));
  }
  const std::uint64_t events = result.events.size();
  if (rate_limiter_) {
    // Waiting would never help such a batch, so 4.29 would make the device retry forever.
    if (const std::uint64_t burst = rate_limiter_->limit().burst; events > burst) {
      return reject(RejectLabel::batch_too_large, Code::bad_request,
                    "batch of " + std::to_string(events) + " events exceeds --rate-burst " +
                        std::to_string(burst));
    }
    // The whole batch or nothing: a partly stored batch would be retried whole, duplicating.
    if (auto decision = rate_limiter_->would_admit(device, events, now); !decision.allowed) {
      return too_many_requests(decision);
    }
  }
  const event::StoredDocumentContext context{settings_.index, settings_.instance, received_at};
  // The strings keep their capacity from request to request: encoding allocates nothing once
  // they have grown to the documents' size (before, each grew from empty in ~5 steps).
  documents_.resize(result.events.size());
  for (std::size_t i = 0; i < result.events.size(); ++i) {
    documents_[i].clear();
    event::append_bulk_create(documents_[i], result.events[i], context);
  }
  auto answer = store_.store(documents_, request);
  // A store that defers its answer counts the events it accepts itself.
  if (answer && answer->code == Code::created) metrics_.events_accepted.add(result.events.size());
  // Tokens are taken only for events the store took: a request refused for another reason
  // (5.03 buffer full, 5.00 write error) costs the device nothing.
  if (rate_limiter_ && (!answer || answer->code == Code::created)) {
    take_tokens(request, events, now);
  }
  return answer;
}

void IngestHandler::take_tokens(const coap::Request& request, std::uint64_t events,
                                throttle::TokenBucketTable::Clock::time_point now) {
  const std::uint64_t untracked_before = rate_limiter_->untracked_admissions();
  rate_limiter_->admit(device_key(request), events, now);
  const std::uint64_t untracked = rate_limiter_->untracked_admissions() - untracked_before;
  if (untracked == 0) return;
  metrics_.rate_limit_untracked.add(untracked);
  if (untracked_before == 0) {
    logging::warn(
        "rate limit: table of devices full; new devices are not limited until "
        "tracked ones go idle (a flood of source addresses?)",
        {{"max_devices", throttle::TokenBucketTable::kDefaultMaxDevices},
         {"device", request.peer.to_string()}});
  }
}

Response IngestHandler::too_many_requests(const throttle::Decision& decision) {
  metrics_.rejected[static_cast<std::size_t>(RejectLabel::rate_limited)].add();
  const auto seconds = static_cast<std::uint32_t>(std::min<std::chrono::seconds::rep>(
      decision.retry_after.count(), std::numeric_limits<std::uint32_t>::max()));
  auto response =
      Response::text(Code::too_many_requests, rate_limit_text_ + std::to_string(seconds) + " s");
  // Max-Age tells the device when to come back (RFC 8516).
  response.max_age = seconds;
  return response;
}

Response IngestHandler::reject(RejectLabel label, Code code, std::string message) {
  metrics_.rejected[static_cast<std::size_t>(label)].add();
  return Response::text(code, std::move(message));
}

}  // namespace iot::collector
