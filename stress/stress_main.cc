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
// right; 1 on any failure; 2 for bad flags or set-up errors.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "alloc/config.h"
#include "alloc/domain.h"
#include "alloc/pymalloc/pymalloc.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "stress/report.h"
#include "stress/workload.h"

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
          "named configuration (INTERPHEAP_MALLOC values); empty: the "
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
ABSL_FLAG(double, progress_interval, 1.0, "seconds between progress lines");
ABSL_FLAG(std::string, json, "", "write the final report as JSON here");
ABSL_FLAG(std::string, html, "",
          "write a self-contained HTML report with charts here");
ABSL_FLAG(int64_t, inject_corruption, -1,
          "test only: after this many ops thread 0 corrupts one of its "
          "blocks (the run must then fail)");

namespace {

using interpheap::alloc::Domain;
using interpheap::interp::Interpreter;
using interpheap::interp::Runtime;
using interpheap::interp::ThreadState;
namespace stress = interpheap::stress;

// A pass-through hook on every domain, counting calls.
struct ToggledHook {
  ih_allocator_t previous[3] = {};
  std::atomic<std::int64_t> calls{0};
  static ToggledHook& Get() {
    static ToggledHook* hook = new ToggledHook();
    return *hook;
  }
  static void* Malloc(void* ctx, std::size_t n) {
    auto* prev = static_cast<ih_allocator_t*>(ctx);
    Get().calls.fetch_add(1, std::memory_order_relaxed);
    return prev->malloc(prev->ctx, n);
  }
  static void* Calloc(void* ctx, std::size_t a, std::size_t b) {
    auto* prev = static_cast<ih_allocator_t*>(ctx);
    Get().calls.fetch_add(1, std::memory_order_relaxed);
    return prev->calloc(prev->ctx, a, b);
  }
  static void* Realloc(void* ctx, void* p, std::size_t n) {
    auto* prev = static_cast<ih_allocator_t*>(ctx);
    Get().calls.fetch_add(1, std::memory_order_relaxed);
    return prev->realloc(prev->ctx, p, n);
  }
  static void Free(void* ctx, void* p) {
    auto* prev = static_cast<ih_allocator_t*>(ctx);
    Get().calls.fetch_add(1, std::memory_order_relaxed);
    prev->free(prev->ctx, p);
  }
  ih_allocator_t For(int domain) {
    return ih_allocator_t{&previous[domain], Malloc, Calloc, Realloc, Free};
  }
};

std::string Human(double value) {
  if (value >= 1e6) return absl::StrFormat("%.2fM", value / 1e6);
  if (value >= 1e3) return absl::StrFormat("%.1fk", value / 1e3);
  return absl::StrFormat("%.0f", value);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "stress: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs many interpreters on many threads allocating in every domain and "
      "verifies every byte. Not a benchmark.");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    return Fail(
        absl::StrCat("unexpected argument '", positional[1], "' (see --help)"));
  }
  const int own = absl::GetFlag(FLAGS_interpreters);
  const int main_lock = absl::GetFlag(FLAGS_main_lock_interpreters);
  const int churn = absl::GetFlag(FLAGS_churn);
  const int threads = absl::GetFlag(FLAGS_threads);
  const std::string size_mix = absl::GetFlag(FLAGS_size_mix);
  if (own < 0 || main_lock < 0 || churn < 0 || threads < 1 ||
      absl::GetFlag(FLAGS_ops) < 0 || absl::GetFlag(FLAGS_duration) <= 0 ||
      absl::GetFlag(FLAGS_churn_every) < 1 ||
      absl::GetFlag(FLAGS_handoff_percent) < 0 ||
      absl::GetFlag(FLAGS_handoff_percent) > 100) {
    return Fail(
        "need --interpreters, --main_lock_interpreters, --churn >= 0, "
        "--threads >= 1, --ops >= 0, --duration > 0, --churn_every >= 1, "
        "--handoff_percent in 0..100");
  }
  if (size_mix != "cpython" && size_mix != "small" && size_mix != "large" &&
      size_mix != "mixed") {
    return Fail("--size_mix must be cpython, small, large or mixed, not '" +
                size_mix + "'");
  }
  stress::WorkloadOptions options;
  {
    std::vector<std::string> weights =
        absl::StrSplit(absl::GetFlag(FLAGS_domain_weights), ',');
    int w[3];
    if (weights.size() != 3 || !absl::SimpleAtoi(weights[0], &w[0]) ||
        !absl::SimpleAtoi(weights[1], &w[1]) ||
        !absl::SimpleAtoi(weights[2], &w[2]) || w[0] < 0 || w[1] < 0 ||
        w[2] < 0 || w[0] + w[1] + w[2] == 0) {
      return Fail(
          "--domain_weights takes three non-negative integers "
          "raw,mem,obj, not all zero");
    }
    options.raw_weight = w[0];
    options.mem_weight = w[1];
    options.obj_weight = w[2];
  }
  options.ops_per_thread = absl::GetFlag(FLAGS_ops);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.size_mix = size_mix;
  options.handoff_percent = absl::GetFlag(FLAGS_handoff_percent);
  options.inject_corruption_at = absl::GetFlag(FLAGS_inject_corruption);

  // ---- Runtime and interpreters ----
  Runtime& runtime = Runtime::Get();
  interpheap::interp::RuntimeConfig config;
  config.allocator = absl::GetFlag(FLAGS_malloc);
  if (absl::Status s = runtime.PreInitialize(config); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  if (absl::Status s = runtime.Initialize(); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  const std::optional<interpheap::alloc::NamedConfig> named =
      interpheap::alloc::CurrentNamedConfig(
          interpheap::alloc::AllocatorTable::Global());
  const std::string config_name =
      named ? std::string(interpheap::alloc::NamedConfigName(*named))
            : "custom";
  const bool debug = named && interpheap::alloc::HasDebugHooks(*named);
  // Under debug hooks a cross-interpreter free is fatal by design: hand
  // over raw blocks only.
  options.handoff_mem_obj = !debug;

  std::vector<std::unique_ptr<stress::Slot>> slots;
  stress::RunState state;
  auto add_slot = [&](const std::string& name, Interpreter* interp,
                      bool is_churn, bool shares_main_lock) {
    auto slot = std::make_unique<stress::Slot>();
    slot->name = name;
    slot->interp.store(interp);
    slot->churn = is_churn;
    slot->main_lock = shares_main_lock;
    if (!is_churn)
      state.handoff_targets.push_back(static_cast<int>(slots.size()));
    state.slots.push_back(slot.get());
    slots.push_back(std::move(slot));
  };
  add_slot("main", runtime.main_interpreter(), false, true);
  for (int i = 0; i < own + main_lock + churn; ++i) {
    interpheap::interp::InterpreterConfig ic;
    ic.lock = i < own || i >= own + main_lock
                  ? interpheap::interp::LockKind::kOwn
                  : interpheap::interp::LockKind::kMain;
    absl::StatusOr<Interpreter*> interp = runtime.CreateInterpreter(ic);
    if (!interp.ok()) return Fail(std::string(interp.status().message()));
    const bool is_churn = i >= own + main_lock;
    add_slot(absl::StrFormat("%s-%d", is_churn ? "churn" : "interp",
                             static_cast<int>((*interp)->id())),
             *interp, is_churn, ic.lock == interpheap::interp::LockKind::kMain);
  }
  const std::int64_t leaked_before = interpheap::alloc::LeakedBlocks();
  const std::int64_t global_before = interpheap::alloc::GlobalAllocatedBlocks();
  state.counts_available =
      named && (*named == interpheap::alloc::NamedConfig::kPymalloc ||
                *named == interpheap::alloc::NamedConfig::kPymallocDebug);

  const int ordinary = 1 + own + main_lock;
  std::printf(
      "stress: configuration %s; %d interpreters (main, %d own-lock, %d "
      "main-lock, %d churn); %d threads + %d churn; %s; seed %" PRIu64
      "; hooks toggled: %s; handoff %d%%%s\n",
      config_name.c_str(), ordinary + churn, own, main_lock, churn, threads,
      churn,
      options.ops_per_thread > 0
          ? absl::StrFormat("%d ops per thread", options.ops_per_thread).c_str()
          : absl::StrFormat("%.1f s", absl::GetFlag(FLAGS_duration)).c_str(),
      options.seed, absl::GetFlag(FLAGS_toggle_hooks) ? "yes" : "no",
      options.handoff_percent,
      options.handoff_mem_obj ? "" : " (raw blocks only under debug hooks)");
  std::fflush(stdout);

  // ---- Threads ----
  struct WorkerSpec {
    int slot;
    int thread;
  };
  std::vector<WorkerSpec> specs;
  for (int t = 0; t < threads; ++t) specs.push_back({t % ordinary, t});
  for (int c = 0; c < churn; ++c) specs.push_back({ordinary + c, threads + c});
  std::vector<stress::ThreadResult> results(specs.size());
  for (const WorkerSpec& spec : specs) ++slots[spec.slot]->threads;

  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    workers.emplace_back(stress::RunWorker, std::ref(state), specs[i].slot,
                         specs[i].thread, std::cref(options),
                         absl::GetFlag(FLAGS_churn_every), &results[i]);
  }

  std::atomic<bool> toggler_stop{false};
  std::atomic<std::int64_t> toggles{0};
  std::vector<std::string> toggle_failures;
  std::thread toggler;
  if (absl::GetFlag(FLAGS_toggle_hooks)) {
    toggler = std::thread([&] {
      ToggledHook& hook = ToggledHook::Get();
      while (!toggler_stop.load()) {
        for (int d = 0; d < 3; ++d) {
          absl::Status s = runtime.WrapAllocator(
              static_cast<Domain>(d), hook.For(d), &hook.previous[d]);
          if (!s.ok()) toggle_failures.push_back(std::string(s.message()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        for (int d = 2; d >= 0; --d) {
          absl::Status s =
              runtime.UnwrapAllocator(static_cast<Domain>(d), hook.For(d));
          if (!s.ok()) toggle_failures.push_back(std::string(s.message()));
        }
        toggles.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }

  // ---- Progress and samples (this thread) ----
  stress::Report report;
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const double duration = absl::GetFlag(FLAGS_duration);
  const double interval =
      std::max(0.05, absl::GetFlag(FLAGS_progress_interval));
  double next_print = interval;
  std::int64_t last_ops = 0;
  double last_seconds = 0;
  auto all_done = [&] {
    for (const stress::ThreadResult& result : results) {
      if (!result.finished.load(std::memory_order_acquire)) return false;
    }
    return true;
  };
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    stress::Sample sample;
    sample.seconds = seconds;
    std::int64_t ops = 0, arenas = 0, live = 0;
    for (const auto& slot : slots) {
      sample.ops.push_back(slot->ops.load());
      sample.arenas.push_back(slot->arenas_now.load());
      ops += slot->ops.load();
      arenas += slot->arenas_now.load();
      live += slot->live_bytes.load();
    }
    sample.live_blocks = live;
    if (report.samples.empty() ||
        seconds - report.samples.back().seconds >= 0.25) {
      report.samples.push_back(sample);
    }
    if (seconds >= next_print) {
      next_print += interval;
      const double rate =
          (ops - last_ops) / std::max(seconds - last_seconds, 1e-9);
      last_ops = ops;
      last_seconds = seconds;
      const std::string line = absl::StrFormat(
          "[%5.1fs] ops %s (%s/s), live %s bytes, arenas %d, hook toggles %d",
          seconds, Human(static_cast<double>(ops)), Human(rate),
          Human(static_cast<double>(live)), arenas, toggles.load());
      if (tty) {
        std::printf("\r%-100s", line.c_str());
      } else {
        std::printf("%s\n", line.c_str());
      }
      std::fflush(stdout);
    }
    if (all_done() || (options.ops_per_thread == 0 && seconds >= duration)) {
      break;
    }
  }
  state.stop.store(true);
  for (std::thread& worker : workers) worker.join();
  toggler_stop.store(true);
  if (toggler.joinable()) toggler.join();
  if (tty) std::printf("\n");
  report.seconds = absl::ToDoubleSeconds(absl::Now() - start);

  // ---- Checks ----
  for (stress::ThreadResult& result : results) {
    report.total_ops += result.ops;
    report.bytes_verified += result.bytes_verified;
    for (std::string& failure : result.failures) {
      report.failures.push_back(std::move(failure));
    }
  }
  for (std::string& failure : toggle_failures) {
    report.failures.push_back("hook toggling: " + failure);
  }
  for (std::string& failure :
       stress::DrainMailboxes(state, &report.bytes_verified)) {
    report.failures.push_back(std::move(failure));
  }
  for (const auto& slot : slots) {
    stress::InterpreterReport row;
    row.name = slot->name;
    row.lock = slot->main_lock ? "main" : "own";
    row.threads = slot->threads;
    row.ops = slot->ops.load();
    row.peak_live_bytes = slot->peak_live_bytes.load();
    row.recreations = slot->recreations.load();
    row.arenas_allocated = slot->arenas_allocated.load();
    row.arenas_released = slot->arenas_released.load();
    row.cross_interpreter_frees = slot->remote_frees.load();
    row.class_blocks_in_use = slot->occupancy;
    {
      interpheap::interp::ScopedAttach attach(slot->interp.load());
      Interpreter* interp = ThreadState::Current();
      row.cross_interpreter_frees += interp->heap().remote_frees();
      absl::StatusOr<interpheap::alloc::HeapStats> stats =
          Runtime::CurrentHeapStats();
      if (stats.ok()) {
        row.arenas_allocated +=
            static_cast<std::int64_t>(stats->arenas_allocated_total);
        row.arenas_released += static_cast<std::int64_t>(
            stats->arenas_allocated_total - stats->arenas_current);
      }
      if (state.counts_available) {
        // Pool blocks are exact per heap (raw fallbacks are counted by the
        // interpreter that frees them; the global check covers those).
        interpheap::alloc::Heap& heap = interp->heap();
        heap.guard().AssertHeld();
        row.leaked_blocks = heap.PoolBlocks();
        if (row.leaked_blocks != 0) {
          report.failures.push_back(absl::StrFormat(
              "%s: %d pool blocks still allocated after every block was freed",
              slot->name, row.leaked_blocks));
        }
      }
    }
    if (slot->live_bytes.load() != 0) {
      report.failures.push_back(absl::StrFormat(
          "%s: live byte count is %d after every block was freed", slot->name,
          slot->live_bytes.load()));
    }
    report.interpreters.push_back(std::move(row));
  }
  if (state.counts_available) {
    const std::int64_t global = interpheap::alloc::GlobalAllocatedBlocks();
    if (global != global_before) {
      report.failures.push_back(absl::StrFormat(
          "global allocated blocks %d, expected %d", global, global_before));
    }
  }
  for (std::size_t i = 1; i < slots.size(); ++i) {
    if (absl::Status s = runtime.DestroyInterpreter(slots[i]->interp.load());
        !s.ok()) {
      report.failures.push_back(std::string(s.message()));
    }
  }
  if (interpheap::alloc::LeakedBlocks() != leaked_before) {
    report.failures.push_back(
        absl::StrFormat("%d blocks leaked by destroyed interpreters",
                        interpheap::alloc::LeakedBlocks() - leaked_before));
  }
  if (absl::Status s = runtime.Finalize(); !s.ok()) {
    report.failures.push_back(std::string(s.message()));
  }

  report.configuration = config_name;
  report.seed = options.seed;
  report.threads = static_cast<int>(specs.size());
  report.hook_toggles = toggles.load();
  report.hook_calls = ToggledHook::Get().calls.load();
  std::vector<std::string> args(argv, argv + argc);
  report.command_line = absl::StrJoin(args, " ");

  std::fputs(stress::RenderText(report).c_str(), stdout);
  for (const auto& [flag, render] :
       {std::make_pair(absl::GetFlag(FLAGS_json), &stress::RenderJson),
        std::make_pair(absl::GetFlag(FLAGS_html), &stress::RenderHtml)}) {
    if (flag.empty()) continue;
    std::ofstream out(flag);
    out << render(report);
    if (!out) {
      std::fprintf(stderr, "stress: cannot write %s\n", flag.c_str());
      return 2;
    }
    std::printf("stress: wrote %s\n", flag.c_str());
  }
  for (const std::string& failure : report.failures) {
    std::fprintf(stderr, "stress: %s\n", failure.c_str());
  }
  return report.passed() ? 0 : 1;
}
