#include "elasticsearch_monitor.hpp"

#include <boost/asio/post.hpp>
#include <random>

#include "elastic/bulk_response.hpp"
#include "elastic/http_bulk_transport.hpp"
#include "logging/log.hpp"

namespace iot::collector {
namespace {

constexpr auto kHealthInterval = std::chrono::seconds(5);

struct InstallStep {
  std::string what;
  elastic::HttpRequest request;
};

// Order matters: the templates name the policy.
std::vector<InstallStep> install_steps(const elastic::BootstrapSettings& settings) {
  const std::string policy = elastic::lifecycle_policy_name(settings);
  const std::string dead_letters = elastic::dead_letter_stream(settings);
  const std::string self_metrics = elastic::self_metrics_stream(settings);
  return {
      {"lifecycle policy " + policy,
       {"PUT", "/_ilm/policy/" + policy, "application/json",
        elastic::lifecycle_policy_body(settings)}},
      {"index template " + settings.data_stream,
       {"PUT", "/_index_template/" + settings.data_stream, "application/json",
        elastic::index_template_body(settings)}},
      {"index template " + dead_letters,
       {"PUT", "/_index_template/" + dead_letters, "application/json",
        elastic::dead_letter_template_body(settings)}},
      {"index template " + self_metrics,
       {"PUT", "/_index_template/" + self_metrics, "application/json",
        elastic::self_metrics_template_body(settings)}},
  };
}

}  // namespace

ElasticsearchMonitor::ElasticsearchMonitor(elastic::HttpClientSettings http,
                                           elastic::BootstrapSettings bootstrap,
                                           bool install_templates)
    : bootstrap_(std::move(bootstrap)),
      install_templates_(install_templates),
      client_(io_, std::move(http)),
      timer_(io_),
      self_metrics_timer_(io_) {}

ElasticsearchMonitor::~ElasticsearchMonitor() {
  stop();
}

void ElasticsearchMonitor::report_self_metrics(std::chrono::seconds interval,
                                               std::unique_ptr<SelfMetricsReporter> reporter) {
  self_metrics_interval_ = interval;
  self_metrics_ = std::move(reporter);
}

void ElasticsearchMonitor::start() {
  boost::asio::post(io_, [this] {
    if (install_templates_) {
      install(0);
    } else {
      bootstrapped_ = true;
      check_health();
    }
    if (self_metrics_) schedule_self_metrics();
  });
  thread_ = std::thread([this] { io_.run(); });
}

void ElasticsearchMonitor::stop() {
  if (!thread_.joinable()) return;
  boost::asio::post(io_, [this] {
    timer_.cancel();
    self_metrics_timer_.cancel();
    client_.shutdown();
    io_.stop();
  });
  thread_.join();
}

void ElasticsearchMonitor::install(std::size_t step) {
  const auto steps = install_steps(bootstrap_);
  if (step == steps.size()) {
    // Writes open before the line is logged: whoever reads the log may send events at once.
    bootstrapped_ = true;
    logging::info("elasticsearch bootstrap complete",
                  {{"data_stream", bootstrap_.data_stream},
                   {"policy", elastic::lifecycle_policy_name(bootstrap_)}});
    failures_ = 0;
    check_health();
    return;
  }
  client_.send(steps[step].request, [this, step,
                                     what = steps[step].what](elastic::HttpResult result) {
    if (result.response && result.response->status / 100 == 2) {
      failures_ = 0;
      install(step + 1);
      return;
    }
    up_ = false;
    const std::string error = result.response ? "HTTP " + std::to_string(result.response->status) +
                                                    ": " + result.response->body.substr(0, 300)
                                              : result.detail;
    // Every retry would log the same line: the first failure and then every tenth.
    if (failures_ % 10 == 0) {
      logging::warn("elasticsearch bootstrap failed; retrying",
                    {{"step", what}, {"error", error}, {"attempt", failures_ + 1}});
    }
    retry_later([this, step] { install(step); });
  });
}

void ElasticsearchMonitor::check_health() {
  client_.send(
      {"GET", "/_cluster/health", "application/json", ""}, [this](elastic::HttpResult result) {
        const bool ok = result.response && result.response->status == 200;
        if (ok != up_.exchange(ok)) {
          if (ok) {
            logging::info("elasticsearch reachable");
          } else {
            logging::warn(
                "elasticsearch unreachable",
                {{"error", result.response ? "HTTP " + std::to_string(result.response->status)
                                           : result.detail}});
          }
        }
        timer_.expires_after(kHealthInterval);
        timer_.async_wait([this](const boost::system::error_code& error) {
          if (!error) check_health();
        });
      });
}

void ElasticsearchMonitor::retry_later(std::function<void()> again) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  timer_.expires_after(retry_.delay(failures_++, random()));
  timer_.async_wait([again = std::move(again)](const boost::system::error_code& error) {
    if (!error) again();
  });
}

void ElasticsearchMonitor::schedule_self_metrics() {
  self_metrics_timer_.expires_after(self_metrics_interval_);
  self_metrics_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) send_self_metrics();
  });
}

// Best effort, but exactly once: a document that fails is sent again, unchanged, next interval.
// Before bootstrap the stream's template may be missing, so nothing is written yet.
void ElasticsearchMonitor::send_self_metrics() {
  if (!bootstrapped_) {
    schedule_self_metrics();
    return;
  }
  client_.send({"POST", elastic::kBulkTarget, "application/x-ndjson",
                self_metrics_->next_bulk_body(std::chrono::system_clock::now())},
               [this](elastic::HttpResult result) {
                 std::string error;
                 if (!result.response) {
                   error = result.detail;
                 } else if (result.response->status != 200) {
                   error = "HTTP " + std::to_string(result.response->status);
                 } else {
                   auto parsed = elastic::parse_bulk_response(result.response->body, 1);
                   if (auto* bulk = std::get_if<elastic::BulkResult>(&parsed)) {
                     const auto& item = bulk->items.front();
                     if (item.outcome == elastic::ItemOutcome::created ||
                         item.outcome == elastic::ItemOutcome::duplicate) {
                       self_metrics_->stored();
                       self_metrics_failures_ = 0;
                     } else {
                       error = "item " + std::to_string(item.status) + ": " + item.reason;
                     }
                   } else {
                     error = std::get<std::string>(parsed);
                   }
                 }
                 if (!error.empty() && self_metrics_failures_++ % 10 == 0) {
                   logging::warn("self-metrics document not stored; retrying next interval",
                                 {{"error", error}, {"failures", self_metrics_failures_}});
                 }
                 schedule_self_metrics();
               });
}

}  // namespace iot::collector
