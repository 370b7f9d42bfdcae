// stress/report.h: what a stress run measured, and its three renderings:
// the final text table, JSON (--json) and a self-contained HTML page with
// charts (--html).

#ifndef INTERPHEAP_STRESS_REPORT_H_
#define INTERPHEAP_STRESS_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace interpheap::stress {

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
  std::int64_t live_blocks = 0;      // global
};

struct Report {
  std::string configuration;  // the named configuration in effect
  std::string command_line;
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

// A self-contained HTML page (inline SVG, no script, no network) with the
// summary table and three charts: throughput over time per interpreter,
// arena count over time per interpreter, size-class occupancy.
std::string RenderHtml(const Report& report);

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_REPORT_H_
