// The C API over the C++ core.

#include "interpheap/interpheap.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "alloc/config.h"
#include "alloc/domain.h"
#include "alloc/fatal.h"
#include "alloc/hooks/debug_hooks.h"
#include "alloc/hooks/tracemalloc.h"
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
    std::memcpy(status->message, result.message().data(), n);
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

Interpreter* Unwrap(ih_interp_t* interp) {
  return reinterpret_cast<Interpreter*>(interp);
}
ih_interp_t* Wrap(Interpreter* interp) {
  return reinterpret_cast<ih_interp_t*>(interp);
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
bool CallCLockHeld() { return c_lock_held.load()() != 0; }
}  // namespace

void ih_set_lock_held_predicate(ih_lock_held_predicate_t predicate) {
  c_lock_held.store(predicate);
  interpheap::alloc::SetLockHeldPredicate(
      predicate == nullptr ? nullptr : &CallCLockHeld);
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
  if (interp == nullptr) return -1;
  return reinterpret_cast<const Interpreter*>(interp)->id();
}

int ih_thread_attach(ih_interp_t* interp, ih_status_t* status) {
  return Report(ThreadState::Attach(Unwrap(interp)), status);
}

int ih_thread_detach(ih_status_t* status) {
  return Report(ThreadState::Detach(), status);
}

ih_interp_t* ih_thread_current(void) { return Wrap(ThreadState::Current()); }

int ih_thread_lock_held(void) { return ThreadState::CurrentLockHeld() ? 1 : 0; }

}  // extern "C"
