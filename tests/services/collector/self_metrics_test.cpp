#include "self_metrics.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace iot::collector {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct Lines {
  json::object action;
  json::object source;
};

Lines lines_of(const std::string& body) {
  const auto newline = body.find('\n');
  EXPECT_NE(newline, std::string::npos);
  EXPECT_EQ(body.back(), '\n') << "a bulk body ends in a newline";
  return {json::parse(body.substr(0, newline)).as_object(),
          json::parse(body.substr(newline + 1)).as_object()};
}

std::int64_t count_at(const json::object& source, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* o = &source;
  for (const auto key : path) {
    v = &o->at(key);
    if (v->is_object()) o = &v->as_object();
  }
  return v->to_number<std::int64_t>();
}

class SelfMetricsReporterTest : public ::testing::Test {
 protected:
  SelfMetricsReporter make() {
    return SelfMetricsReporter("iot-events-collector", "pod-1",
                               {[this] { return totals_; },
                                [] {
                                  return ProcessState{true, 2, true, true};
                                }});
  }
  MetricTotals totals_;
  const std::chrono::system_clock::time_point t0_ = std::chrono::system_clock::now();
};

TEST_F(SelfMetricsReporterTest, ADocumentCarriesWhatHappenedSinceTheLastStoredOne) {
  auto reporter = make();
  totals_.events_accepted = 100;
  totals_.responses_success = 90;
  totals_.documents_created = 95;
  totals_.buffered_bytes = 4096;
  const auto first = lines_of(reporter.next_bulk_body(t0_ + 10s));
  EXPECT_EQ(first.action.at("create").at("_index"), "iot-events-collector");
  EXPECT_EQ(first.source.at("collector"), "pod-1");
  EXPECT_EQ(first.source.at("ready"), true);
  EXPECT_EQ(count_at(first.source, {"workers"}), 2);
  EXPECT_EQ(count_at(first.source, {"events", "accepted"}), 100);
  EXPECT_EQ(count_at(first.source, {"coap", "responses", "success"}), 90);
  EXPECT_EQ(count_at(first.source, {"elasticsearch", "documents", "created"}), 95);
  EXPECT_EQ(count_at(first.source, {"elasticsearch", "buffered_bytes"}), 4096);
  reporter.stored();

  totals_.events_accepted = 130;
  totals_.buffered_bytes = 0;
  const auto second = lines_of(reporter.next_bulk_body(t0_ + 20s));
  EXPECT_EQ(count_at(second.source, {"events", "accepted"}), 30) << "a delta, not the total";
  EXPECT_EQ(count_at(second.source, {"elasticsearch", "buffered_bytes"}), 0) << "a gauge";
  EXPECT_DOUBLE_EQ(second.source.at("interval_s").as_double(), 10.0);
  EXPECT_NE(first.action.at("create").at("_id"), second.action.at("create").at("_id"));
}

TEST_F(SelfMetricsReporterTest, AnUnstoredDocumentIsSentAgainUnchangedSoNothingCountsTwice) {
  auto reporter = make();
  totals_.events_accepted = 10;
  const std::string first = reporter.next_bulk_body(t0_ + 10s);
  totals_.events_accepted = 25;
  EXPECT_EQ(reporter.next_bulk_body(t0_ + 20s), first) << "same _id: a lost answer is a 409";
  reporter.stored();
  const auto next = lines_of(reporter.next_bulk_body(t0_ + 30s));
  EXPECT_EQ(count_at(next.source, {"events", "accepted"}), 15) << "10 were in the first document";
  EXPECT_DOUBLE_EQ(next.source.at("interval_s").as_double(), 20.0);
}

TEST_F(SelfMetricsReporterTest, MeanLatencyCoversOnlyTheInterval) {
  auto reporter = make();
  totals_.acknowledgement_duration.count = 2;
  totals_.acknowledgement_duration.sum_seconds = 0.010;
  const auto first = lines_of(reporter.next_bulk_body(t0_ + 1s));
  EXPECT_NEAR(first.source.at("acknowledgement").at("latency_ms").as_double(), 5.0, 1e-9);
  reporter.stored();
  totals_.acknowledgement_duration.count = 3;
  totals_.acknowledgement_duration.sum_seconds = 0.040;
  const auto second = lines_of(reporter.next_bulk_body(t0_ + 2s));
  EXPECT_NEAR(second.source.at("acknowledgement").at("latency_ms").as_double(), 30.0, 1e-9);
  EXPECT_EQ(count_at(second.source, {"acknowledgement", "count"}), 1);
  reporter.stored();
  const auto idle = lines_of(reporter.next_bulk_body(t0_ + 3s));
  EXPECT_EQ(idle.source.at("acknowledgement").at("latency_ms").as_double(), 0.0);
}

TEST(TotalMetrics, SumsWorkersAndClassifiesResponseCodes) {
  WorkerMetrics a, b;
  a.count_request(coap::Method::post, PathLabel::events, coap::Code::created, 1000);
  b.count_request(coap::Method::post, PathLabel::events, coap::Code::created, 1000);
  b.count_request(coap::Method::post, PathLabel::events, coap::Code::bad_request, 1000);
  b.count_request(coap::Method::get, PathLabel::other, coap::Code::not_found, 1000);
  a.count_request(coap::Method::post, PathLabel::events, coap::Code::service_unavailable, 1000);
  a.elasticsearch.created.add(7);
  b.elasticsearch.created.add(3);
  b.elasticsearch.too_large.add();
  a.rejected[0].add(2);
  const WorkerMetrics* workers[] = {&a, &b};
  const MetricTotals t = total_metrics(workers);
  EXPECT_EQ(t.requests, 5u);
  EXPECT_EQ(t.responses_success, 2u);
  EXPECT_EQ(t.responses_client_error, 2u);
  EXPECT_EQ(t.responses_server_error, 1u);
  EXPECT_EQ(t.documents_created, 10u);
  EXPECT_EQ(t.documents_too_large, 1u);
  EXPECT_EQ(t.events_rejected, 2u);
}

}  // namespace
}  // namespace iot::collector
