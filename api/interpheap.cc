// The C API over the C++ core.

#include "interpheap/interpheap.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "alloc/config.h"
#include "alloc/domain.h"
#include "alloc/fatal.h"
#include "alloc/hooks/debug_hooks.h"
#include "alloc/hooks/fault_injection.h"
#include "alloc/hooks/tracemalloc.h"
#include "alloc/pymalloc/heap_registry.h"
#include "alloc/pymalloc/pymalloc.h"
#include "alloc/pymalloc/stats.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"

namespace {

using interpheap::alloc::AllocatorTable;
using interpheap::alloc::Domain;
using interpheap::interp::Interpreter;
using interpheap::interp::Runtime;
using interpheap::interp::ThreadState;

int Report(const absl::Status& result, ih_status_t* status) {
  const int code = static_cast<int>(result.code());
  if (status != nullptr) {
    status->code = code;
    const size_t n =
        std::min(result.message().size(), sizeof(status->message) - 1);
    // An OK status has an empty message whose data() may be null.
    if (n > 0) std::memcpy(status->message, result.message().data(), n);
    status->message[n] = '\0';
  }
  return code;
}

bool ValidDomain(ih_domain_t domain) {
  return domain == IH_DOMAIN_RAW || domain == IH_DOMAIN_MEM ||
         domain == IH_DOMAIN_OBJ;
}

absl::Status BadDomain(ih_domain_t domain) {
  return absl::InvalidArgumentError("unknown domain " +
                                    std::to_string(static_cast<int>(domain)) +
                                    "; valid domains are raw (0), mem (1), "
                                    "obj (2)");
}

absl::Status NullArgument(const char* what) {
  return absl::InvalidArgumentError(std::string(what) + " is NULL");
}

// An ih_interp_t* carries an InterpreterHandle, never an address: a
// destroyed interpreter's handle is refused even when a new interpreter
// has its address.
interpheap::interp::InterpreterHandle Unwrap(const ih_interp_t* interp) {
  return {static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(interp))};
}
ih_interp_t* Wrap(const Interpreter* interp) {
  if (interp == nullptr) return nullptr;
  return reinterpret_cast<ih_interp_t*>(
      static_cast<std::uintptr_t>(interp->handle().value));
}

static_assert(IH_SIZE_CLASS_COUNT == interpheap::alloc::kSizeClassCount);
static_assert(IH_TRACEMALLOC_MAX_FRAMES == interpheap::alloc::kMaxFrames);

void FillStats(const Runtime::HeapReport& report, ih_stats_t* out) {
  const interpheap::alloc::HeapStats& stats = report.stats;
  const interpheap::alloc::StatsTotals totals =
      interpheap::alloc::ComputeStatsTotals(stats);
  *out = ih_stats_t{};
  for (int c = 0; c < interpheap::alloc::kSizeClassCount; ++c) {
    out->classes[c].block_size = interpheap::alloc::BlockSizeOf(c);
    out->classes[c].pools = stats.pools[c];
    out->classes[c].blocks_in_use = stats.blocks_in_use[c];
    out->classes[c].free_blocks = stats.blocks_available[c];
  }
  out->heaps = report.heaps;
  out->arenas_allocated_total = stats.arenas_allocated_total;
  out->arenas_reclaimed = stats.arenas_allocated_total - stats.arenas_current;
  out->arenas_highwater = stats.arenas_highwater;
  out->arenas_current = stats.arenas_current;
  out->unused_pools = stats.free_pools;
  out->blocks_in_use = totals.blocks_in_use;
  out->free_blocks = totals.blocks_available;
  out->bytes_in_allocated_blocks = totals.allocated_bytes;
  out->bytes_in_available_blocks = totals.available_bytes;
  out->allocated_blocks = report.allocated_blocks;
}

// Writes the stats table of `report` to `out`.
absl::Status PrintReport(const Runtime::HeapReport& report, FILE* out) {
  char text[8192];
  const std::size_t n =
      interpheap::alloc::FormatStatsText(report.stats, text, sizeof(text));
  if (std::fwrite(text, 1, n, out) != n || std::fflush(out) != 0) {
    return absl::InternalError("print stats: writing the table failed");
  }
  return absl::OkStatus();
}

}  // namespace

extern "C" {

// The twelve data-plane entry points: ih_<domain>_{malloc,calloc,realloc,
// free}, each the domain call and nothing else.
#define IH_DEFINE_DOMAIN_ENTRY_POINTS(name, domain)           \
  void* ih_##name##_malloc(size_t size) {                     \
    return interpheap::alloc::Malloc(domain, size);           \
  }                                                           \
  void* ih_##name##_calloc(size_t nelem, size_t elsize) {     \
    return interpheap::alloc::Calloc(domain, nelem, elsize);  \
  }                                                           \
  void* ih_##name##_realloc(void* ptr, size_t new_size) {     \
    return interpheap::alloc::Realloc(domain, ptr, new_size); \
  }                                                           \
  void ih_##name##_free(void* ptr) { interpheap::alloc::Free(domain, ptr); }

int ih_version(void) { return IH_VERSION_NUMBER; }
const char* ih_version_string(void) { return IH_VERSION_STRING; }

IH_DEFINE_DOMAIN_ENTRY_POINTS(raw, Domain::kRaw)
IH_DEFINE_DOMAIN_ENTRY_POINTS(mem, Domain::kMem)
IH_DEFINE_DOMAIN_ENTRY_POINTS(obj, Domain::kObj)
#undef IH_DEFINE_DOMAIN_ENTRY_POINTS

ih_runtime_state_t ih_runtime_state(void) {
  return static_cast<ih_runtime_state_t>(Runtime::Get().state());
}

const char* ih_runtime_state_name(ih_runtime_state_t state) {
  if (state < IH_RUNTIME_UNINITIALIZED || state > IH_RUNTIME_FINALIZED) {
    return "?";
  }
  return interpheap::interp::RuntimeStateName(
      static_cast<interpheap::interp::RuntimeState>(state));
}

int ih_runtime_pre_initialize(const char* allocator_name, ih_status_t* status) {
  interpheap::interp::RuntimeConfig config;
  if (allocator_name != nullptr) config.allocator = allocator_name;
  return Report(Runtime::Get().PreInitialize(config), status);
}

int ih_runtime_apply_configuration(const char* name, ih_status_t* status) {
  if (name == nullptr) return Report(NullArgument("name"), status);
  return Report(Runtime::Get().ApplyConfiguration(name), status);
}

int ih_runtime_initialize(ih_status_t* status) {
  return Report(Runtime::Get().Initialize(), status);
}

int ih_runtime_finalize(ih_status_t* status) {
  return Report(Runtime::Get().Finalize(), status);
}

int ih_runtime_reset(ih_status_t* status) {
  return Report(Runtime::Get().Reset(), status);
}

void ih_get_allocator(ih_domain_t domain, ih_allocator_t* allocator) {
  if (allocator == nullptr) return;
  if (!ValidDomain(domain)) {
    *allocator = ih_allocator_t{};
    return;
  }
  *allocator = Runtime::Get().GetAllocator(static_cast<Domain>(domain));
}

int ih_replace_allocator(ih_domain_t domain, const ih_allocator_t* allocator,
                         ih_status_t* status) {
  if (!ValidDomain(domain)) return Report(BadDomain(domain), status);
  if (allocator == nullptr) return Report(NullArgument("allocator"), status);
  return Report(
      Runtime::Get().ReplaceAllocator(static_cast<Domain>(domain), *allocator),
      status);
}

int ih_wrap_allocator(ih_domain_t domain, const ih_allocator_t* hook,
                      ih_allocator_t* previous, ih_status_t* status) {
  if (!ValidDomain(domain)) return Report(BadDomain(domain), status);
  if (hook == nullptr) return Report(NullArgument("hook"), status);
  return Report(Runtime::Get().WrapAllocator(static_cast<Domain>(domain), *hook,
                                             previous),
                status);
}

int ih_unwrap_allocator(ih_domain_t domain, const ih_allocator_t* hook,
                        ih_status_t* status) {
  if (!ValidDomain(domain)) return Report(BadDomain(domain), status);
  if (hook == nullptr) return Report(NullArgument("hook"), status);
  return Report(
      Runtime::Get().UnwrapAllocator(static_cast<Domain>(domain), *hook),
      status);
}

const char* ih_current_configuration_name(void) {
  const std::optional<interpheap::alloc::NamedConfig> config =
      interpheap::alloc::CurrentNamedConfig(AllocatorTable::Global());
  if (!config.has_value()) return nullptr;
  // NamedConfigName returns views of string literals: NUL-terminated.
  return interpheap::alloc::NamedConfigName(*config).data();
}

void ih_get_arena_allocator(ih_arena_allocator_t* allocator) {
  if (allocator != nullptr) *allocator = interpheap::alloc::GetArenaAllocator();
}

int ih_set_arena_allocator(const ih_arena_allocator_t* allocator,
                           ih_status_t* status) {
  if (allocator == nullptr) return Report(NullArgument("allocator"), status);
  return Report(Runtime::Get().SetArenaAllocator(*allocator), status);
}

int64_t ih_allocated_blocks(ih_status_t* status) {
  absl::StatusOr<std::int64_t> blocks = Runtime::CurrentAllocatedBlocks();
  Report(blocks.status(), status);
  return blocks.ok() ? *blocks : -1;
}

int64_t ih_global_allocated_blocks(void) {
  return Runtime::GlobalAllocatedBlocks();
}

int64_t ih_interp_allocated_blocks(ih_interp_t* interp, ih_status_t* status) {
  absl::StatusOr<std::int64_t> blocks =
      Runtime::Get().InterpreterAllocatedBlocks(Unwrap(interp));
  Report(blocks.status(), status);
  return blocks.ok() ? *blocks : -1;
}

int64_t ih_interp_remote_frees(ih_interp_t* interp, ih_status_t* status) {
  absl::StatusOr<std::int64_t> frees =
      Runtime::Get().InterpreterRemoteFrees(Unwrap(interp));
  Report(frees.status(), status);
  return frees.ok() ? *frees : -1;
}

int64_t ih_global_remote_frees(void) {
  return interpheap::alloc::GlobalRemoteFrees();
}

int ih_interp_get_stats(ih_interp_t* interp, ih_stats_t* stats,
                        ih_status_t* status) {
  if (stats == nullptr) return Report(NullArgument("stats"), status);
  absl::StatusOr<Runtime::HeapReport> report =
      Runtime::Get().InterpreterHeapReport(Unwrap(interp));
  if (!report.ok()) return Report(report.status(), status);
  FillStats(*report, stats);
  return Report(absl::OkStatus(), status);
}

int ih_get_stats(ih_stats_t* stats, ih_status_t* status) {
  if (stats == nullptr) return Report(NullArgument("stats"), status);
  absl::StatusOr<Runtime::HeapReport> report =
      Runtime::Get().ProcessHeapReport();
  if (!report.ok()) return Report(report.status(), status);
  FillStats(*report, stats);
  return Report(absl::OkStatus(), status);
}

int ih_interp_print_stats(FILE* out, ih_interp_t* interp, ih_status_t* status) {
  if (out == nullptr) return Report(NullArgument("out"), status);
  absl::StatusOr<Runtime::HeapReport> report =
      Runtime::Get().InterpreterHeapReport(Unwrap(interp));
  if (!report.ok()) return Report(report.status(), status);
  return Report(PrintReport(*report, out), status);
}

int ih_print_stats(FILE* out, ih_status_t* status) {
  if (out == nullptr) return Report(NullArgument("out"), status);
  absl::StatusOr<Runtime::HeapReport> report =
      Runtime::Get().ProcessHeapReport();
  if (!report.ok()) return Report(report.status(), status);
  return Report(PrintReport(*report, out), status);
}

int ih_interp_validate_heap(ih_interp_t* interp, ih_status_t* status) {
  return Report(Runtime::Get().ValidateHeap(Unwrap(interp)), status);
}

int ih_validate_heaps(ih_status_t* status) {
  return Report(Runtime::Get().ValidateHeaps(), status);
}

int ih_pymalloc_owns(const void* p) {
  return interpheap::alloc::InAnyHeapArena(p) ? 1 : 0;
}

int ih_write_stats(int fd, int json, ih_status_t* status) {
  absl::StatusOr<interpheap::alloc::HeapStats> stats =
      Runtime::CurrentHeapStats();
  if (!stats.ok()) return Report(stats.status(), status);
  const std::string text = json ? interpheap::alloc::StatsJson(*stats) + "\n"
                                : interpheap::alloc::StatsText(*stats);
  std::size_t left = text.size();
  const char* p = text.data();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n <= 0) {
      return Report(absl::InternalError("writing the stats failed"), status);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return Report(absl::OkStatus(), status);
}

int ih_setup_debug_hooks(int serial_numbers, ih_status_t* status) {
  interpheap::alloc::DebugHookOptions options;
  options.serial_numbers = serial_numbers != 0;
  return Report(Runtime::Get().SetupDebugHooks(options), status);
}

ih_fatal_handler_t ih_set_fatal_handler(ih_fatal_handler_t handler) {
  return interpheap::alloc::SetFatalHandler(handler);
}

namespace {
std::atomic<ih_lock_held_predicate_t> c_lock_held{nullptr};
// A thread may have loaded this trampoline just before the C predicate was
// cleared: it then answers with the default.
bool CallCLockHeld() {
  const ih_lock_held_predicate_t predicate =
      c_lock_held.load(std::memory_order_acquire);
  return predicate == nullptr ? interpheap::alloc::DefaultLockHeld()
                              : predicate() != 0;
}
}  // namespace

void ih_set_lock_held_predicate(ih_lock_held_predicate_t predicate) {
  if (predicate == nullptr) {
    // The default goes back first; the trampoline copes with a null C
    // predicate for the threads already on their way into it.
    interpheap::alloc::SetLockHeldPredicate(nullptr);
    c_lock_held.store(nullptr, std::memory_order_release);
    return;
  }
  c_lock_held.store(predicate, std::memory_order_release);
  interpheap::alloc::SetLockHeldPredicate(&CallCLockHeld);
}

int ih_tracemalloc_start(int nframe, ih_status_t* status) {
  return Report(Runtime::Get().StartTracemalloc(nframe), status);
}

int ih_tracemalloc_stop(ih_status_t* status) {
  return Report(Runtime::Get().StopTracemalloc(), status);
}

int ih_tracemalloc_is_tracing(void) {
  return interpheap::alloc::IsTracing() ? 1 : 0;
}

int ih_tracemalloc_get_traceback_limit(void) {
  return interpheap::alloc::TracebackLimit();
}

void ih_tracemalloc_get_traced_memory(size_t* current, size_t* peak) {
  const interpheap::alloc::TracedMemory memory =
      interpheap::alloc::GetTracedMemory();
  if (current != nullptr) *current = memory.current;
  if (peak != nullptr) *peak = memory.peak;
}

void ih_tracemalloc_reset_peak(void) { interpheap::alloc::ResetPeak(); }

void ih_tracemalloc_clear_traces(void) { interpheap::alloc::ClearTraces(); }

int ih_tracemalloc_get_traceback(unsigned int domain, uintptr_t ptr,
                                 void** frames, size_t capacity,
                                 size_t* nframes, ih_status_t* status) {
  if (nframes == nullptr) return Report(NullArgument("nframes"), status);
  if (frames == nullptr && capacity > 0) {
    return Report(NullArgument("frames (with a capacity)"), status);
  }
  if (!interpheap::alloc::IsTracing()) {
    return Report(absl::FailedPreconditionError(
                      "get traceback refused: tracemalloc is not tracing"),
                  status);
  }
  interpheap::alloc::TraceInfo trace;
  if (!interpheap::alloc::GetTrace(domain, ptr, &trace)) {
    return Report(
        absl::NotFoundError(absl::StrFormat(
            "get traceback: no trace of %#x in trace domain %u", ptr, domain)),
        status);
  }
  *nframes = trace.frames.size();
  const std::size_t n = std::min(trace.frames.size(), capacity);
  if (n > 0) std::memcpy(frames, trace.frames.data(), n * sizeof(void*));
  return Report(absl::OkStatus(), status);
}

int ih_tracemalloc_track(unsigned int domain, uintptr_t ptr, size_t size) {
  return interpheap::alloc::Track(domain, ptr, size);
}

int ih_tracemalloc_untrack(unsigned int domain, uintptr_t ptr) {
  return interpheap::alloc::Untrack(domain, ptr);
}

int ih_set_nomemory(int64_t start, int64_t stop, ih_status_t* status) {
  return Report(Runtime::Get().SetNoMemory(start, stop), status);
}

int ih_remove_nomemory(ih_status_t* status) {
  return Report(Runtime::Get().RemoveNoMemory(), status);
}

int64_t ih_nomemory_call_count(void) {
  return interpheap::alloc::NoMemoryCallCount();
}

int64_t ih_nomemory_failure_count(void) {
  return interpheap::alloc::NoMemoryFailureCount();
}

ih_interp_t* ih_interp_create(const ih_interp_config_t* config,
                              ih_status_t* status) {
  interpheap::interp::InterpreterConfig cxx_config;
  if (config != nullptr) {
    switch (config->lock) {
      case IH_LOCK_MAIN:
        cxx_config.lock = interpheap::interp::LockKind::kMain;
        break;
      case IH_LOCK_OWN:
        cxx_config.lock = interpheap::interp::LockKind::kOwn;
        break;
      case IH_LOCK_HOST:
        cxx_config.lock = interpheap::interp::LockKind::kHost;
        break;
      default:
        Report(absl::InvalidArgumentError(absl::StrFormat(
                   "create interpreter refused: unknown lock kind %d",
                   config->lock)),
               status);
        return nullptr;
    }
    cxx_config.own_heap = config->own_heap != 0;
    cxx_config.host_lock_held = config->host_lock_held;
    cxx_config.host_lock_ctx = config->host_lock_ctx;
  }
  absl::StatusOr<Interpreter*> interp =
      Runtime::Get().CreateInterpreter(cxx_config);
  Report(interp.status(), status);
  return interp.ok() ? Wrap(*interp) : nullptr;
}

int ih_interp_destroy(ih_interp_t* interp, ih_status_t* status) {
  return Report(Runtime::Get().DestroyInterpreter(Unwrap(interp)), status);
}

ih_interp_t* ih_interp_main(void) {
  return Wrap(Runtime::Get().main_interpreter());
}

int64_t ih_interp_id(const ih_interp_t* interp) {
  return Runtime::Get().InterpreterId(Unwrap(interp)).value_or(-1);
}

int ih_thread_attach(ih_interp_t* interp, ih_status_t* status) {
  return Report(Runtime::Get().Attach(Unwrap(interp)), status);
}

int ih_thread_detach(ih_status_t* status) {
  return Report(ThreadState::Detach(), status);
}

ih_interp_t* ih_thread_current(void) { return Wrap(ThreadState::Current()); }

int ih_thread_lock_held(void) { return ThreadState::CurrentLockHeld() ? 1 : 0; }

}  // extern "C"
