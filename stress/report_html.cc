// stress/report_html.cc: RenderHtml, a self-contained page (no script, no
// network): the verdict, the run and its settings, the charts
// (report_charts.h) and the interpreter table.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "stress/report.h"
#include "stress/report_charts.h"
#include "stress/report_format.h"

namespace interpheap::stress {
namespace {

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
    ".interrupted{background:#fff3cd;color:#6b4e00;margin-left:8px}\n"
    "table.settings td{font-family:monospace}\n"
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
  for (const InterpreterReport& interp : TableRows(report)) {
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

// The settings the run used: where and how it was built and run, then every
// flag (defaults included).
void AppendSettings(std::string& out, const Report& report) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"date", report.timestamp},
      {"host", report.host},
      {"build mode", report.build_mode},
  };
  for (const auto& option : report.options) {
    rows.push_back({"--" + option.first, option.second});
  }
  out += "<table class=\"settings\">\n";
  for (const auto& [name, value] : rows) {
    out += "<tr>";
    AppendCell(out, "th", name, "");
    AppendCell(out, "td", value, "");
    out += "</tr>\n";
  }
  out += "</table>\n";
}

}  // namespace

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
  if (report.interrupted) {
    out += StrFormat(
        "<p><span id=\"interrupted\" class=\"status interrupted\">"
        "interrupted (SIGINT) after %s s: the verdict covers what ran</span>"
        "</p>\n",
        SecondsText(report.seconds).c_str());
  }
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
  out += TotalThroughputChart(report);
  out += ThroughputChart(report);
  out += ArenaPanels(report);
  out += OccupancyChart(report);
  out += "<h2>Interpreters</h2>\n";
  AppendInterpreterTable(out, report);
  out += "<h2>Settings</h2>\n";
  AppendSettings(out, report);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace interpheap::stress
