// stress/run.cc: the run driver (run.h): set-up, the sampling loop on the
// calling thread, the end-of-run checks.

#include "stress/run.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/config.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "alloc/config.h"
#include "alloc/domain.h"
#include "alloc/pymalloc/pymalloc.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "stress/hook_toggler.h"
#include "stress/interrupt.h"
#include "stress/progress.h"
#include "stress/workload.h"

namespace interpheap::stress {
namespace {

using interp::Interpreter;
using interp::Runtime;

// Samples are taken this often (the charts' resolution), and kept at most
// kMaxSamples: past that, every other one is dropped and the rest kept at
// half the rate, so that a long run's report stays small.
constexpr auto kSampleEvery = std::chrono::milliseconds(100);
constexpr std::size_t kMaxSamples = 2000;

// What a run holds from set-up to the checks.
struct Run {
  std::vector<std::unique_ptr<InterpreterSlot>> slots;
  RunState state;
  std::string config_name = "custom";
  bool debug_hooks = false;
  std::int64_t leaked_before = 0;
  std::int64_t global_before = 0;
};

// "opt", "fastbuild" (no optimization) or "optimized, assertions on",
// plus "+asan" / "+tsan".
std::string BuildMode() {
#if defined(NDEBUG)
  std::string mode = "opt";
#elif defined(__OPTIMIZE__)
  std::string mode = "optimized, assertions on";
#else
  std::string mode = "fastbuild";
#endif
#if defined(__SANITIZE_ADDRESS__)
  mode += "+asan";
#endif
#if defined(__SANITIZE_THREAD__)
  mode += "+tsan";
#endif
  return mode;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// Under ThreadSanitizer the mimalloc configurations are refused: Debian's
// libmimalloc is not instrumented, so TSan cannot see the synchronization
// inside it, and a block freed on one thread and handed out again on
// another (mimalloc's cross-thread free lists) is reported as a race in
// whatever touches it next (a calloc's memset inside libmimalloc, the
// workload's fill). Not TSan-checked, not claimed: README "Checks".
absl::Status RefuseUncheckableConfiguration(const StressOptions& options) {
#ifdef ABSL_HAVE_THREAD_SANITIZER
  std::string name = options.malloc;
  if (name.empty()) {
    if (const char* env = std::getenv(alloc::kConfigEnvVar)) name = env;
  }
  const absl::StatusOr<alloc::NamedConfig> named =
      alloc::ParseNamedConfig(name);
  if (named.ok() && (*named == alloc::NamedConfig::kMimalloc ||
                     *named == alloc::NamedConfig::kMimallocDebug)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "configuration %s is not run under ThreadSanitizer: Debian's "
        "libmimalloc is not instrumented, so TSan cannot see its "
        "cross-thread synchronization and reports blocks reused across "
        "threads as races; run it in a build without --config=tsan",
        alloc::NamedConfigName(*named)));
  }
#else
  (void)options;
#endif
  return absl::OkStatus();
}

// The runtime in the configuration of `options`, and the interpreter slots:
// main, then own-lock, main-lock and churn interpreters.
absl::Status SetUp(const StressOptions& options, Run* run) {
  if (absl::Status s = RefuseUncheckableConfiguration(options); !s.ok()) {
    return s;
  }
  Runtime& runtime = Runtime::Get();
  interp::RuntimeConfig config;
  config.allocator = options.malloc;
  if (absl::Status s = runtime.PreInitialize(config); !s.ok()) return s;
  if (absl::Status s = runtime.Initialize(); !s.ok()) return s;
  const std::optional<alloc::NamedConfig> named =
      alloc::CurrentNamedConfig(alloc::AllocatorTable::Global());
  if (named) run->config_name = std::string(alloc::NamedConfigName(*named));
  run->debug_hooks = named && alloc::HasDebugHooks(*named);
  run->state.counts_available =
      named && (*named == alloc::NamedConfig::kPymalloc ||
                *named == alloc::NamedConfig::kPymallocDebug);

  const auto add_slot = [run](const std::string& name, Interpreter* interp,
                              bool churn, bool main_lock) {
    auto slot = std::make_unique<InterpreterSlot>();
    slot->name = name;
    slot->interp.store(interp);
    slot->churn = churn;
    slot->main_lock = main_lock;
    if (!churn) {
      run->state.handoff_targets.push_back(static_cast<int>(run->slots.size()));
    }
    run->state.slots.push_back(slot.get());
    run->slots.push_back(std::move(slot));
  };
  add_slot("main", runtime.main_interpreter(), false, true);
  const int own = options.interpreters;
  const int main_lock = options.main_lock_interpreters;
  for (int i = 0; i < own + main_lock + options.churn; ++i) {
    const bool churn = i >= own + main_lock;
    interp::InterpreterConfig ic;
    ic.lock =
        i < own || churn ? interp::LockKind::kOwn : interp::LockKind::kMain;
    absl::StatusOr<Interpreter*> interp = runtime.CreateInterpreter(ic);
    if (!interp.ok()) return interp.status();
    add_slot(absl::StrFormat("%s-%d", churn ? "churn" : "interp",
                             static_cast<int>((*interp)->id())),
             *interp, churn, ic.lock == interp::LockKind::kMain);
  }
  run->leaked_before = alloc::LeakedBlocks();
  run->global_before = alloc::GlobalAllocatedBlocks();
  return absl::OkStatus();
}

void PrintConfiguration(const StressOptions& options,
                        const WorkloadOptions& workload, const Run& run) {
  const int ordinary =
      1 + options.interpreters + options.main_lock_interpreters;
  std::printf(
      "stress: configuration %s; %d interpreters (main, %d own-lock, %d "
      "main-lock, %d churn); %d threads + %d churn; %s; seed %" PRIu64
      "; hooks toggled: %s; handoff %d%%%s\n",
      run.config_name.c_str(), ordinary + options.churn, options.interpreters,
      options.main_lock_interpreters, options.churn, options.threads,
      options.churn,
      workload.ops_per_thread > 0
          ? absl::StrFormat("%d ops per thread", workload.ops_per_thread)
                .c_str()
          : absl::StrFormat("%.1f s", options.duration).c_str(),
      workload.seed, options.toggle_hooks ? "yes" : "no",
      workload.handoff_percent,
      workload.handoff_mem_obj ? "" : " (raw blocks only under debug hooks)");
  std::fflush(stdout);
}

// Samples the slots every kSampleEvery into `report`, shows progress, and
// returns when every worker finished, the time is up or SIGINT arrived
// (then sets `report->interrupted`).
void SampleUntilDone(const StressOptions& options, const Run& run,
                     const std::vector<ThreadResult>& results,
                     const HookToggler& toggler, absl::Time start,
                     Report* report) {
  ProgressLine progress(stderr);
  const double interval = options.progress_interval;
  double next_print = interval;
  std::int64_t last_ops = 0;
  double last_seconds = 0;
  const auto all_done = [&results] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) {
      return r.finished.load(std::memory_order_acquire);
    });
  };
  std::int64_t tick = 0;
  std::int64_t keep_every = 1;
  for (;; ++tick) {
    std::this_thread::sleep_for(kSampleEvery);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    Sample sample;
    sample.seconds = seconds;
    std::int64_t ops = 0, arenas = 0;
    for (const auto& slot : run.slots) {
      sample.ops.push_back(slot->ops.load());
      sample.arenas.push_back(slot->arenas_now.load());
      sample.live_bytes += slot->live_bytes.load();
      ops += sample.ops.back();
      arenas += sample.arenas.back();
    }
    if (tick % keep_every == 0) report->samples.push_back(sample);
    if (report->samples.size() >= kMaxSamples) {
      std::vector<Sample>& samples = report->samples;
      for (std::size_t i = 0; 2 * i < samples.size(); ++i) {
        samples[i] = std::move(samples[2 * i]);
      }
      samples.resize((samples.size() + 1) / 2);
      keep_every *= 2;
    }
    if (interval > 0 && seconds >= next_print) {
      next_print = std::max(next_print + interval, seconds);
      const double rate =
          (ops - last_ops) / std::max(seconds - last_seconds, 1e-9);
      last_ops = ops;
      last_seconds = seconds;
      progress.Show(ProgressText(seconds, ops, rate, sample.live_bytes, arenas,
                                 toggler.toggles()));
    }
    if (Interrupted()) {
      report->interrupted = true;
      break;
    }
    if (all_done()) break;
    if (options.workload.ops_per_thread == 0 && seconds >= options.duration) {
      break;
    }
  }
  progress.Finish();
}

// One slot's table row, with the checks that nothing is left in its heap.
InterpreterReport CheckSlot(const Run& run, const InterpreterSlot& slot,
                            std::vector<std::string>* failures) {
  InterpreterReport row;
  row.name = slot.name;
  row.lock = slot.main_lock ? "main" : "own";
  row.threads = slot.threads;
  row.ops = slot.ops.load();
  row.peak_live_bytes = slot.peak_live_bytes.load();
  row.recreations = slot.recreations.load();
  row.arenas_allocated = slot.arenas_allocated.load();
  row.arenas_released = slot.arenas_released.load();
  row.cross_interpreter_frees = slot.remote_frees.load();
  row.class_blocks_in_use = slot.occupancy;
  interp::ScopedAttach attach(slot.interp.load());
  Interpreter* interp = interp::ThreadState::Current();
  row.cross_interpreter_frees += interp->heap().remote_frees();
  absl::StatusOr<alloc::HeapStats> stats = Runtime::CurrentHeapStats();
  if (stats.ok()) {
    row.arenas_allocated +=
        static_cast<std::int64_t>(stats->arenas_allocated_total);
    row.arenas_released += static_cast<std::int64_t>(
        stats->arenas_allocated_total - stats->arenas_current);
  }
  if (run.state.counts_available) {
    // Pool blocks are exact per heap (raw fallbacks are counted by the
    // interpreter that frees them; the global check covers those).
    alloc::Heap& heap = interp->heap();
    heap.guard().AssertHeld();
    row.leaked_blocks = heap.PoolBlocks();
    if (row.leaked_blocks != 0) {
      failures->push_back(absl::StrFormat(
          "%s: %d pool blocks still allocated after every block was freed",
          slot.name, row.leaked_blocks));
    }
  }
  if (slot.live_bytes.load() != 0) {
    failures->push_back(
        absl::StrFormat("%s: live byte count is %d after every block was freed",
                        slot.name, slot.live_bytes.load()));
  }
  return row;
}

// After the workers stopped: frees what the mailboxes hold, checks every
// slot and the global counts, destroys the interpreters and finalizes.
void CheckAndTearDown(Run& run, std::vector<ThreadResult>& results,
                      HookToggler& toggler, Report* report) {
  std::vector<std::string>& failures = report->failures;
  for (ThreadResult& result : results) {
    report->total_ops += result.ops;
    report->bytes_verified += result.bytes_verified;
    for (std::string& failure : result.failures) {
      failures.push_back(std::move(failure));
    }
  }
  for (const std::string& failure : toggler.failures()) {
    failures.push_back("hook toggling: " + failure);
  }
  for (std::string& failure :
       DrainMailboxes(run.state, &report->bytes_verified)) {
    failures.push_back(std::move(failure));
  }
  for (const auto& slot : run.slots) {
    report->interpreters.push_back(CheckSlot(run, *slot, &failures));
  }
  if (run.state.counts_available) {
    const std::int64_t global = alloc::GlobalAllocatedBlocks();
    if (global != run.global_before) {
      failures.push_back(
          absl::StrFormat("global allocated blocks %d, expected %d", global,
                          run.global_before));
    }
  }
  Runtime& runtime = Runtime::Get();
  for (std::size_t i = 1; i < run.slots.size(); ++i) {
    if (absl::Status s =
            runtime.DestroyInterpreter(run.slots[i]->interp.load());
        !s.ok()) {
      failures.push_back(std::string(s.message()));
    }
  }
  if (alloc::LeakedBlocks() != run.leaked_before) {
    failures.push_back(
        absl::StrFormat("%d blocks leaked by destroyed interpreters",
                        alloc::LeakedBlocks() - run.leaked_before));
  }
  if (absl::Status s = runtime.Finalize(); !s.ok()) {
    failures.push_back(std::string(s.message()));
  }
}

}  // namespace

absl::Status RunStress(const StressOptions& options, Report* report) {
  report->timestamp =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  report->build_mode = BuildMode();
  report->host = HostName();
  report->options = options.effective;
  report->seed = options.workload.seed;

  Run run;
  if (absl::Status s = SetUp(options, &run); !s.ok()) return s;
  WorkloadOptions workload = options.workload;
  // Under debug hooks a cross-interpreter free is fatal by design: hand
  // over raw blocks only.
  workload.handoff_mem_obj = !run.debug_hooks;
  report->configuration = run.config_name;
  PrintConfiguration(options, workload, run);

  // Worker threads over the ordinary slots, then one thread per churn slot.
  const int ordinary =
      1 + options.interpreters + options.main_lock_interpreters;
  std::vector<int> worker_slots;
  for (int t = 0; t < options.threads; ++t)
    worker_slots.push_back(t % ordinary);
  for (int c = 0; c < options.churn; ++c) worker_slots.push_back(ordinary + c);
  std::vector<ThreadResult> results(worker_slots.size());
  for (const int slot : worker_slots) ++run.slots[slot]->threads;

  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < worker_slots.size(); ++i) {
    workers.emplace_back(RunWorker, std::ref(run.state), worker_slots[i],
                         static_cast<int>(i), std::cref(workload),
                         options.churn_every, &results[i]);
  }
  HookToggler toggler(Runtime::Get());
  if (options.toggle_hooks) toggler.Start();

  SampleUntilDone(options, run, results, toggler, start, report);
  run.state.stop.store(true);
  for (std::thread& worker : workers) worker.join();
  toggler.Stop();
  report->seconds = absl::ToDoubleSeconds(absl::Now() - start);
  report->threads = static_cast<int>(worker_slots.size());
  report->hook_toggles = toggler.toggles();
  report->hook_calls = HookToggler::calls();
  CheckAndTearDown(run, results, toggler, report);
  return absl::OkStatus();
}

}  // namespace interpheap::stress
