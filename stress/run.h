// stress/run.h: one stress run, from validated options to a Report: the
// runtime and the interpreter slots are set up, the workers (and the hook
// toggler) run until their ops are done, the time is up or SIGINT arrives,
// then every block is verified and freed and every count checked.

#ifndef INTERPHEAP_STRESS_RUN_H_
#define INTERPHEAP_STRESS_RUN_H_

#include "absl/status/status.h"
#include "stress/flags.h"
#include "stress/report.h"

namespace interpheap::stress {

// Runs the stress workload of `options`, printing the configuration line
// to stdout and progress lines to stderr, and fills `report` (all but
// `command_line`). A failed check is a failure in the report, not an
// error; the error is for a set-up step that failed before the run.
absl::Status RunStress(const StressOptions& options, Report* report);

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_RUN_H_
