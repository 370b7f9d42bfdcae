// stress: the main job. Many interpreters on many threads allocate,
// reallocate and free in all three domains, and every byte is verified.
// Not a benchmark: it proves the allocator service correct and thread-safe
// (run it under --config=tsan / --config=asan too).
//
// Workload (see stress/workload.h): --interpreters interpreters with their
// own lock and heap, --main_lock_interpreters with their own heap but the
// main interpreter's lock, the main interpreter itself, and --churn
// interpreters whose thread destroys and recreates them every
// --churn_every ops. --threads worker threads are spread over the
// non-churn interpreters, so threads share interpreters and contend for
// their locks. Each thread mixes domains (--domain_weights), sizes
// (--size_mix), short- and long-lived blocks, reallocs, and hands
// --handoff_percent of its blocks to another interpreter to free
// (cross-interpreter frees). --toggle_hooks runs a thread that wraps and
// unwraps a counting hook on every domain while the others allocate. Seeds
// are deterministic (--seed); durations are smaller under TSan.
//
// Exit status: 0 when every byte, every count and every leak check is
// right; 1 on any failure; 2 for bad flags, unwritable report paths or
// set-up errors; 130 when Ctrl-C stopped a run whose checks passed.
//
// The files: flags.{h,cc} (command line), run.{h,cc} (the run driver),
// workload.{h,cc} (one worker thread), hook_toggler, progress, interrupt,
// output_files, and report*.{h,cc} (text, JSON, HTML renderings).

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "stress/flags.h"
#include "stress/interrupt.h"
#include "stress/output_files.h"
#include "stress/report.h"
#include "stress/run.h"

namespace {

namespace stress = interpheap::stress;

// Prints `message` as the program's one-line complaint; returns `status`.
int Complain(const std::string& message, int status) {
  std::fprintf(stderr, "stress: %s\n", message.c_str());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  stress::StressOptions options;
  if (const int status = stress::ParseFlags(argc, argv, &options);
      status >= 0) {
    return status;
  }
  if (const std::string problem = stress::CheckReportPaths(options);
      !problem.empty()) {
    return Complain(problem, stress::kExitUsage);
  }
  stress::InstallInterruptHandler();

  stress::Report report;
  report.command_line =
      absl::StrJoin(std::vector<std::string>(argv, argv + argc), " ");
  if (absl::Status s = stress::RunStress(options, &report); !s.ok()) {
    return Complain(std::string(s.message()), stress::kExitUsage);
  }
  std::fputs(stress::RenderText(report).c_str(), stdout);
  const bool written = stress::WriteReports(options, report);
  for (const std::string& failure : report.failures) Complain(failure, 1);

  // A failed check outranks a report that could not be written.
  if (!report.passed()) return stress::kExitFailed;
  if (!written) return stress::kExitUsage;
  return report.interrupted ? stress::kExitInterrupted : stress::kExitPassed;
}
