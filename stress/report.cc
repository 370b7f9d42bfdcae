// stress/report.cc: the three renderings of a Report. The text table and
// JSON are plain string building; the HTML page draws its charts as inline
// SVG computed here (ChartFrame maps data to pixels, NiceAxis picks ticks).
// Every rendering is a pure function of the Report: same input, same bytes.

#include "stress/report.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace interpheap::stress {
namespace {

// Size classes as documented on InterpreterReport::class_blocks_in_use.
constexpr int kSizeClasses = 32;
constexpr int kSizeClassBytes = 16;

// Series colors, one per interpreter slot (slot % size); slots past the
// palette also get a dash pattern. None is gray, so a rendered chart can be
// told from text and grid lines.
constexpr const char* kPalette[] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939",
};
constexpr std::size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

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

std::string StrFormat(const char* format, ...)
    __attribute__((format(printf, 1, 2)));

std::string StrFormat(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out;
  if (n > 0) {
    out.resize(static_cast<std::size_t>(n) + 1);
    std::vsnprintf(out.data(), out.size(), format, args);
    out.resize(static_cast<std::size_t>(n));
  }
  va_end(args);
  return out;
}

// ---------------------------------------------------------------------------
// Numbers and strings.

// "512 B", "1.5 KiB", "1.2 MiB", ... (binary units, one decimal).
std::string FormatBytes(std::int64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB",
                                           "TiB", "PiB", "EiB"};
  double value = std::fabs(static_cast<double>(bytes));
  if (value < 1024) return std::to_string(bytes) + " B";
  std::size_t unit = 0;
  value /= 1024;
  // 1023.96 would print as "1024.0": move up a unit before it rounds.
  while (value >= 1023.95 && unit + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    value /= 1024;
    ++unit;
  }
  return StrFormat("%s%.1f %s", bytes < 0 ? "-" : "", value, kUnits[unit]);
}

double Rate(std::int64_t count, double seconds) {
  return seconds > 0 && std::isfinite(seconds) ? count / seconds : 0.0;
}

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

// A JSON number; JSON has no NaN or infinity, so those become null.
std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  return StrFormat("%.15g", value);
}

// Returns `s` with every byte sequence that is not well-formed UTF-8
// (stray continuation bytes, overlong forms, surrogates, > U+10FFFF,
// truncated sequences) replaced by U+FFFD.
std::string ValidUtf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  const auto byte = [&s](std::size_t i) {
    return static_cast<unsigned char>(s[i]);
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = byte(i);
    std::size_t length = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c < 0x80) {
      length = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    }
    bool valid = length > 0 && i + length <= s.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const unsigned char next = byte(i + k);
      const unsigned char min = k == 1 ? lo : 0x80;
      const unsigned char max = k == 1 ? hi : 0xBF;
      valid = next >= min && next <= max;
    }
    if (valid) {
      out.append(s, i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// A quoted JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD.
std::string JsonString(const std::string& raw) {
  const std::string s = ValidUtf8(raw);
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += StrFormat("\\u%04x", c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

// Text for HTML element content or a quoted attribute value. Control
// characters other than tab, newline and carriage return become U+FFFD.
std::string HtmlEscape(const std::string& raw) {
  const std::string s = ValidUtf8(raw);
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
          out += "\xEF\xBF\xBD";
        } else {
          out += ch;
        }
    }
  }
  return out;
}

// Code points in valid UTF-8 (for column widths).
std::size_t DisplayWidth(const std::string& s) {
  std::size_t width = 0;
  for (const char ch : s) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++width;
  }
  return width;
}

// At most `max` code points of valid UTF-8 `s`, with "..." if cut.
std::string Truncate(const std::string& s, std::size_t max) {
  if (DisplayWidth(s) <= max) return s;
  std::size_t points = 0;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (points == max - 1) break;
      ++points;
    }
  }
  return s.substr(0, i) + "...";
}

// ---------------------------------------------------------------------------
// The table both the text and HTML renderings show.

struct Column {
  const char* title;
  bool numeric;
};

constexpr Column kColumns[] = {
    {"interpreter", false}, {"lock", false},       {"threads", true},
    {"ops", true},          {"peak live", true},   {"arenas alloc/rel", true},
    {"cross frees", true},  {"recreations", true}, {"leaks", true},
};
constexpr std::size_t kColumnCount = sizeof(kColumns) / sizeof(kColumns[0]);

std::vector<std::string> InterpreterRow(const InterpreterReport& interp) {
  return {
      interp.name,
      interp.lock,
      std::to_string(interp.threads),
      std::to_string(interp.ops),
      FormatBytes(interp.peak_live_bytes),
      std::to_string(interp.arenas_allocated) + "/" +
          std::to_string(interp.arenas_released),
      std::to_string(interp.cross_interpreter_frees),
      std::to_string(interp.recreations),
      std::to_string(interp.leaked_blocks),
  };
}

std::string SecondsText(double seconds) { return StrFormat("%.2f", seconds); }
std::string RateText(std::int64_t ops, double seconds) {
  return StrFormat("%.0f", Rate(ops, seconds));
}

// ---------------------------------------------------------------------------
// Charts.

struct Point {
  double x;
  double y;
};

struct Series {
  std::string name;
  std::vector<Point> points;
};

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

// Maps data coordinates onto the plot area of one chart.
class ChartFrame {
 public:
  ChartFrame(const Axis& x, const Axis& y) : x_(x), y_(y) {}

  double X(double x) const {
    return kPlotLeft + (x - x_.lo) / (x_.hi - x_.lo) * kPlotWidth;
  }
  double Y(double y) const {
    return kPlotTop + kPlotHeight - (y - y_.lo) / (y_.hi - y_.lo) * kPlotHeight;
  }
  const Axis& x_axis() const { return x_; }
  const Axis& y_axis() const { return y_; }

 private:
  Axis x_;
  Axis y_;
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

// Grid lines, y tick labels, both axis lines and both axis titles. The x
// ticks are drawn by the caller (numeric or categorical).
void DrawYAxis(std::string& out, const ChartFrame& frame,
               const std::string& y_title, const std::string& x_title) {
  const Axis& y = frame.y_axis();
  for (const double tick : Ticks(y)) {
    const std::string py = Px(frame.Y(tick));
    out += StrFormat(
        "<line x1=\"%d\" y1=\"%s\" x2=\"%d\" y2=\"%s\" stroke=\"#e6e6e6\" "
        "stroke-width=\"1\"/>\n",
        kPlotLeft, py.c_str(), kPlotLeft + kPlotWidth, py.c_str());
    out += StrFormat(
        "<text x=\"%d\" y=\"%s\" dy=\"0.35em\" font-size=\"11\" "
        "text-anchor=\"end\" fill=\"#444444\">%s</text>\n",
        kPlotLeft - 6, py.c_str(), FormatTick(tick, y.step).c_str());
  }
  const int bottom = kPlotTop + kPlotHeight;
  out += StrFormat(
      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\" "
      "stroke-width=\"1\"/>\n",
      kPlotLeft, kPlotTop, kPlotLeft, bottom);
  out += StrFormat(
      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\" "
      "stroke-width=\"1\"/>\n",
      kPlotLeft, bottom, kPlotLeft + kPlotWidth, bottom);
  const int mid_y = kPlotTop + kPlotHeight / 2;
  out += StrFormat(
      "<text x=\"16\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
      "fill=\"#444444\" transform=\"rotate(-90 16 %d)\">%s</text>\n",
      mid_y, mid_y, HtmlEscape(y_title).c_str());
  out += StrFormat(
      "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
      "fill=\"#444444\">%s</text>\n",
      kPlotLeft + kPlotWidth / 2, bottom + 36, HtmlEscape(x_title).c_str());
}

void DrawXTick(std::string& out, double px, const std::string& label) {
  const int bottom = kPlotTop + kPlotHeight;
  out += StrFormat(
      "<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\" stroke=\"#333333\" "
      "stroke-width=\"1\"/>\n",
      Px(px).c_str(), bottom, Px(px).c_str(), bottom + 4);
  out += StrFormat(
      "<text x=\"%s\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
      "fill=\"#444444\">%s</text>\n",
      Px(px).c_str(), bottom + 17, label.c_str());
}

std::string DashAttribute(std::size_t slot) {
  return slot < kPaletteSize ? "" : " stroke-dasharray=\"6 3\"";
}

void DrawLegend(std::string& out, const std::vector<std::string>& names) {
  const int x = kPlotLeft + kPlotWidth + 20;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const int y = kPlotTop + static_cast<int>(i) * kLegendRow;
    out += StrFormat(
        "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x,
        y, kPalette[i % kPaletteSize]);
    out += StrFormat(
        "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#222222\">%s</text>\n",
        x + 18, y + 10,
        HtmlEscape(Truncate(ValidUtf8(names[i]), kLegendNameMax)).c_str());
  }
}

void DrawNote(std::string& out, const std::string& note) {
  out += StrFormat(
      "<text class=\"no-data\" x=\"%d\" y=\"%d\" font-size=\"14\" "
      "text-anchor=\"middle\" fill=\"#888888\">%s</text>\n",
      kPlotLeft + kPlotWidth / 2, kPlotTop + kPlotHeight / 2,
      HtmlEscape(note).c_str());
}

// A line chart with time (seconds) on the x axis, one polyline per series.
std::string LineChart(const std::string& id, const std::string& title,
                      const std::string& y_title,
                      const std::vector<Series>& series) {
  double x_max = 0;
  double x_min = 0;
  double y_max = 0;
  double y_min = 0;
  bool any_point = false;
  bool any_nonzero = false;
  for (const Series& s : series) {
    for (const Point& p : s.points) {
      x_min = std::min(x_min, p.x);
      x_max = std::max(x_max, p.x);
      y_min = std::min(y_min, p.y);
      y_max = std::max(y_max, p.y);
      any_point = true;
      any_nonzero = any_nonzero || p.y != 0;
    }
  }
  const ChartFrame frame(NiceAxis(x_min, x_max, 8), NiceAxis(y_min, y_max, 5));

  std::string out;
  OpenChart(out, id, title, ChartHeight(series.size()));
  DrawYAxis(out, frame, y_title, "time (s)");
  for (const double tick : Ticks(frame.x_axis())) {
    DrawXTick(out, frame.X(tick), FormatTick(tick, frame.x_axis().step));
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < series.size(); ++i) {
    names.push_back(series[i].name);
    const std::vector<Point>& points = series[i].points;
    if (points.empty()) continue;
    const char* color = kPalette[i % kPaletteSize];
    if (points.size() == 1) {
      out += StrFormat("<circle cx=\"%s\" cy=\"%s\" r=\"3.5\" fill=\"%s\"/>\n",
                       Px(frame.X(points[0].x)).c_str(),
                       Px(frame.Y(points[0].y)).c_str(), color);
      continue;
    }
    out += StrFormat(
        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
        "stroke-linejoin=\"round\"%s points=\"",
        color, DashAttribute(i).c_str());
    for (std::size_t k = 0; k < points.size(); ++k) {
      if (k > 0) out += ' ';
      out += Px(frame.X(points[k].x)) + "," + Px(frame.Y(points[k].y));
    }
    out += "\"/>\n";
  }
  DrawLegend(out, names);
  if (!any_point) {
    DrawNote(out, "no data");
  } else if (!any_nonzero) {
    DrawNote(out, "no data (all values are zero)");
  }
  out += "</svg>\n";
  return out;
}

// Interpreter slots in the charts: every reported interpreter, plus any
// slot that only the samples mention.
std::size_t SlotCount(const Report& report) {
  std::size_t slots = report.interpreters.size();
  for (const Sample& sample : report.samples) {
    slots = std::max({slots, sample.ops.size(), sample.arenas.size()});
  }
  return slots;
}

std::string SlotName(const Report& report, std::size_t slot) {
  if (slot < report.interpreters.size()) return report.interpreters[slot].name;
  return "slot " + std::to_string(slot);
}

// Ops per second of each slot between consecutive samples, plotted at the
// later sample. The run starts at 0 s with 0 ops, so the first sample
// yields a rate too. Samples without the slot, non-finite times and
// intervals of zero or negative length yield no point.
std::vector<Series> ThroughputSeries(const Report& report) {
  std::vector<Series> series;
  for (std::size_t slot = 0; slot < SlotCount(report); ++slot) {
    Series s{SlotName(report, slot), {}};
    bool have_previous = true;
    double previous_seconds = 0;
    std::int64_t previous_ops = 0;
    for (const Sample& sample : report.samples) {
      if (slot >= sample.ops.size() || !std::isfinite(sample.seconds)) {
        have_previous = false;
        continue;
      }
      const double seconds = sample.seconds;
      const std::int64_t ops = sample.ops[slot];
      if (have_previous && seconds > previous_seconds) {
        s.points.push_back({seconds, static_cast<double>(ops - previous_ops) /
                                         (seconds - previous_seconds)});
      }
      have_previous = true;
      previous_seconds = seconds;
      previous_ops = ops;
    }
    series.push_back(std::move(s));
  }
  return series;
}

std::vector<Series> ArenaSeries(const Report& report) {
  std::vector<Series> series;
  for (std::size_t slot = 0; slot < SlotCount(report); ++slot) {
    Series s{SlotName(report, slot), {}};
    for (const Sample& sample : report.samples) {
      if (slot < sample.arenas.size() && std::isfinite(sample.seconds)) {
        s.points.push_back(
            {sample.seconds, static_cast<double>(sample.arenas[slot])});
      }
    }
    series.push_back(std::move(s));
  }
  return series;
}

// Stacked bars: one bar per size class, one segment per interpreter
// (negative counts are drawn as zero).
std::string OccupancyChart(const Report& report) {
  std::size_t classes = kSizeClasses;
  for (const InterpreterReport& interp : report.interpreters) {
    classes = std::max(classes, interp.class_blocks_in_use.size());
  }
  std::vector<double> totals(classes, 0.0);
  for (const InterpreterReport& interp : report.interpreters) {
    for (std::size_t c = 0; c < interp.class_blocks_in_use.size(); ++c) {
      totals[c] += std::max<std::int64_t>(0, interp.class_blocks_in_use[c]);
    }
  }
  const double y_max = *std::max_element(totals.begin(), totals.end());
  const ChartFrame frame(Axis{0, static_cast<double>(classes), 1},
                         NiceAxis(0, y_max, 5));

  std::string out;
  const std::string id = "chart-occupancy";
  OpenChart(out, id, "Size-class occupancy",
            ChartHeight(report.interpreters.size()));
  DrawYAxis(out, frame, "blocks in use", "block size (bytes)");
  const double group = static_cast<double>(kPlotWidth) / classes;
  const double bar = group * 0.7;
  const std::size_t label_every = classes <= 32 ? 2 : (classes + 15) / 16;
  for (std::size_t c = 0; c < classes; ++c) {
    if (c % label_every == 0) {
      DrawXTick(out, frame.X(c + 0.5),
                std::to_string(kSizeClassBytes * (c + 1)));
    }
  }
  std::vector<double> stacked(classes, 0.0);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < report.interpreters.size(); ++i) {
    const InterpreterReport& interp = report.interpreters[i];
    names.push_back(interp.name);
    for (std::size_t c = 0; c < interp.class_blocks_in_use.size(); ++c) {
      const double value = static_cast<double>(
          std::max<std::int64_t>(0, interp.class_blocks_in_use[c]));
      if (value <= 0) continue;
      const double top = frame.Y(stacked[c] + value);
      const double bottom = frame.Y(stacked[c]);
      stacked[c] += value;
      out += StrFormat(
          "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\">"
          "<title>%s, %zu B: %.0f</title></rect>\n",
          Px(kPlotLeft + c * group + (group - bar) / 2).c_str(),
          Px(top).c_str(), Px(bar).c_str(), Px(bottom - top).c_str(),
          kPalette[i % kPaletteSize], HtmlEscape(interp.name).c_str(),
          kSizeClassBytes * (c + 1), value);
    }
  }
  DrawLegend(out, names);
  if (!(y_max > 0)) DrawNote(out, "no data");
  out += "</svg>\n";
  return out;
}

// ---------------------------------------------------------------------------
// HTML page pieces.

constexpr const char kStyle[] =
    "body{font-family:sans-serif;margin:24px;color:#222;"
    "background:#fff}\n"
    "h1{font-size:22px;margin:0 0 10px}\n"
    "h2{font-size:16px;margin:22px 0 6px}\n"
    ".status{display:inline-block;padding:3px 14px;font-weight:bold;"
    "border-radius:4px}\n"
    ".pass{background:#dcf5dc;color:#145c14}\n"
    ".fail{background:#fbdcdc;color:#8c1212}\n"
    "ul.failures{color:#8c1212;margin:6px 0}\n"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}\n"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}\n"
    "th{background:#f3f3f3;font-weight:600}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "td.bad{color:#8c1212;font-weight:bold}\n"
    "p.command{font-size:13px;margin:4px 0}\n"
    "code{font-family:monospace;white-space:pre-wrap;"
    "word-break:break-all}\n"
    "svg.chart{display:block;border:1px solid #ccc;margin:0 0 12px;"
    "max-width:100%;height:auto}\n";

void AppendCell(std::string& out, const char* tag, const std::string& text,
                const char* css_class) {
  out += StrFormat("<%s%s%s%s>", tag, css_class[0] ? " class=\"" : "",
                   css_class, css_class[0] ? "\"" : "");
  out += HtmlEscape(text);
  out += StrFormat("</%s>", tag);
}

void AppendRunTable(std::string& out, const Report& report) {
  const std::vector<std::pair<std::string, std::string>> cells = {
      {"configuration", report.configuration},
      {"seed", std::to_string(report.seed)},
      {"threads", std::to_string(report.threads)},
      {"seconds", SecondsText(report.seconds)},
      {"total ops", std::to_string(report.total_ops)},
      {"ops/s", RateText(report.total_ops, report.seconds)},
      {"bytes verified", FormatBytes(report.bytes_verified)},
      {"hook toggles", std::to_string(report.hook_toggles)},
      {"hook calls", std::to_string(report.hook_calls)},
      {"samples", std::to_string(report.samples.size())},
  };
  out += "<table class=\"run\">\n<tr>";
  for (const auto& cell : cells) AppendCell(out, "th", cell.first, "");
  out += "</tr>\n<tr>";
  for (std::size_t i = 0; i < cells.size(); ++i) {
    AppendCell(out, "td", cells[i].second, i == 0 ? "" : "num");
  }
  out += "</tr>\n</table>\n";
  out += "<p class=\"command\">command line: <code>" +
         HtmlEscape(report.command_line) + "</code></p>\n";
}

void AppendInterpreterTable(std::string& out, const Report& report) {
  out += "<table class=\"summary\">\n<tr>";
  for (const Column& column : kColumns) AppendCell(out, "th", column.title, "");
  out += "</tr>\n";
  for (const InterpreterReport& interp : report.interpreters) {
    const std::vector<std::string> row = InterpreterRow(interp);
    out += "<tr>";
    for (std::size_t i = 0; i < kColumnCount; ++i) {
      const bool leak = i == kColumnCount - 1 && interp.leaked_blocks != 0;
      AppendCell(out, "td", row[i],
                 leak                  ? "num bad"
                 : kColumns[i].numeric ? "num"
                                       : "");
    }
    out += "</tr>\n";
  }
  if (report.interpreters.empty()) {
    out += StrFormat("<tr><td colspan=\"%zu\">no interpreters</td></tr>\n",
                     kColumnCount);
  }
  out += "</table>\n";
}

}  // namespace

std::string RenderText(const Report& report) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  for (const Column& column : kColumns) header.push_back(column.title);
  rows.push_back(header);
  for (const InterpreterReport& interp : report.interpreters) {
    rows.push_back(InterpreterRow(interp));
  }
  std::size_t widths[kColumnCount] = {};
  for (const std::vector<std::string>& row : rows) {
    for (std::size_t i = 0; i < kColumnCount; ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (std::size_t i = 0; i < kColumnCount; ++i) {
      if (i > 0) line += "  ";
      const std::string& cell = rows[r][i];
      const std::string pad(widths[i] - DisplayWidth(cell), ' ');
      line += kColumns[i].numeric ? pad + cell : cell + pad;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (r == 0) {
      std::size_t total = 2 * (kColumnCount - 1);
      for (const std::size_t w : widths) total += w;
      out += std::string(total, '-') + "\n";
    }
  }
  if (report.interpreters.empty()) out += "(no interpreters)\n";
  out += "total: " + std::to_string(report.total_ops) + " ops in " +
         SecondsText(report.seconds) + " s (" +
         RateText(report.total_ops, report.seconds) + " ops/s), " +
         FormatBytes(report.bytes_verified) + " verified, hooks " +
         std::to_string(report.hook_toggles) + " toggles / " +
         std::to_string(report.hook_calls) + " calls\n";
  if (report.passed()) {
    out += "PASS\n";
  } else {
    out += "FAIL (" + std::to_string(report.failures.size()) +
           (report.failures.size() == 1 ? " failure)\n" : " failures)\n");
    for (const std::string& failure : report.failures) {
      out += "  " + failure + "\n";
    }
  }
  return out;
}

std::string RenderJson(const Report& report) {
  const auto int_array = [](const std::vector<std::int64_t>& values) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ", ";
      out += std::to_string(values[i]);
    }
    return out + "]";
  };
  std::string out = "{\n";
  out += "  \"configuration\": " + JsonString(report.configuration) + ",\n";
  out += "  \"command_line\": " + JsonString(report.command_line) + ",\n";
  out += "  \"seed\": " + std::to_string(report.seed) + ",\n";
  out += "  \"threads\": " + std::to_string(report.threads) + ",\n";
  out += "  \"seconds\": " + JsonNumber(report.seconds) + ",\n";
  out += "  \"total_ops\": " + std::to_string(report.total_ops) + ",\n";
  out +=
      "  \"bytes_verified\": " + std::to_string(report.bytes_verified) + ",\n";
  out += "  \"hook_toggles\": " + std::to_string(report.hook_toggles) + ",\n";
  out += "  \"hook_calls\": " + std::to_string(report.hook_calls) + ",\n";
  out += std::string("  \"passed\": ") + (report.passed() ? "true" : "false") +
         ",\n";
  out += "  \"failures\": [";
  for (std::size_t i = 0; i < report.failures.size(); ++i) {
    out += i > 0 ? ",\n    " : "\n    ";
    out += JsonString(report.failures[i]);
  }
  out += report.failures.empty() ? "],\n" : "\n  ],\n";
  out += "  \"interpreters\": [";
  for (std::size_t i = 0; i < report.interpreters.size(); ++i) {
    const InterpreterReport& interp = report.interpreters[i];
    out += i > 0 ? ",\n    {" : "\n    {";
    out += "\"name\": " + JsonString(interp.name);
    out += ", \"lock\": " + JsonString(interp.lock);
    out += ", \"threads\": " + std::to_string(interp.threads);
    out += ", \"ops\": " + std::to_string(interp.ops);
    out += ", \"peak_live_bytes\": " + std::to_string(interp.peak_live_bytes);
    out += ", \"arenas_allocated\": " + std::to_string(interp.arenas_allocated);
    out += ", \"arenas_released\": " + std::to_string(interp.arenas_released);
    out += ", \"cross_interpreter_frees\": " +
           std::to_string(interp.cross_interpreter_frees);
    out += ", \"recreations\": " + std::to_string(interp.recreations);
    out += ", \"leaked_blocks\": " + std::to_string(interp.leaked_blocks);
    out +=
        ", \"class_blocks_in_use\": " + int_array(interp.class_blocks_in_use);
    out += "}";
  }
  out += report.interpreters.empty() ? "],\n" : "\n  ],\n";
  out += "  \"samples\": [";
  for (std::size_t i = 0; i < report.samples.size(); ++i) {
    const Sample& sample = report.samples[i];
    out += i > 0 ? ",\n    {" : "\n    {";
    out += "\"seconds\": " + JsonNumber(sample.seconds);
    out += ", \"ops\": " + int_array(sample.ops);
    out += ", \"arenas\": " + int_array(sample.arenas);
    out += ", \"live_blocks\": " + std::to_string(sample.live_blocks);
    out += "}";
  }
  out += report.samples.empty() ? "]\n" : "\n  ]\n";
  out += "}\n";
  return out;
}

std::string RenderHtml(const Report& report) {
  const char* status = report.passed() ? "PASS" : "FAIL";
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n";
  out += "<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width\">\n";
  out += StrFormat("<title>interpheap stress report: %s</title>\n", status);
  out += "<style>\n";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n";
  out += "<h1>interpheap stress report</h1>\n";
  out += StrFormat("<p><span id=\"status\" class=\"status %s\">%s</span></p>\n",
                   report.passed() ? "pass" : "fail", status);
  if (!report.passed()) {
    out += "<ul class=\"failures\">\n";
    for (const std::string& failure : report.failures) {
      out += "<li>" + HtmlEscape(failure) + "</li>\n";
    }
    out += "</ul>\n";
  }
  AppendRunTable(out, report);
  // Charts before the interpreter table: a page of fixed height shows them
  // whatever the number of interpreters. Each chart carries its own title.
  out += "<h2>Charts</h2>\n";
  out += LineChart("chart-throughput", "Throughput over time", "ops/s",
                   ThroughputSeries(report));
  out += LineChart("chart-arenas", "Arenas over time", "arenas",
                   ArenaSeries(report));
  out += OccupancyChart(report);
  out += "<h2>Interpreters</h2>\n";
  AppendInterpreterTable(out, report);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace interpheap::stress
