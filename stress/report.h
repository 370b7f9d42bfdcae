// stress/report.h: what a stress run measured, and its three renderings:
// the final text table (report_text.cc), JSON (--json, report_json.cc) and
// a self-contained HTML page with charts (--html, report_html.cc and
// report_charts.cc). Every rendering is a pure function of the Report:
// same input, same bytes.

#ifndef INTERPHEAP_STRESS_REPORT_H_
#define INTERPHEAP_STRESS_REPORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace interpheap::stress {

// The JSON report's "schema_version"; raised on any incompatible change.
// 2: "samples" keyed by interpreter name, "live_bytes", explicit class
// sizes, "options", "timestamp", "build_mode", "host", "interrupted".
inline constexpr int kReportSchemaVersion = 2;

// One interpreter slot of the run. A slot's interpreter may be destroyed
// and recreated (churn slots); its numbers add up over its incarnations.
struct InterpreterReport {
  std::string name;  // "main", "interp-1", "churn-1", ...
  std::string lock;  // "own" or "main"
  int threads = 0;
  std::int64_t ops = 0;
  std::int64_t peak_live_bytes = 0;
  std::int64_t arenas_allocated = 0;
  std::int64_t arenas_released = 0;
  std::int64_t cross_interpreter_frees = 0;  // blocks others handed back
  std::int64_t recreations = 0;
  std::int64_t leaked_blocks = 0;  // live blocks at the end (should be 0)
  // Size-class occupancy sampled mid-run: blocks in use per class
  // (32 entries, class c holds blocks of 16 * (c + 1) bytes).
  std::vector<std::int64_t> class_blocks_in_use;
};

// One progress sample.
struct Sample {
  double seconds = 0;
  std::vector<std::int64_t> ops;     // cumulative ops per interpreter slot
  std::vector<std::int64_t> arenas;  // current arenas per interpreter slot
  std::int64_t live_bytes = 0;       // all slots: bytes in live blocks
};

struct Report {
  std::string configuration;  // the named configuration in effect
  std::string command_line;
  // Every flag of the run, defaults included, as (name, value).
  std::vector<std::pair<std::string, std::string>> options;
  std::string timestamp;     // start of the run, ISO 8601 UTC
  std::string build_mode;    // e.g. "fastbuild", "opt", "fastbuild+asan"
  std::string host;          // the machine's host name
  bool interrupted = false;  // stopped early by SIGINT: covers what ran
  std::uint64_t seed = 0;
  int threads = 0;
  double seconds = 0;
  std::int64_t total_ops = 0;
  std::int64_t bytes_verified = 0;
  std::int64_t hook_toggles = 0;
  std::int64_t hook_calls = 0;
  std::vector<std::string> failures;  // empty: the run passed
  std::vector<InterpreterReport> interpreters;
  std::vector<Sample> samples;

  bool passed() const { return failures.empty(); }
};

// The final table, as printed at the end of a run.
std::string RenderText(const Report& report);

// The same numbers (and the samples) as one JSON object.
std::string RenderJson(const Report& report);

// A self-contained HTML page (inline SVG, no script, no network): verdict,
// settings, the summary table and four charts: total throughput over time,
// throughput over time per interpreter, arena count over time (one small
// panel per interpreter), size-class occupancy. Beyond kListedInterpreters
// (report_format.h) the table and charts show the top interpreters by ops
// plus "others".
std::string RenderHtml(const Report& report);

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_REPORT_H_
