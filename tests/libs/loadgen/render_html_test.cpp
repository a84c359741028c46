#include <gtest/gtest.h>

// rapidxml as shipped inside Boost.PropertyTree: a strict enough XML parser to prove the page is
// well-formed (closing tags are validated), without another dependency.
#include <boost/property_tree/detail/rapidxml.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/load_report.hpp"

namespace iot::loadgen {
namespace {

namespace rapidxml = boost::property_tree::detail::rapidxml;
using namespace std::chrono_literals;

struct Polyline {
  std::string svg_id;
  std::string classes;
  std::string series;
  std::vector<std::pair<double, double>> points;
};

struct ParsedPage {
  std::string root;
  std::vector<std::string> svg_ids;
  std::vector<Polyline> polylines;
  std::map<std::string, int> circles_by_svg;
  std::string texts;  // every <text> of the charts, one per line
};

std::string attribute(const rapidxml::xml_node<>* node, const char* name) {
  const rapidxml::xml_attribute<>* found = node->first_attribute(name);
  return found == nullptr ? std::string() : std::string(found->value(), found->value_size());
}

std::vector<std::pair<double, double>> points_of(const std::string& text) {
  std::vector<std::pair<double, double>> points;
  const char* cursor = text.c_str();
  double x = 0;
  double y = 0;
  int consumed = 0;
  while (std::sscanf(cursor, " %lf,%lf%n", &x, &y, &consumed) == 2) {
    points.emplace_back(x, y);
    cursor += consumed;
  }
  return points;
}

void walk(const rapidxml::xml_node<>* node, const std::string& svg_id, ParsedPage& page) {
  for (const rapidxml::xml_node<>* child = node->first_node(); child != nullptr;
       child = child->next_sibling()) {
    if (child->type() != rapidxml::node_element) continue;
    const std::string name(child->name(), child->name_size());
    std::string inside = svg_id;
    if (name == "svg") {
      inside = attribute(child, "id");
      page.svg_ids.push_back(inside);
    } else if (name == "polyline") {
      page.polylines.push_back({svg_id, attribute(child, "class"), attribute(child, "data-series"),
                                points_of(attribute(child, "points"))});
    } else if (name == "circle") {
      ++page.circles_by_svg[svg_id];
    } else if (name == "text" && !svg_id.empty()) {
      page.texts += std::string(child->value(), child->value_size()) + "\n";
    }
    walk(child, inside, page);
  }
}

// Parses the page as XML; a parse error fails the test.
ParsedPage parse_page(const std::string& html) {
  ParsedPage page;
  std::vector<char> buffer(html.begin(), html.end());
  buffer.push_back('\0');
  rapidxml::xml_document<> document;
  try {
    document.parse<rapidxml::parse_validate_closing_tags>(buffer.data());
  } catch (const rapidxml::parse_error& error) {
    ADD_FAILURE() << "not well-formed: " << error.what() << " at \""
                  << std::string_view(error.where<char>()).substr(0, 80) << "\"";
    return page;
  }
  const rapidxml::xml_node<>* root = document.first_node();
  if (root != nullptr) page.root.assign(root->name(), root->name_size());
  walk(&document, "", page);
  return page;
}

const Polyline* series(const ParsedPage& page, std::string_view name) {
  for (const Polyline& line : page.polylines) {
    if (line.series == name) return &line;
  }
  return nullptr;
}

void expect_sane_structure(const ParsedPage& page, const std::string& html) {
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(page.root, "html");
  EXPECT_EQ(page.svg_ids, (std::vector<std::string>{"latency-over-time", "latency-by-percentile"}));
  for (const char* name : {"p50", "p99", "percentile"}) {
    const Polyline* line = series(page, name);
    ASSERT_NE(line, nullptr) << name;
    EXPECT_NE((" " + line->classes + " ").find(" series "), std::string::npos) << line->classes;
    EXPECT_EQ(line->svg_id, std::string_view(name) == "percentile" ? "latency-by-percentile"
                                                                   : "latency-over-time");
    for (const auto& [x, y] : line->points) {
      EXPECT_GE(x, 0);
      EXPECT_LE(x, 800);
      EXPECT_GE(y, 0);
      EXPECT_LE(y, 340);
    }
  }
  EXPECT_EQ(html.find("nan"), std::string::npos);
  EXPECT_EQ(html.find("inf"), std::string::npos);
}

HdrHistogram latency_from(std::uint64_t first_us, std::uint64_t last_us) {
  HdrHistogram latency_us;
  for (std::uint64_t value = first_us; value <= last_us; ++value) latency_us.record(value);
  return latency_us;
}

LoadReport minute_report(const HdrHistogram& latency_us) {
  LoadReport report;
  report.run_id = "minute";
  report.target = "collector:5683";
  report.mode = OpenLoop{1000};
  report.duration_seconds = 60;
  report.requests_sent = 60'000;
  report.responses = {{"2.01", 59'990}};
  report.latency = summarize_latency(latency_us);
  for (std::uint64_t second = 0; second < 60; ++second) {
    const double wobble = static_cast<double>(second % 7);
    report.per_second.push_back({.second = second,
                                 .sent = 1000,
                                 .ok = 1000,
                                 .errors = 0,
                                 .p50_ms = 1.0 + wobble / 10,
                                 .p99_ms = 4.0 + wobble});
  }
  report.per_second[30].p50_ms.reset();  // a second without answers has no point (not a zero)
  report.per_second[30].p99_ms.reset();
  return report;
}

TEST(RenderHtmlTest, HasBothChartsWithTheirSeries) {
  const HdrHistogram latency_us = latency_from(500, 20'000);
  const std::string html = render_html(minute_report(latency_us), latency_us);
  const ParsedPage page = parse_page(html);
  expect_sane_structure(page, html);
  EXPECT_EQ(series(page, "p50")->points.size(), 59u);
  EXPECT_EQ(series(page, "p99")->points.size(), 59u);
  EXPECT_EQ(series(page, "percentile")->points.size(),
            latency_us.percentile_distribution().size() - 1)
      << "every step but 100 %, which lies at infinity on a 1/(1-p) axis";
  EXPECT_NE(html.find("id=\"latency-over-time\""), std::string::npos);
  EXPECT_NE(html.find("id=\"latency-by-percentile\""), std::string::npos);
  EXPECT_NE(page.texts.find("latency (ms)"), std::string::npos) << page.texts;
  EXPECT_NE(page.texts.find("time since start (s)"), std::string::npos) << page.texts;
  for (const char* label : {"\n0%\n", "\n90%\n", "\n99%\n", "\n99.9%\n", "\np50\n", "\np99\n"}) {
    EXPECT_NE(page.texts.find(label), std::string::npos) << label << " in\n" << page.texts;
  }
}

TEST(RenderHtmlTest, PercentileAxisReachesTheDecadesTheDataReaches) {
  // One slow answer in a million: the last step before 100 % lies just beyond 99.9999 % (where
  // the slow answer is reached), so the axis ends at the next decade, 99.99999 %.
  HdrHistogram latency_us = latency_from(900, 1100);
  latency_us.record(1000, 999'999 - latency_us.total_count());
  latency_us.record(250'000);
  const ParsedPage page = parse_page(render_html(LoadReport{}, latency_us));
  EXPECT_NE(page.texts.find("\n99.99999%\n"), std::string::npos) << page.texts;
  EXPECT_EQ(page.texts.find("99.999999%"), std::string::npos) << page.texts;
  EXPECT_NE(page.texts.find("max 250.111 ms"), std::string::npos) << page.texts;
  // The curve rises from left to right, like the one the HdrHistogram plotter draws.
  const Polyline* curve = series(page, "percentile");
  ASSERT_NE(curve, nullptr);
  ASSERT_GT(curve->points.size(), 10u);
  for (std::size_t i = 1; i < curve->points.size(); ++i) {
    EXPECT_GE(curve->points[i].first, curve->points[i - 1].first);
    EXPECT_LE(curve->points[i].second, curve->points[i - 1].second) << "SVG y grows downwards";
  }
}

TEST(RenderHtmlTest, EscapesEverythingFromTheReport) {
  LoadReport report;
  report.run_id = "<script>alert(1)</script>";
  report.target = "\"><img src=x onerror=alert(1)>&";
  report.responses = {{"<b>2.01</b>", 1}};
  const std::string html = render_html(report, HdrHistogram{});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;"), std::string::npos);
  parse_page(html);
}

TEST(RenderHtmlTest, IsSelfContained) {
  const HdrHistogram latency_us = latency_from(500, 20'000);
  std::string html = render_html(minute_report(latency_us), latency_us);
  for (const char* forbidden : {"<script", "<link", "<img", "<iframe", "<object", "<embed",
                                "src=", "href=", "url(", "@import", "javascript:"}) {
    EXPECT_EQ(html.find(forbidden), std::string::npos) << forbidden;
  }
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(\son[a-z]+\s*=)"))) << "event handler";
  // The SVG namespace is a name, not a resource; nothing else may point outside the page.
  const std::string svg_namespace = "xmlns=\"http://www.w3.org/2000/svg\"";
  for (std::size_t at; (at = html.find(svg_namespace)) != std::string::npos;) {
    html.erase(at, svg_namespace.size());
  }
  EXPECT_EQ(html.find("http"), std::string::npos);
}

TEST(RenderHtmlTest, EmptyRunIsWellFormedAndSaysSo) {
  const std::string html = render_html(LoadReport{}, HdrHistogram{});
  const ParsedPage page = parse_page(html);
  expect_sane_structure(page, html);
  for (const char* name : {"p50", "p99", "percentile"}) {
    EXPECT_TRUE(series(page, name)->points.empty()) << name;
  }
  EXPECT_NE(page.texts.find("no answers"), std::string::npos) << page.texts;
  EXPECT_NE(html.find("no answers"), std::string::npos);
}

TEST(RenderHtmlTest, OneSecondRunShowsItsSinglePoint) {
  const HdrHistogram latency_us = latency_from(800, 1200);
  LoadReport report;
  report.run_id = "blink";
  report.duration_seconds = 1;
  report.requests_sent = 401;
  report.responses = {{"2.01", 401}};
  report.latency = summarize_latency(latency_us);
  report.per_second = {{.second = 0, .sent = 401, .ok = 401, .p50_ms = 1.0, .p99_ms = 1.196}};
  const std::string html = render_html(report, latency_us);
  const ParsedPage page = parse_page(html);
  expect_sane_structure(page, html);
  ASSERT_EQ(series(page, "p50")->points.size(), 1u);
  ASSERT_EQ(series(page, "p99")->points.size(), 1u);
  // A one-point polyline draws nothing, so the point gets a marker; it sits mid-axis.
  EXPECT_GE(page.circles_by_svg.at("latency-over-time"), 2);
  const double x = series(page, "p50")->points[0].first;
  EXPECT_GT(x, 100);
  EXPECT_LT(x, 700);
  EXPECT_GT(series(page, "percentile")->points.size(), 5u);
}

}  // namespace
}  // namespace iot::loadgen
