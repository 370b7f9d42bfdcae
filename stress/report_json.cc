// stress/report_json.cc: RenderJson, the report as one JSON object
// (schema in report.h).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "stress/report.h"
#include "stress/report_format.h"

namespace interpheap::stress {

namespace {

// {"block_size": 16, "blocks": 100}, ... one object per size class.
std::string ClassArray(const std::vector<std::int64_t>& blocks) {
  std::string out = "[";
  for (std::size_t c = 0; c < blocks.size(); ++c) {
    if (c > 0) out += ", ";
    out += "{\"block_size\": " + std::to_string(kSizeClassBytes * (c + 1)) +
           ", \"blocks\": " + std::to_string(blocks[c]) + "}";
  }
  return out + "]";
}

// {"main": [1, 2, null], ...}: one array per slot, one entry per sample
// (null where a sample lacks the slot).
std::string KeyedSeries(const Report& report,
                        std::vector<std::int64_t> Sample::*field) {
  std::string out = "{";
  for (std::size_t slot = 0; slot < SlotCount(report); ++slot) {
    out += slot > 0 ? ",\n      " : "\n      ";
    const std::string name = slot < report.interpreters.size()
                                 ? report.interpreters[slot].name
                                 : "slot " + std::to_string(slot);
    out += JsonString(name) + ": [";
    for (std::size_t i = 0; i < report.samples.size(); ++i) {
      const std::vector<std::int64_t>& values = report.samples[i].*field;
      if (i > 0) out += ", ";
      out += slot < values.size() ? std::to_string(values[slot]) : "null";
    }
    out += "]";
  }
  return out + (SlotCount(report) > 0 ? "\n    }" : "}");
}

std::string Samples(const Report& report) {
  std::string seconds = "[";
  std::string live = "[";
  for (std::size_t i = 0; i < report.samples.size(); ++i) {
    const char* comma = i > 0 ? ", " : "";
    seconds += comma + JsonNumber(report.samples[i].seconds);
    live += comma + std::to_string(report.samples[i].live_bytes);
  }
  std::string out = "{\n";
  out += "    \"seconds\": " + seconds + "],\n";
  out += "    \"live_bytes\": " + live + "],\n";
  out += "    \"ops\": " + KeyedSeries(report, &Sample::ops) + ",\n";
  out += "    \"arenas\": " + KeyedSeries(report, &Sample::arenas) + "\n";
  return out + "  }";
}

std::string Options(const Report& report) {
  std::string out = "{";
  for (std::size_t i = 0; i < report.options.size(); ++i) {
    out += i > 0 ? ",\n    " : "\n    ";
    out += JsonString(report.options[i].first) + ": " +
           JsonString(report.options[i].second);
  }
  return out + (report.options.empty() ? "}" : "\n  }");
}

}  // namespace

std::string RenderJson(const Report& report) {
  std::string out = "{\n";
  out +=
      "  \"schema_version\": " + std::to_string(kReportSchemaVersion) + ",\n";
  out += "  \"timestamp\": " + JsonString(report.timestamp) + ",\n";
  out += "  \"build_mode\": " + JsonString(report.build_mode) + ",\n";
  out += "  \"host\": " + JsonString(report.host) + ",\n";
  out += "  \"configuration\": " + JsonString(report.configuration) + ",\n";
  out += "  \"command_line\": " + JsonString(report.command_line) + ",\n";
  out += "  \"options\": " + Options(report) + ",\n";
  out += "  \"seed\": " + std::to_string(report.seed) + ",\n";
  out += "  \"threads\": " + std::to_string(report.threads) + ",\n";
  out += "  \"seconds\": " + JsonNumber(report.seconds) + ",\n";
  out += std::string("  \"interrupted\": ") +
         (report.interrupted ? "true" : "false") + ",\n";
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
        ", \"class_blocks_in_use\": " + ClassArray(interp.class_blocks_in_use);
    out += "}";
  }
  out += report.interpreters.empty() ? "],\n" : "\n  ],\n";
  out += "  \"samples\": " + Samples(report) + "\n";
  out += "}\n";
  return out;
}

}  // namespace interpheap::stress
