#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <variant>

#include "loadgen/load_report.hpp"
#include "svg_chart.hpp"
#include "text_format.hpp"

namespace iot::loadgen {
namespace {

constexpr std::string_view kP50Colour = "#1f77b4";
constexpr std::string_view kP99Colour = "#d62728";
constexpr std::string_view kPercentileColour = "#2ca02c";

// No '<' or '&' in here: the page must stay well-formed XML too.
constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;color:#222;margin:2rem auto;max-width:860px;"
    "padding:0 1rem}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}"
    "table.summary{border-collapse:collapse}"
    "table.summary th,table.summary td{padding:.25rem .9rem .25rem 0;text-align:left;"
    "border-bottom:1px solid #e3e3e3;vertical-align:top}"
    "table.summary th{font-weight:600;white-space:nowrap}"
    "td.number{font-variant-numeric:tabular-nums}"
    "svg{display:block;max-width:100%;height:auto}";

std::string ms(double value) {
  return text::fixed(value, 3) + " ms";
}

void row(std::string& out, std::string_view label, std::string_view escaped_value) {
  out += "<tr><th scope=\"row\">";
  out += label;
  out += "</th><td class=\"number\">";
  out += escaped_value;
  out += "</td></tr>";
}

std::string summary_table(const LoadReport& report) {
  std::string out = "<table class=\"summary\"><tbody>";
  row(out, "Run", text::escape_html(report.run_id));
  row(out, "Target", text::escape_html(report.target));
  if (const auto* open = std::get_if<OpenLoop>(&report.mode)) {
    row(out, "Mode", "open loop, " + text::shortest(open->requests_per_second) + " requests/s");
  } else {
    row(out, "Mode",
        "closed loop, " + text::integer(std::get<ClosedLoop>(report.mode).concurrency) +
            " requests in flight");
  }
  row(out, "Senders",
      text::integer(report.threads) + " threads, " + text::integer(report.devices) + " devices" +
          (report.devices_by_address ? " (one loopback address each)" : ""));
  row(out, "Messages",
      std::string(report.message_type == MessageType::confirmable ? "CON" : "NON") + ", " +
          text::integer(report.batch) + " events and " + text::integer(report.payload_bytes) +
          " bytes per request");
  row(out, "Started", text::rfc3339_utc(report.started_at));
  row(out, "Duration", text::fixed(report.duration_seconds, 2) + " s");
  row(out, "Requests sent",
      text::integer(report.requests_sent) + " (" + text::integer(report.events_sent) + " events)");
  row(out, "Answered",
      text::integer(report.answered()) + " (" + text::fixed(report.throughput_per_second(), 1) +
          " answers/s)");
  std::string responses;
  for (const auto& [code, count] : report.responses) {
    if (!responses.empty()) responses += ", ";
    responses += text::escape_html(code) + ": " + text::integer(count);
  }
  row(out, "Responses", responses.empty() ? "none" : responses);
  row(out, "Timeouts", text::integer(report.timeouts));
  row(out, "Retransmissions", text::integer(report.retransmissions));
  row(out, "Send errors", text::integer(report.send_errors));
  row(out, "Error rate", text::fixed(report.error_rate() * 100.0, 3) + " %");
  const LatencySummary& latency = report.latency;
  if (latency.samples == 0) {
    row(out, "Latency", "no answers");
  } else {
    row(out, "Latency",
        "p50 " + ms(latency.p50_ms) + ", p90 " + ms(latency.p90_ms) + ", p99 " +
            ms(latency.p99_ms) + ", p99.9 " + ms(latency.p99_9_ms) + ", max " + ms(latency.max_ms) +
            ", mean " + ms(latency.mean_ms) + " (" + text::integer(latency.samples) + " answers)");
  }
  if (report.handshakes) {
    const HandshakeSummary& h = *report.handshakes;
    std::string text = text::integer(h.established) + " established, " + text::integer(h.failed) +
                       " failed (" + text::fixed(report.handshakes_per_second(), 1) + "/s" +
                       (h.before_run_seconds > 0
                            ? ", in " + text::fixed(h.before_run_seconds, 2) + " s before the run"
                            : std::string()) +
                       ")";
    if (h.time.samples > 0) {
      text += ", p50 " + ms(h.time.p50_ms) + ", p99 " + ms(h.time.p99_ms);
    }
    text += ", client CPU " + ms(h.client_cpu_ms_per_handshake) + " each";
    row(out, "DTLS handshakes", text);
  }
  out += "</tbody></table>";
  return out;
}

svg::Axis y_axis_up_to(double max_ms) {
  svg::Axis axis{.title = "latency (ms)", .min = 0, .max = 1, .ticks = {}};
  axis.ticks = svg::ticks_from_zero(max_ms, 5);
  axis.max = axis.ticks.back().at;
  return axis;
}

std::string latency_over_time_chart(const LoadReport& report) {
  svg::Series p50{.name = "p50", .label = "p50", .colour = std::string(kP50Colour), .points = {}};
  svg::Series p99{.name = "p99", .label = "p99", .colour = std::string(kP99Colour), .points = {}};
  double seconds = std::ceil(std::isfinite(report.duration_seconds) ? report.duration_seconds : 0);
  double highest_ms = 0;
  for (const SecondSample& sample : report.per_second) {
    // Each second is drawn at its middle: a 1-second run gets a point inside the axis.
    const double x = static_cast<double>(sample.second) + 0.5;
    seconds = std::max(seconds, static_cast<double>(sample.second) + 1);
    if (sample.p50_ms) {
      p50.points.push_back({x, *sample.p50_ms});
      highest_ms = std::max(highest_ms, *sample.p50_ms);
    }
    if (sample.p99_ms) {
      p99.points.push_back({x, *sample.p99_ms});
      highest_ms = std::max(highest_ms, *sample.p99_ms);
    }
  }
  svg::LineChart chart;
  chart.id = "latency-over-time";
  chart.title = "Latency over time: p50 and p99 of each second";
  chart.x.title = "time since start (s)";
  chart.x.ticks = svg::ticks_from_zero(std::max(seconds, 1.0), 10, 1.0);  // whole seconds
  chart.x.max = chart.x.ticks.back().at;
  chart.y = y_axis_up_to(highest_ms);
  chart.series = {std::move(p50), std::move(p99)};
  chart.empty_message = "no answers";
  return svg::render(chart);
}

// 0 %, 90 %, 99 %, 99.9 %, ...: the percentile at 10^decade on the 1/(1-p) axis.
std::string percentile_label(int decade) {
  if (decade == 0) return "0%";
  if (decade == 1) return "90%";
  if (decade == 2) return "99%";
  return "99." + std::string(static_cast<std::size_t>(decade - 2), '9') + "%";
}

std::string latency_by_percentile_chart(const HdrHistogram& latency_us) {
  svg::Series curve{.name = "percentile",
                    .label = "latency at percentile",
                    .colour = std::string(kPercentileColour),
                    .points = {}};
  double furthest_decade = 0;
  for (const PercentilePoint& point : latency_us.percentile_distribution()) {
    // 100 % lies at infinity on this axis; the maximum is drawn as a rule instead.
    if (point.percentile >= 100.0) continue;
    const double x = std::log10(1.0 / (1.0 - point.percentile / 100.0));
    curve.points.push_back({x, static_cast<double>(point.value) / 1000.0});
    furthest_decade = std::max(furthest_decade, x);
  }
  const int decades = std::max(3, static_cast<int>(std::ceil(furthest_decade - 1e-9)));
  const double max_ms = static_cast<double>(latency_us.max()) / 1000.0;

  svg::LineChart chart;
  chart.id = "latency-by-percentile";
  chart.title = "Latency by percentile";
  chart.x.title = "percentile (logarithmic in 1/(1-p))";
  chart.x.max = decades;
  for (int decade = 0; decade <= decades; ++decade) {
    chart.x.ticks.push_back({static_cast<double>(decade), percentile_label(decade)});
  }
  chart.y = y_axis_up_to(max_ms);
  if (latency_us.total_count() > 0) {
    chart.rules.push_back({max_ms, "max " + text::fixed(max_ms, 3) + " ms"});
  }
  chart.series = {std::move(curve)};
  chart.empty_message = "no answers";
  return svg::render(chart);
}

}  // namespace

std::string render_html(const LoadReport& report, const HdrHistogram& latency_us) {
  const std::string run_id = text::escape_html(report.run_id);
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
      "<title>iotc load report " +
      run_id + "</title>\n<style>";
  page += kStyle;
  page += "</style>\n</head>\n<body>\n<h1>iotc load report " + run_id + "</h1>\n";
  page += summary_table(report);
  page += "\n<h2>Latency over time</h2>\n";
  page += latency_over_time_chart(report);
  page += "\n<h2>Latency by percentile</h2>\n";
  page += latency_by_percentile_chart(latency_us);
  page += "\n<p>The percentile chart is drawn from an HDR histogram of microseconds with " +
          text::integer(static_cast<std::uint64_t>(latency_us.significant_digits())) +
          " significant digits.</p>\n</body>\n</html>\n";
  return page;
}

}  // namespace iot::loadgen
