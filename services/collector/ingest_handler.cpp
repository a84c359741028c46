#include "ingest_handler.hpp"

#include <chrono>
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

}  // namespace

IngestHandler::IngestHandler(IngestSettings settings, EventStore& store, WorkerMetrics& metrics,
                             const std::atomic<bool>& draining)
    : settings_(std::move(settings)),
      store_(store),
      metrics_(metrics),
      draining_(draining),
      validator_(event::ValidationLimits{.max_batch = settings_.max_batch}),
      assembler_(coap::Block1Assembler::Limits{.max_body_bytes = settings_.max_payload}) {}

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
  if (auto refused = store_.refuse_early(body.size(), request)) return refused;
  const std::int64_t received_at = now_epoch_ms();
  auto result = validator_.validate(body, received_at);
  if (!result.ok()) {
    return reject(reject_label(result.error->reason), Code::bad_request,
                  std::move(result.error->message));
  }
  const event::StoredDocumentContext context{settings_.index, settings_.instance, received_at};
  std::vector<std::string> documents(result.events.size());
  for (std::size_t i = 0; i < result.events.size(); ++i) {
    event::append_bulk_create(documents[i], result.events[i], context);
  }
  auto answer = store_.store(std::move(documents), request);
  // A store that defers its answer counts the events it accepts itself.
  if (answer && answer->code == Code::created) metrics_.events_accepted.add(result.events.size());
  return answer;
}

Response IngestHandler::reject(RejectLabel label, Code code, std::string message) {
  metrics_.rejected[static_cast<std::size_t>(label)].add();
  return Response::text(code, std::move(message));
}

}  // namespace iot::collector
