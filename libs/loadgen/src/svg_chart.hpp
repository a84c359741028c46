#pragma once

#include <string>
#include <string_view>
#include <vector>

// A small inline-SVG line chart for the HTML report: axes with ticks and titles, grid lines, a
// legend and one polyline per series. No scripts and no external resources, so the page works
// offline, in a mail attachment and in a CI artifact viewer.
namespace iot::loadgen::svg {

struct Point {
  double x = 0;
  double y = 0;
};

struct Series {
  std::string name;    // data-series attribute and CSS class: what tests and stylesheets select
  std::string label;   // legend text
  std::string colour;  // any SVG colour
  std::vector<Point> points;
};

struct Tick {
  double at = 0;
  std::string label;
};

struct Axis {
  std::string title;  // with its unit
  double min = 0;
  double max = 1;
  std::vector<Tick> ticks;
};

// A dashed horizontal line with a label, e.g. the maximum that a log axis cannot place.
struct HorizontalRule {
  double y = 0;
  std::string label;
};

struct LineChart {
  std::string id;     // the <svg> element's id
  std::string title;  // accessible name
  Axis x;
  Axis y;
  std::vector<Series> series;
  std::vector<HorizontalRule> rules;
  std::string empty_message;  // shown when no series has a point
};

std::string render(const LineChart& chart);

// Ticks from 0 at a 1-2-5 step of at least `min_step`, about `target_count` of them, up to at
// least `max`; the last tick is the axis end. Labels get as many decimals as the step needs.
std::vector<Tick> ticks_from_zero(double max, int target_count, double min_step = 0);

}  // namespace iot::loadgen::svg
