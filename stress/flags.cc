// stress/flags.cc: the flags (Abseil flags, parsed here rather than by
// absl::ParseCommandLine so that every bad flag exits 2 naming the flag and
// the value, and --help exits 0), their validation and --help.

#include "stress/flags.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "alloc/config.h"

#ifdef __SANITIZE_THREAD__
constexpr double kDefaultSeconds = 3;
#else
constexpr double kDefaultSeconds = 10;
#endif

ABSL_FLAG(int, interpreters, 3,
          "interpreters with their own lock and heap (besides main)");
ABSL_FLAG(int, main_lock_interpreters, 1,
          "interpreters with their own heap that share the main lock");
ABSL_FLAG(int, churn, 1,
          "interpreters that are destroyed and recreated while running, each "
          "with one thread of its own");
ABSL_FLAG(int64_t, churn_every, 20000,
          "ops between destroy-and-recreate of a churn interpreter");
ABSL_FLAG(int, threads, 6,
          "worker threads spread over main and the other interpreters");
ABSL_FLAG(double, duration, kDefaultSeconds,
          "seconds to run (ignored when --ops is set)");
ABSL_FLAG(int64_t, ops, 0, "operations per thread; 0: run for --duration");
ABSL_FLAG(uint64_t, seed, 42, "base seed of the per-thread generators");
ABSL_FLAG(std::string, malloc, "",
          "named configuration (see below); empty: the INTERPHEAP_MALLOC "
          "environment variable, then default");
ABSL_FLAG(std::string, size_mix, "cpython",
          "block sizes: cpython (mostly 16..512), small (1..512), large "
          "(513..64K), mixed (0..8K)");
ABSL_FLAG(std::string, domain_weights, "1,1,1",
          "relative weights of raw,mem,obj calls");
ABSL_FLAG(int, handoff_percent, 10,
          "percent of blocks handed to another interpreter to free");
ABSL_FLAG(bool, toggle_hooks, true,
          "run a thread that wraps and unwraps a counting hook on every "
          "domain while the others allocate");
ABSL_FLAG(bool, progress, true,
          "print progress lines to stderr (in place on a terminal)");
ABSL_FLAG(double, progress_interval, 1.0,
          "seconds between progress lines; 0: none");
ABSL_FLAG(std::string, json, "", "write the final report as JSON here");
ABSL_FLAG(std::string, html, "",
          "write a self-contained HTML report with charts here");
ABSL_FLAG(int64_t, inject_corruption, -1,
          "test only: after this many ops thread 0 corrupts one of its "
          "blocks (the run must then fail)");

namespace interpheap::stress {
namespace {

// The flags in --help order.
constexpr const char* kFlagNames[] = {
    "interpreters",
    "main_lock_interpreters",
    "churn",
    "churn_every",
    "threads",
    "duration",
    "ops",
    "seed",
    "malloc",
    "size_mix",
    "domain_weights",
    "handoff_percent",
    "toggle_hooks",
    "progress",
    "progress_interval",
    "json",
    "html",
    "inject_corruption",
};

constexpr alloc::NamedConfig kConfigs[] = {
    alloc::NamedConfig::kDefault,  alloc::NamedConfig::kDebug,
    alloc::NamedConfig::kMalloc,   alloc::NamedConfig::kMallocDebug,
    alloc::NamedConfig::kPymalloc, alloc::NamedConfig::kPymallocDebug,
    alloc::NamedConfig::kMimalloc, alloc::NamedConfig::kMimallocDebug,
};

absl::CommandLineFlag* Find(absl::string_view name) {
  for (const char* known : kFlagNames) {
    if (name == known) return absl::FindCommandLineFlag(name);
  }
  return nullptr;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "stress: %s (see --help)\n", message.c_str());
  return kExitUsage;
}

// `text` wrapped at word boundaries into lines of at most `width` columns,
// every line after the first indented by `indent` spaces.
std::string Wrap(const std::string& text, std::size_t indent,
                 std::size_t width) {
  std::string out;
  std::size_t column = indent;
  for (const absl::string_view word : absl::StrSplit(text, ' ')) {
    if (column > indent && column + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
  }
  return out;
}

void PrintHelp() {
  std::printf(
      "usage: stress [--flag=value]...\n\n"
      "Runs many interpreters on many threads allocating, reallocating and\n"
      "freeing in every domain, and verifies every byte. Not a benchmark.\n\n"
      "Flags (default in brackets):\n");
  for (const char* name : kFlagNames) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    // "  --name" padded to column 28, then the help, wrapped at 79.
    const std::string help =
        absl::StrCat(flag->Help(), " [", flag->DefaultValue(), "]");
    std::printf("  --%-23s %s\n", name, Wrap(help, 28, 79).c_str());
  }
  std::vector<std::string> configs;
  for (const alloc::NamedConfig config : kConfigs) {
    configs.emplace_back(alloc::NamedConfigName(config));
  }
  std::printf(
      "\nConfigurations (--malloc):\n  %s\n\n"
      "Exit status:\n"
      "  %d    every byte, count and leak check passed\n"
      "  %d    a check failed (each failure is printed)\n"
      "  %d    bad flag, unwritable --json/--html path, or set-up error\n"
      "  %d  interrupted (SIGINT); the checks of what ran passed\n\n"
      "Ctrl-C stops the run cleanly: every block is verified and freed, and "
      "the\ntable and the reports cover what ran, marked interrupted.\n\n"
      "Examples:\n"
      "  stress --duration=30 --interpreters=8 --threads=16 "
      "--html=report.html\n"
      "  stress --malloc=pymalloc_debug --ops=100000 --progress=false "
      "--json=report.json\n",
      absl::StrJoin(configs, ", ").c_str(), kExitPassed, kExitFailed,
      kExitUsage, kExitInterrupted);
}

// What a flag of `flag`'s type takes, for the message on a bad value.
const char* Expected(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "true or false";
  if (flag.IsOfType<double>()) return "a number";
  if (flag.IsOfType<std::uint64_t>()) return "a non-negative integer";
  return "an integer";
}

// Sets every flag named in argv; returns -1, or the exit status.
int SetFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      PrintHelp();
      return kExitPassed;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return Usage(absl::StrCat("unexpected argument '", arg, "'"));
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const std::size_t eq = arg.find('=');
    absl::string_view name = arg.substr(0, eq);
    std::string value;
    absl::CommandLineFlag* flag = Find(name);
    if (flag == nullptr && eq == absl::string_view::npos &&
        name.substr(0, 2) == "no") {
      // --nofoo: a boolean set to false.
      flag = Find(name.substr(2));
      if (flag != nullptr && flag->IsOfType<bool>()) {
        name = name.substr(2);
        value = "false";
      } else {
        flag = nullptr;
      }
    } else if (flag != nullptr && eq != absl::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (flag != nullptr && flag->IsOfType<bool>()) {
      value = "true";
    } else if (flag != nullptr) {
      if (i + 1 >= argc) {
        return Usage(absl::StrCat("--", name, " needs a value"));
      }
      value = argv[++i];
    }
    if (flag == nullptr) {
      return Usage(absl::StrCat("unknown flag '", argv[i], "'"));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return Usage(
          absl::StrCat("--", name, "=", value, ": need ", Expected(*flag)));
    }
  }
  return -1;
}

// "--threads=0 is out of range (need >= 1)".
template <typename T>
std::string OutOfRange(const char* name, T value, const char* need) {
  return absl::StrCat("--", name, "=", value, " is out of range (need ", need,
                      ")");
}

// Validates the flags into `options`; "" or the first problem.
std::string Validate(StressOptions* options) {
  options->interpreters = absl::GetFlag(FLAGS_interpreters);
  options->main_lock_interpreters = absl::GetFlag(FLAGS_main_lock_interpreters);
  options->churn = absl::GetFlag(FLAGS_churn);
  options->churn_every = absl::GetFlag(FLAGS_churn_every);
  options->threads = absl::GetFlag(FLAGS_threads);
  options->duration = absl::GetFlag(FLAGS_duration);
  options->malloc = absl::GetFlag(FLAGS_malloc);
  options->toggle_hooks = absl::GetFlag(FLAGS_toggle_hooks);
  options->progress_interval = absl::GetFlag(FLAGS_progress)
                                   ? absl::GetFlag(FLAGS_progress_interval)
                                   : 0;
  options->json = absl::GetFlag(FLAGS_json);
  options->html = absl::GetFlag(FLAGS_html);
  WorkloadOptions& workload = options->workload;
  workload.ops_per_thread = absl::GetFlag(FLAGS_ops);
  workload.seed = absl::GetFlag(FLAGS_seed);
  workload.size_mix = absl::GetFlag(FLAGS_size_mix);
  workload.handoff_percent = absl::GetFlag(FLAGS_handoff_percent);
  workload.inject_corruption_at = absl::GetFlag(FLAGS_inject_corruption);

  if (options->interpreters < 0) {
    return OutOfRange("interpreters", options->interpreters, ">= 0");
  }
  if (options->main_lock_interpreters < 0) {
    return OutOfRange("main_lock_interpreters", options->main_lock_interpreters,
                      ">= 0");
  }
  if (options->churn < 0) return OutOfRange("churn", options->churn, ">= 0");
  if (options->churn_every < 1) {
    return OutOfRange("churn_every", options->churn_every, ">= 1");
  }
  if (options->threads < 1) {
    return OutOfRange("threads", options->threads, ">= 1");
  }
  if (!std::isfinite(options->duration) || options->duration <= 0) {
    return OutOfRange("duration", options->duration,
                      "a finite number of seconds > 0");
  }
  if (workload.ops_per_thread < 0) {
    return OutOfRange("ops", workload.ops_per_thread, ">= 0");
  }
  if (!options->malloc.empty()) {
    if (absl::StatusOr<alloc::NamedConfig> named =
            alloc::ParseNamedConfig(options->malloc);
        !named.ok()) {
      return absl::StrCat("--malloc=", options->malloc, ": ",
                          named.status().message());
    }
  }
  const std::string& mix = workload.size_mix;
  if (mix != "cpython" && mix != "small" && mix != "large" && mix != "mixed") {
    return absl::StrCat("--size_mix=", mix,
                        ": size_mix must be cpython, small, large or mixed");
  }
  const std::string weights_text = absl::GetFlag(FLAGS_domain_weights);
  const std::vector<std::string> weights = absl::StrSplit(weights_text, ',');
  int w[3] = {};
  bool weights_ok = weights.size() == 3;
  for (int d = 0; weights_ok && d < 3; ++d) {
    weights_ok = absl::SimpleAtoi(weights[d], &w[d]) && w[d] >= 0;
  }
  if (!weights_ok || w[0] + w[1] + w[2] == 0) {
    return absl::StrCat("--domain_weights=", weights_text,
                        ": need three non-negative integers raw,mem,obj, "
                        "not all zero");
  }
  workload.raw_weight = w[0];
  workload.mem_weight = w[1];
  workload.obj_weight = w[2];
  if (workload.handoff_percent < 0 || workload.handoff_percent > 100) {
    return OutOfRange("handoff_percent", workload.handoff_percent, "0..100");
  }
  const double interval = absl::GetFlag(FLAGS_progress_interval);
  if (!std::isfinite(interval) || interval < 0) {
    return OutOfRange("progress_interval", interval,
                      "a finite number of seconds >= 0");
  }
  if (workload.inject_corruption_at < -1) {
    return OutOfRange("inject_corruption", workload.inject_corruption_at,
                      ">= -1");
  }
  return "";
}

}  // namespace

int ParseFlags(int argc, char** argv, StressOptions* options) {
  if (const int status = SetFlags(argc, argv); status >= 0) return status;
  if (const std::string problem = Validate(options); !problem.empty()) {
    return Usage(problem);
  }
  for (const char* name : kFlagNames) {
    options->effective.emplace_back(
        name, absl::FindCommandLineFlag(name)->CurrentValue());
  }
  return -1;
}

}  // namespace interpheap::stress
