// stress/flags.h: the stress program's command line: its flags, parsed and
// validated into StressOptions, the --help text, the exit statuses, and the
// effective options (every flag, defaults included) for the reports.

#ifndef INTERPHEAP_STRESS_FLAGS_H_
#define INTERPHEAP_STRESS_FLAGS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "stress/workload.h"

namespace interpheap::stress {

// The program's exit statuses (--help lists them).
inline constexpr int kExitPassed = 0;         // every check passed
inline constexpr int kExitFailed = 1;         // a verification or count failed
inline constexpr int kExitUsage = 2;          // bad flag, unwritable output,
                                              // set-up error
inline constexpr int kExitInterrupted = 130;  // SIGINT; what ran passed

// Every setting of a run, validated.
struct StressOptions {
  int interpreters = 0;  // own lock and heap, besides main
  int main_lock_interpreters = 0;
  int churn = 0;
  std::int64_t churn_every = 0;
  int threads = 0;
  double duration = 0;  // seconds; used when workload.ops_per_thread == 0
  std::string malloc;   // configuration name; "": environment, then default
  bool toggle_hooks = false;
  double progress_interval = 0;  // seconds; 0: no progress lines
  std::string json;              // report paths; "": not written
  std::string html;
  WorkloadOptions workload;
  // Every flag as (name, value), defaults included, in --help order.
  std::vector<std::pair<std::string, std::string>> effective;
};

// Parses and validates argv. Returns -1 with `options` filled to run;
// otherwise the exit status, after printing --help (kExitPassed) or one
// line naming the bad flag and value to stderr (kExitUsage).
int ParseFlags(int argc, char** argv, StressOptions* options);

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_FLAGS_H_
