#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <thread>

#include "elastic/bootstrap_documents.hpp"
#include "elastic/http_client.hpp"
#include "elastic/retry_policy.hpp"
#include "self_metrics.hpp"

namespace iot::collector {

// Start-up and health of Elasticsearch, in the background on a thread of its own: start-up never
// blocks on Elasticsearch. First (unless bootstrap is off) it installs the lifecycle policy and the
// index templates of the data stream and its dead-letter stream, idempotently, retrying with
// backoff; then it checks cluster health every few seconds. bootstrapped() gates writing (a
// document written before the template exists would create a plain index with guessed mappings);
// up() feeds /readyz and /metrics. With self-metrics, it also writes the collector's own metrics
// document every interval once bootstrapped.
class ElasticsearchMonitor {
 public:
  ElasticsearchMonitor(elastic::HttpClientSettings http, elastic::BootstrapSettings bootstrap,
                       bool install_templates);
  ~ElasticsearchMonitor();
  ElasticsearchMonitor(const ElasticsearchMonitor&) = delete;
  ElasticsearchMonitor& operator=(const ElasticsearchMonitor&) = delete;

  // Before start(): write a self-metrics document every `interval`.
  void report_self_metrics(std::chrono::seconds interval,
                           std::unique_ptr<SelfMetricsReporter> reporter);
  void start();
  void stop();

  const std::atomic<bool>& bootstrapped() const { return bootstrapped_; }
  bool up() const { return up_.load(std::memory_order_relaxed); }

 private:
  void install(std::size_t step);
  void check_health();
  void retry_later(std::function<void()> again);
  void schedule_self_metrics();
  void send_self_metrics();

  elastic::BootstrapSettings bootstrap_;
  bool install_templates_;
  boost::asio::io_context io_;
  elastic::HttpClient client_;
  boost::asio::steady_timer timer_;
  elastic::RetryPolicy retry_{std::chrono::milliseconds(500), std::chrono::seconds(30)};
  unsigned failures_ = 0;
  std::chrono::seconds self_metrics_interval_{0};
  std::unique_ptr<SelfMetricsReporter> self_metrics_;
  boost::asio::steady_timer self_metrics_timer_;
  unsigned self_metrics_failures_ = 0;
  std::atomic<bool> bootstrapped_{false};
  std::atomic<bool> up_{false};
  std::thread thread_;
};

}  // namespace iot::collector
