#include "svg_chart.hpp"

#include <algorithm>
#include <cmath>

#include "text_format.hpp"

namespace iot::loadgen::svg {
namespace {

constexpr double kWidth = 800;
constexpr double kHeight = 340;
constexpr double kLeft = 72;    // room for the y tick labels and the rotated y title
constexpr double kRight = 44;   // room for the last x tick label, centred on the axis end
constexpr double kTop = 40;     // room for the legend
constexpr double kBottom = 52;  // room for the x tick labels and the x title
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = kHeight - kTop - kBottom;
// Beyond this many points the markers would merge into a thick line; below it they make single
// points (a 1-second run) visible.
constexpr std::size_t kMaxMarkedPoints = 60;

std::string coordinate(double value) {
  return text::fixed(value, 1);
}

double clamp_fraction(double value, double min, double max) {
  if (!(max > min)) return 0.0;
  return std::clamp((value - min) / (max - min), 0.0, 1.0);
}

double to_x(const Axis& axis, double value) {
  return kLeft + clamp_fraction(value, axis.min, axis.max) * kPlotWidth;
}

double to_y(const Axis& axis, double value) {
  return kTop + kPlotHeight - clamp_fraction(value, axis.min, axis.max) * kPlotHeight;
}

void append_axes(std::string& out, const LineChart& chart) {
  const std::string plot_bottom = coordinate(kTop + kPlotHeight);
  const std::string plot_right = coordinate(kLeft + kPlotWidth);
  out += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">";
  for (const Tick& tick : chart.y.ticks) {
    const std::string y = coordinate(to_y(chart.y, tick.at));
    out += "<line x1=\"" + coordinate(kLeft) + "\" y1=\"" + y + "\" x2=\"" + plot_right +
           "\" y2=\"" + y + "\"/>";
  }
  for (const Tick& tick : chart.x.ticks) {
    const std::string x = coordinate(to_x(chart.x, tick.at));
    out += "<line x1=\"" + x + "\" y1=\"" + coordinate(kTop) + "\" x2=\"" + x + "\" y2=\"" +
           plot_bottom + "\"/>";
  }
  out += "</g>";

  out += "<g class=\"axes\" stroke=\"#444\" stroke-width=\"1\">";
  out += "<line x1=\"" + coordinate(kLeft) + "\" y1=\"" + plot_bottom + "\" x2=\"" + plot_right +
         "\" y2=\"" + plot_bottom + "\"/>";
  out += "<line x1=\"" + coordinate(kLeft) + "\" y1=\"" + coordinate(kTop) + "\" x2=\"" +
         coordinate(kLeft) + "\" y2=\"" + plot_bottom + "\"/>";
  out += "</g>";

  out += "<g class=\"tick-labels\" fill=\"#333\">";
  for (const Tick& tick : chart.x.ticks) {
    out += "<text x=\"" + coordinate(to_x(chart.x, tick.at)) + "\" y=\"" +
           coordinate(kTop + kPlotHeight + 18) + "\" text-anchor=\"middle\">" +
           text::escape_html(tick.label) + "</text>";
  }
  for (const Tick& tick : chart.y.ticks) {
    out += "<text x=\"" + coordinate(kLeft - 8) + "\" y=\"" +
           coordinate(to_y(chart.y, tick.at) + 4) + "\" text-anchor=\"end\">" +
           text::escape_html(tick.label) + "</text>";
  }
  out += "</g>";

  const double y_title_x = 18;
  const double y_title_y = kTop + kPlotHeight / 2;
  out += "<text class=\"axis-title\" x=\"" + coordinate(kLeft + kPlotWidth / 2) + "\" y=\"" +
         coordinate(kHeight - 10) + "\" text-anchor=\"middle\">" +
         text::escape_html(chart.x.title) + "</text>";
  out += "<text class=\"axis-title\" x=\"" + coordinate(y_title_x) + "\" y=\"" +
         coordinate(y_title_y) + "\" text-anchor=\"middle\" transform=\"rotate(-90 " +
         coordinate(y_title_x) + " " + coordinate(y_title_y) + ")\">" +
         text::escape_html(chart.y.title) + "</text>";
}

void append_series(std::string& out, const LineChart& chart) {
  for (const Series& series : chart.series) {
    const std::string name = text::escape_html(series.name);
    const std::string colour = text::escape_html(series.colour);
    std::string points;
    for (const Point& point : series.points) {
      if (!points.empty()) points += ' ';
      points += coordinate(to_x(chart.x, point.x)) + "," + coordinate(to_y(chart.y, point.y));
    }
    // Present even without points, so the page always has the same structure to inspect.
    out += "<polyline class=\"series " + name + "\" data-series=\"" + name +
           "\" fill=\"none\" stroke=\"" + colour +
           "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"" + points + "\"/>";
    if (!series.points.empty() && series.points.size() <= kMaxMarkedPoints) {
      out += "<g class=\"markers " + name + "\" fill=\"" + colour + "\">";
      for (const Point& point : series.points) {
        out += "<circle cx=\"" + coordinate(to_x(chart.x, point.x)) + "\" cy=\"" +
               coordinate(to_y(chart.y, point.y)) + "\" r=\"3\"/>";
      }
      out += "</g>";
    }
  }
}

void append_rules(std::string& out, const LineChart& chart) {
  for (const HorizontalRule& rule : chart.rules) {
    const std::string y = coordinate(to_y(chart.y, rule.y));
    out += "<g class=\"rule\"><line x1=\"" + coordinate(kLeft) + "\" y1=\"" + y + "\" x2=\"" +
           coordinate(kLeft + kPlotWidth) + "\" y2=\"" + y +
           "\" stroke=\"#777\" stroke-dasharray=\"4 3\"/><text x=\"" +
           coordinate(kLeft + kPlotWidth - 4) + "\" y=\"" + coordinate(to_y(chart.y, rule.y) - 4) +
           "\" text-anchor=\"end\" fill=\"#555\">" + text::escape_html(rule.label) + "</text></g>";
  }
}

void append_legend(std::string& out, const LineChart& chart) {
  out += "<g class=\"legend\">";
  double x = kLeft;
  for (const Series& series : chart.series) {
    const std::string colour = text::escape_html(series.colour);
    out += "<line x1=\"" + coordinate(x) + "\" y1=\"20\" x2=\"" + coordinate(x + 24) +
           "\" y2=\"20\" stroke=\"" + colour + "\" stroke-width=\"3\"/>";
    out += "<text x=\"" + coordinate(x + 30) + "\" y=\"24\">" + text::escape_html(series.label) +
           "</text>";
    x += 40 + 8 * static_cast<double>(series.label.size());
  }
  out += "</g>";
}

}  // namespace

std::string render(const LineChart& chart) {
  const std::string id = text::escape_html(chart.id);
  std::string out = "<svg id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    coordinate(kWidth) + "\" height=\"" + coordinate(kHeight) +
                    "\" viewBox=\"0 0 " + coordinate(kWidth) + " " + coordinate(kHeight) +
                    "\" role=\"img\" aria-labelledby=\"" + id +
                    "-title\" font-family=\"sans-serif\" font-size=\"12\">";
  out += "<title id=\"" + id + "-title\">" + text::escape_html(chart.title) + "</title>";
  append_axes(out, chart);
  append_rules(out, chart);
  append_series(out, chart);
  append_legend(out, chart);
  const bool empty = std::all_of(chart.series.begin(), chart.series.end(),
                                 [](const Series& series) { return series.points.empty(); });
  if (empty && !chart.empty_message.empty()) {
    out += "<text class=\"empty\" x=\"" + coordinate(kLeft + kPlotWidth / 2) + "\" y=\"" +
           coordinate(kTop + kPlotHeight / 2) + "\" text-anchor=\"middle\" fill=\"#777\">" +
           text::escape_html(chart.empty_message) + "</text>";
  }
  out += "</svg>";
  return out;
}

std::vector<Tick> ticks_from_zero(double max, int target_count, double min_step) {
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  target_count = std::max(target_count, 1);
  const double raw_step = max / target_count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  const double normalised = raw_step / magnitude;
  const double step = std::max((normalised <= 1   ? 1
                                : normalised <= 2 ? 2
                                : normalised <= 5 ? 5
                                                  : 10) *
                                   magnitude,
                               min_step);
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  const auto count = static_cast<int>(std::ceil(max / step - 1e-9));
  std::vector<Tick> ticks;
  for (int i = 0; i <= count; ++i) {
    const double at = step * i;
    ticks.push_back({at, text::fixed(at, decimals)});
  }
  return ticks;
}

}  // namespace iot::loadgen::svg
