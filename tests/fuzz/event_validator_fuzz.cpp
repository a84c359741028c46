// libFuzzer target: the bytes are a POST /events body. They go through the event validator as
// the collector's IngestHandler runs it, and every accepted event through the bulk encoder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bulk_document_check.hpp"
#include "event/bulk_encoder.hpp"
#include "event/validator.hpp"
#include "fuzz_check.hpp"

namespace {

using iot::event::EventValidator;
using iot::event::ValidationResult;

// 2026-11-22T10:00:05Z: fixed, so a crash replays the same way on any day.
constexpr std::int64_t kReceivedAt = 1'795'341'605'000;
constexpr std::size_t kMaxBatch = 100;

bool is_printable_ascii(std::string_view text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

void check_rejection(const ValidationResult& result) {
  FUZZ_CHECK(result.events.empty());
  const std::string& message = result.error->message;
  // The diagnostic goes back to the device as text/plain: short and free of echoed raw bytes.
  FUZZ_CHECK(!message.empty());
  FUZZ_CHECK(message.size() <= 200);
  FUZZ_CHECK(is_printable_ascii(message));
}

void check_acceptance(const ValidationResult& result) {
  FUZZ_CHECK(!result.events.empty() && result.events.size() <= kMaxBatch);
  const iot::event::StoredDocumentContext context{"iot-events", "fuzz-0", kReceivedAt};
  std::string bulk_body;  // every document of the request, as one bulk request carries them
  for (const auto& event : result.events) {
    std::string document;
    iot::event::append_bulk_create(document, event, context);
    iot::fuzz::check_bulk_document(document);
    FUZZ_CHECK(iot::event::event_id(event) == iot::event::event_id(event));
    bulk_body += document;
  }
  std::size_t lines = 0;
  for (const char c : bulk_body) lines += c == '\n' ? 1 : 0;
  FUZZ_CHECK(lines == 2 * result.events.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  EventValidator validator(iot::event::ValidationLimits{.max_batch = kMaxBatch});
  const ValidationResult result = validator.validate(body, kReceivedAt);
  if (result.ok()) {
    check_acceptance(result);
  } else {
    check_rejection(result);
  }
  // A worker's validator reuses its parser memory: a second look at the same body must agree.
  const ValidationResult again = validator.validate(body, kReceivedAt);
  FUZZ_CHECK(again.ok() == result.ok());
  FUZZ_CHECK(again.events.size() == result.events.size());
  if (!result.ok()) {
    FUZZ_CHECK(again.error->reason == result.error->reason);
    FUZZ_CHECK(again.error->message == result.error->message);
  }
  return 0;
}
