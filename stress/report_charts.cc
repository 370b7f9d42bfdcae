// stress/report_charts.cc: the HTML report's charts as inline SVG
// (report_charts.h). NiceAxis picks ticks, ChartFrame maps data onto a plot
// rectangle; the line charts, the arena panels and the occupancy bars are
// built from those and a few drawing helpers.

#include "stress/report_charts.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "stress/report_format.h"

namespace interpheap::stress {
namespace {

// Series colors, one per slot group (group % size); groups past the
// palette also get a dash pattern, shown in the legend swatch too. None is
// gray, so a rendered chart can be told from text and grid lines.
constexpr const char* kPalette[] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939",
};
constexpr std::size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
constexpr const char* kTotalColor = "#111111";

// Chart geometry in SVG pixels: the plot area is the rectangle left of the
// legend column and between the title and the x axis labels.
constexpr int kChartWidth = 900;
constexpr int kChartMinHeight = 300;
constexpr int kPlotLeft = 72;
constexpr int kPlotTop = 34;
constexpr int kPlotWidth = kChartWidth - kPlotLeft - 170;  // legend: 170
constexpr int kPlotHeight = kChartMinHeight - kPlotTop - 46;
constexpr int kLegendRow = 16;
constexpr std::size_t kLegendNameMax = 20;  // code points
// The arena panels: kPanelColumns per row, each kPanelWidth x kPanelHeight.
constexpr int kPanelColumns = 3;
constexpr int kPanelWidth = kChartWidth / kPanelColumns;
constexpr int kPanelHeight = 130;
constexpr int kPanelsTop = 30;

struct Point {
  double x;
  double y;
};

struct Series {
  std::string name;
  std::vector<Point> points;
};

struct Rect {
  double left;
  double top;
  double width;
  double height;
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

constexpr Rect kPlot = {kPlotLeft, kPlotTop, kPlotWidth, kPlotHeight};

// An axis tick label: "0", "0.25", "750", "1.5k", "12M".
std::string FormatTick(double value, double step) {
  if (std::fabs(value) < step * 1e-9) return "0";
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e12) return StrFormat("%.4gT", value / 1e12);
  if (magnitude >= 1e9) return StrFormat("%.4gG", value / 1e9);
  if (magnitude >= 1e6) return StrFormat("%.4gM", value / 1e6);
  if (magnitude >= 1e3) return StrFormat("%.4gk", value / 1e3);
  return StrFormat("%.4g", value);
}

// An axis from `lo` to `hi` in steps of `step`, all "nice" numbers
// (1, 2, 2.5 or 5 times a power of ten) with about `target` steps.
struct Axis {
  double lo = 0;
  double hi = 1;
  double step = 1;
};

Axis NiceAxis(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return Axis{};
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double nice = norm <= 1     ? 1
                      : norm <= 2   ? 2
                      : norm <= 2.5 ? 2.5
                      : norm <= 5   ? 5
                                    : 10;
  Axis axis;
  axis.step = nice * magnitude;
  axis.lo = std::floor(lo / axis.step + 1e-9) * axis.step;
  axis.hi = std::ceil(hi / axis.step - 1e-9) * axis.step;
  if (!(axis.hi > axis.lo)) axis.hi = axis.lo + axis.step;
  return axis;
}

// Tick values of `axis`, computed by index so that no error accumulates.
std::vector<double> Ticks(const Axis& axis) {
  std::vector<double> ticks;
  const double n = std::round((axis.hi - axis.lo) / axis.step);
  for (int i = 0; i <= n && i <= 100; ++i)
    ticks.push_back(axis.lo + i * axis.step);
  return ticks;
}

std::string Px(double v) { return StrFormat("%.1f", v); }

// An axis for integer data: like NiceAxis, but steps of at least 1 so that
// every tick is a whole number.
Axis IntegerAxis(double lo, double hi, int target) {
  Axis axis = NiceAxis(lo, hi, target);
  if (axis.step < 1) {
    axis.step = 1;
    axis.lo = std::floor(axis.lo);
    axis.hi = std::max(axis.lo + 1, std::ceil(axis.hi));
  }
  return axis;
}

// Maps data coordinates onto a plot rectangle.
class ChartFrame {
 public:
  ChartFrame(const Axis& x, const Axis& y, const Rect& plot = kPlot)
      : x_(x), y_(y), plot_(plot) {}

  double X(double x) const {
    return plot_.left + (x - x_.lo) / (x_.hi - x_.lo) * plot_.width;
  }
  double Y(double y) const {
    return plot_.bottom() - (y - y_.lo) / (y_.hi - y_.lo) * plot_.height;
  }
  const Axis& x_axis() const { return x_; }
  const Axis& y_axis() const { return y_; }
  const Rect& plot() const { return plot_; }

 private:
  Axis x_;
  Axis y_;
  Rect plot_;
};

int ChartHeight(std::size_t legend_rows) {
  const int legend_bottom =
      kPlotTop + static_cast<int>(legend_rows) * kLegendRow + 8;
  return std::max(kChartMinHeight, legend_bottom);
}

// Opens the <svg> element: background, title, and an accessible name.
void OpenChart(std::string& out, const std::string& id,
               const std::string& title, int height) {
  out += StrFormat(
      "<svg id=\"%s\" class=\"chart\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"%s-title\">\n",
      id.c_str(), kChartWidth, height, kChartWidth, height, id.c_str());
  out += StrFormat("<title id=\"%s-title\">%s</title>\n", id.c_str(),
                   HtmlEscape(title).c_str());
  out += StrFormat(
      "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
      kChartWidth, height);
  out += StrFormat(
      "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\" "
      "fill=\"#222222\">%s</text>\n",
      kPlotLeft, HtmlEscape(title).c_str());
}

void DrawLine(std::string& out, double x1, double y1, double x2, double y2,
              const char* color) {
  out += StrFormat(
      "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" "
      "stroke-width=\"1\"/>\n",
      Px(x1).c_str(), Px(y1).c_str(), Px(x2).c_str(), Px(y2).c_str(), color);
}

void DrawText(std::string& out, double x, double y, const char* anchor,
              const std::string& text) {
  out += StrFormat(
      "<text x=\"%s\" y=\"%s\" font-size=\"11\" text-anchor=\"%s\" "
      "fill=\"#444444\">%s</text>\n",
      Px(x).c_str(), Px(y).c_str(), anchor, HtmlEscape(text).c_str());
}

// Grid lines, y tick labels and both axis lines of the frame's plot.
void DrawAxes(std::string& out, const ChartFrame& frame) {
  const Rect& plot = frame.plot();
  const Axis& y = frame.y_axis();
  for (const double tick : Ticks(y)) {
    const double py = frame.Y(tick);
    DrawLine(out, plot.left, py, plot.right(), py, "#e6e6e6");
    out += StrFormat(
        "<text x=\"%s\" y=\"%s\" dy=\"0.35em\" font-size=\"11\" "
        "text-anchor=\"end\" fill=\"#444444\">%s</text>\n",
        Px(plot.left - 6).c_str(), Px(py).c_str(),
        FormatTick(tick, y.step).c_str());
  }
  DrawLine(out, plot.left, plot.top, plot.left, plot.bottom(), "#333333");
  DrawLine(out, plot.left, plot.bottom(), plot.right(), plot.bottom(),
           "#333333");
}

// DrawAxes plus both axis titles, for a full-size chart.
void DrawYAxis(std::string& out, const ChartFrame& frame,
               const std::string& y_title, const std::string& x_title) {
  DrawAxes(out, frame);
  const int bottom = kPlotTop + kPlotHeight;
  const int mid_y = kPlotTop + kPlotHeight / 2;
  out += StrFormat(
      "<text x=\"16\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
      "fill=\"#444444\" transform=\"rotate(-90 16 %d)\">%s</text>\n",
      mid_y, mid_y, HtmlEscape(y_title).c_str());
  DrawText(out, kPlotLeft + kPlotWidth / 2, bottom + 36, "middle", x_title);
}

void DrawXTick(std::string& out, const ChartFrame& frame, double px,
               const std::string& label) {
  const double bottom = frame.plot().bottom();
  DrawLine(out, px, bottom, px, bottom + 4, "#333333");
  DrawText(out, px, bottom + 15, "middle", label);
}

void DrawTimeTicks(std::string& out, const ChartFrame& frame) {
  for (const double tick : Ticks(frame.x_axis())) {
    DrawXTick(out, frame, frame.X(tick), FormatTick(tick, frame.x_axis().step));
  }
}

const char* Color(std::size_t group) { return kPalette[group % kPaletteSize]; }

std::string DashAttribute(std::size_t group) {
  return group < kPaletteSize ? "" : " stroke-dasharray=\"6 3\"";
}

// The legend column: a line swatch with the series' dash pattern for line
// charts, a filled square for bars.
void DrawLegend(std::string& out, const std::vector<std::string>& names,
                bool lines) {
  const int x = kPlotLeft + kPlotWidth + 14;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const int y = kPlotTop + static_cast<int>(i) * kLegendRow;
    if (lines) {
      out += StrFormat(
          "<line class=\"swatch\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
          "stroke=\"%s\" stroke-width=\"3\"%s/>\n",
          x, y + 6, x + 24, y + 6, Color(i), DashAttribute(i).c_str());
    } else {
      out += StrFormat(
          "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
          x, y, Color(i));
    }
    out += StrFormat(
        "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#222222\">%s</text>\n",
        x + (lines ? 30 : 18), y + 10,
        HtmlEscape(Truncate(ValidUtf8(names[i]), kLegendNameMax)).c_str());
  }
}

void DrawNote(std::string& out, const Rect& plot, const std::string& note) {
  out += StrFormat(
      "<text class=\"no-data\" x=\"%s\" y=\"%s\" font-size=\"14\" "
      "text-anchor=\"middle\" fill=\"#888888\">%s</text>\n",
      Px(plot.left + plot.width / 2).c_str(),
      Px(plot.top + plot.height / 2).c_str(), HtmlEscape(note).c_str());
}

// One series: a polyline, or a dot for a single point.
void DrawSeries(std::string& out, const ChartFrame& frame,
                const std::vector<Point>& points, const char* color,
                const std::string& dash, int width) {
  if (points.empty()) return;
  if (points.size() == 1) {
    out += StrFormat("<circle cx=\"%s\" cy=\"%s\" r=\"3.5\" fill=\"%s\"/>\n",
                     Px(frame.X(points[0].x)).c_str(),
                     Px(frame.Y(points[0].y)).c_str(), color);
    return;
  }
  out += StrFormat(
      "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%d\" "
      "stroke-linejoin=\"round\"%s points=\"",
      color, width, dash.c_str());
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (k > 0) out += ' ';
    out += Px(frame.X(points[k].x)) + "," + Px(frame.Y(points[k].y));
  }
  out += "\"/>\n";
}

// The range of every point's coordinates (0 always included).
struct Extent {
  double x_min = 0, x_max = 0, y_min = 0, y_max = 0;
  bool any_point = false;
  bool any_nonzero = false;

  void Add(const std::vector<Point>& points) {
    for (const Point& p : points) {
      x_min = std::min(x_min, p.x);
      x_max = std::max(x_max, p.x);
      y_min = std::min(y_min, p.y);
      y_max = std::max(y_max, p.y);
      any_point = true;
      any_nonzero = any_nonzero || p.y != 0;
    }
  }
  // "no data", "no data (all values are zero)" or "" (there is data).
  std::string Note() const {
    if (!any_point) return "no data";
    return any_nonzero ? "" : "no data (all values are zero)";
  }
};

// A line chart with time (seconds) on the x axis, one polyline per series;
// with `legend`, the series' names at the right.
std::string LineChart(const std::string& id, const std::string& title,
                      const std::string& y_title,
                      const std::vector<Series>& series, bool legend) {
  Extent extent;
  for (const Series& s : series) extent.Add(s.points);
  const ChartFrame frame(NiceAxis(extent.x_min, extent.x_max, 8),
                         NiceAxis(extent.y_min, extent.y_max, 5));
  std::string out;
  OpenChart(out, id, title, ChartHeight(legend ? series.size() : 0));
  DrawYAxis(out, frame, y_title, "time (s)");
  DrawTimeTicks(out, frame);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < series.size(); ++i) {
    names.push_back(series[i].name);
    DrawSeries(out, frame, series[i].points, legend ? Color(i) : kTotalColor,
               legend ? DashAttribute(i) : "", legend ? 2 : 3);
  }
  if (legend) DrawLegend(out, names, /*lines=*/true);
  if (const std::string note = extent.Note(); !note.empty()) {
    DrawNote(out, kPlot, note);
  }
  out += "</svg>\n";
  return out;
}

// The sum of `field` over the group's slots in `sample`; false when the
// sample lacks one of them or its time is not finite.
bool GroupValue(const Sample& sample, std::vector<std::int64_t> Sample::*field,
                const SlotGroup& group, std::int64_t* value) {
  const std::vector<std::int64_t>& values = sample.*field;
  if (!std::isfinite(sample.seconds)) return false;
  *value = 0;
  for (const std::size_t slot : group.slots) {
    if (slot >= values.size()) return false;
    *value += values[slot];
  }
  return true;
}

// One series per group: `field` summed over the group's slots at each
// sample, or with `per_second`, its change per second since the previous
// sample, plotted at the later one (the run starts at 0 s with 0 ops, so
// the first sample yields a rate too). Samples without the group's slots,
// non-finite times and, for rates, intervals of zero or negative length
// yield no point.
std::vector<Series> GroupSeries(const Report& report,
                                const std::vector<SlotGroup>& groups,
                                std::vector<std::int64_t> Sample::*field,
                                bool per_second) {
  std::vector<Series> series;
  for (const SlotGroup& group : groups) {
    Series s{group.name, {}};
    bool have_previous = true;
    double previous_seconds = 0;
    std::int64_t previous = 0;
    for (const Sample& sample : report.samples) {
      std::int64_t value = 0;
      if (!GroupValue(sample, field, group, &value)) {
        have_previous = false;
        continue;
      }
      const double seconds = sample.seconds;
      if (!per_second) {
        s.points.push_back({seconds, static_cast<double>(value)});
      } else if (have_previous && seconds > previous_seconds) {
        s.points.push_back({seconds, static_cast<double>(value - previous) /
                                         (seconds - previous_seconds)});
      }
      have_previous = true;
      previous_seconds = seconds;
      previous = value;
    }
    series.push_back(std::move(s));
  }
  return series;
}

// One arena panel at (x, y): the group's name, an integer y axis of its
// own, time ticks at both ends of the shared x range.
void DrawArenaPanel(std::string& out, const Series& series, std::size_t i,
                    const Axis& time, int x, int y) {
  const Rect plot = {x + 46.0, y + 22.0, kPanelWidth - 62.0,
                     kPanelHeight - 46.0};
  Extent extent;
  extent.Add(series.points);
  const ChartFrame frame(time, IntegerAxis(0, extent.y_max, 3), plot);
  out += StrFormat(
      "<g class=\"panel\">\n<text x=\"%d\" y=\"%d\" "
      "font-size=\"12\" fill=\"#222222\">%s</text>\n",
      x + 46, y + 14, HtmlEscape(Truncate(ValidUtf8(series.name), 36)).c_str());
  DrawAxes(out, frame);
  DrawXTick(out, frame, plot.left, FormatTick(time.lo, time.step));
  DrawXTick(out, frame, plot.right(), FormatTick(time.hi, time.step) + " s");
  DrawSeries(out, frame, series.points, Color(i), DashAttribute(i), 2);
  if (const std::string note = extent.Note(); !note.empty()) {
    DrawNote(out, plot, note);
  }
  out += "</g>\n";
}

}  // namespace

std::string TotalThroughputChart(const Report& report) {
  SlotGroup all{"all interpreters", {}};
  for (std::size_t slot = 0; slot < SlotCount(report); ++slot) {
    all.slots.push_back(slot);
  }
  return LineChart(
      "chart-total", "Total throughput over time", "ops/s",
      GroupSeries(report, {all}, &Sample::ops, /*per_second=*/true),
      /*legend=*/false);
}

std::string ThroughputChart(const Report& report) {
  return LineChart("chart-throughput", "Throughput over time", "ops/s",
                   GroupSeries(report, SlotGroups(report, SlotCount(report)),
                               &Sample::ops, /*per_second=*/true),
                   /*legend=*/true);
}

std::string ArenaPanels(const Report& report) {
  std::vector<Series> series =
      GroupSeries(report, SlotGroups(report, SlotCount(report)),
                  &Sample::arenas, /*per_second=*/false);
  if (series.empty()) series.push_back(Series{"", {}});  // axes, "no data"
  Extent extent;
  for (const Series& s : series) extent.Add(s.points);
  const Axis time = NiceAxis(extent.x_min, extent.x_max, 4);
  const int rows =
      static_cast<int>((series.size() + kPanelColumns - 1) / kPanelColumns);
  std::string out;
  OpenChart(out, "chart-arenas", "Arenas over time (one panel per interpreter)",
            kPanelsTop + rows * kPanelHeight);
  for (std::size_t i = 0; i < series.size(); ++i) {
    const int column = static_cast<int>(i % kPanelColumns);
    const int row = static_cast<int>(i / kPanelColumns);
    DrawArenaPanel(out, series[i], i, time, column * kPanelWidth,
                   kPanelsTop + row * kPanelHeight);
  }
  out += "</svg>\n";
  return out;
}

// Stacked bars: one bar per size class, one segment per slot group
// (negative counts are drawn as zero).
std::string OccupancyChart(const Report& report) {
  const std::vector<SlotGroup> groups =
      SlotGroups(report, report.interpreters.size());
  std::size_t classes = kSizeClasses;
  for (const InterpreterReport& interp : report.interpreters) {
    classes = std::max(classes, interp.class_blocks_in_use.size());
  }
  // blocks[g][c]: group g's blocks in use in class c.
  std::vector<std::vector<double>> blocks(groups.size(),
                                          std::vector<double>(classes, 0.0));
  std::vector<double> totals(classes, 0.0);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (const std::size_t slot : groups[g].slots) {
      const std::vector<std::int64_t>& in_use =
          report.interpreters[slot].class_blocks_in_use;
      for (std::size_t c = 0; c < in_use.size(); ++c) {
        const double value =
            static_cast<double>(std::max<std::int64_t>(0, in_use[c]));
        blocks[g][c] += value;
        totals[c] += value;
      }
    }
  }
  const double y_max = *std::max_element(totals.begin(), totals.end());
  const ChartFrame frame(Axis{0, static_cast<double>(classes), 1},
                         NiceAxis(0, y_max, 5));

  std::string out;
  OpenChart(out, "chart-occupancy", "Size-class occupancy",
            ChartHeight(groups.size()));
  DrawYAxis(out, frame, "blocks in use", "block size (bytes)");
  const double group_width = static_cast<double>(kPlotWidth) / classes;
  const double bar = group_width * 0.7;
  const std::size_t label_every = classes <= 32 ? 2 : (classes + 15) / 16;
  for (std::size_t c = 0; c < classes; c += label_every) {
    DrawXTick(out, frame, frame.X(c + 0.5),
              std::to_string(kSizeClassBytes * (c + 1)));
  }
  std::vector<double> stacked(classes, 0.0);
  std::vector<std::string> names;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    names.push_back(groups[g].name);
    for (std::size_t c = 0; c < classes; ++c) {
      const double value = blocks[g][c];
      if (value <= 0) continue;
      const double top = frame.Y(stacked[c] + value);
      const double bottom = frame.Y(stacked[c]);
      stacked[c] += value;
      out += StrFormat(
          "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\">"
          "<title>%s, %zu B: %.0f</title></rect>\n",
          Px(kPlotLeft + c * group_width + (group_width - bar) / 2).c_str(),
          Px(top).c_str(), Px(bar).c_str(), Px(bottom - top).c_str(), Color(g),
          HtmlEscape(groups[g].name).c_str(), kSizeClassBytes * (c + 1), value);
    }
  }
  DrawLegend(out, names, /*lines=*/false);
  if (!(y_max > 0)) DrawNote(out, kPlot, "no data");
  out += "</svg>\n";
  return out;
}

}  // namespace interpheap::stress
