// stress/report_text.cc: RenderText, the final table as printed at the end
// of a run.

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "stress/report.h"
#include "stress/report_format.h"

namespace interpheap::stress {

std::string RenderText(const Report& report) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  for (const Column& column : kColumns) header.push_back(column.title);
  rows.push_back(header);
  for (const InterpreterReport& interp : TableRows(report)) {
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
  if (report.interrupted) {
    out += "INTERRUPTED (SIGINT) after " + SecondsText(report.seconds) +
           " s: the verdict covers what ran\n";
  }
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

}  // namespace interpheap::stress
