#include "interp/runtime.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "absl/strings/str_format.h"
#include "alloc/config.h"
#include "alloc/fatal.h"
#include "alloc/fork.h"
#include "alloc/hooks/fault_injection.h"
#include "alloc/hooks/tracemalloc.h"
#include "alloc/pymalloc/heap_registry.h"
#include "alloc/pymalloc/pymalloc_allocator.h"
#include "alloc/pymalloc/stats.h"
#include "interp/thread_state.h"
#include "sync/mutex_lock.h"

namespace interpheap::interp {
namespace {

using alloc::AllocatorTable;
using alloc::AllocatorTableSnapshot;

// Retires the interpreter's own heap (alloc::Heap::Retire: freed now, or an
// orphan until its last leaked block comes home), then frees the
// interpreter. Takes no interpreter lock, so a destroy never holds two
// (README "Lock order"): no thread is attached to `interp`, and the caller
// read its attached count (acquire) after the last Detach's decrement,
// which is that thread's last touch of the interpreter, so the heap is
// quiescent and the lock idle.
void RetireHeapAndFreeInterpreter(Interpreter* interp) {
  if (&interp->heap_owner() == interp) {
    const std::int64_t leaked =
        alloc::Heap::Retire(&interp->heap()).leaked_blocks;
    if (leaked != 0 && alloc::IsTracing()) {
      char line[160];
      const int n = std::snprintf(
          line, sizeof(line),
          "interpheap: interpreter %lld destroyed with %lld live block(s)\n",
          static_cast<long long>(interp->id()), static_cast<long long>(leaked));
      alloc::WriteFully(2, line, static_cast<std::size_t>(n));
      alloc::WriteLeakReport(2, interp->id());
    }
  }
  delete interp;
}

// `make(domain)` for each domain, raw first.
template <typename T>
std::array<T, alloc::kDomainCount> PerDomain(T (*make)(alloc::Domain)) {
  return {make(alloc::Domain::kRaw), make(alloc::Domain::kMem),
          make(alloc::Domain::kObj)};
}

bool NoMemoryInstalled() {
  return AllocatorTable::Global().AnyLayer(
      alloc::Domain::kRaw, [](const alloc::Allocator& a) {
        return alloc::SameAllocator(a,
                                    alloc::NoMemoryHook(alloc::Domain::kRaw));
      });
}

// PreInitialize and Reset replace every domain's stack, dropping any hook
// left from the previous cycle; tracemalloc's hooks among them end tracing
// (and its traces), else IsTracing() would stay true with no hook installed:
// StopTracemalloc would be refused forever and StartTracemalloc would
// install nothing.
void EndTracingWithDroppedHooks() {
  if (alloc::IsTracing()) alloc::EndTracing();
}

absl::Status CurrentOwnHeapCheck(const Interpreter* interp) {
  if (interp == nullptr) {
    return absl::FailedPreconditionError(
        "the calling thread is not attached to an interpreter");
  }
  if (&interp->heap_owner() != interp) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "interpreter %d doesn't have its own heap (it uses main's)",
        interp->id()));
  }
  return absl::OkStatus();
}

absl::Status NotLive(std::string_view what) {
  return absl::NotFoundError(absl::StrFormat(
      "%s refused: not a live interpreter of this runtime (a null handle, or "
      "a stale one: it was destroyed)",
      what));
}

// Heap::Validate()'s error, naming the heap.
absl::Status CheckHeap(const alloc::Heap& heap) {
  heap.guard().AssertHeld();
  absl::Status s = heap.Validate();
  if (s.ok()) return s;
  return absl::Status(s.code(),
                      absl::StrFormat("%s heap of interpreter %d: %s",
                                      heap.orphaned() ? "the orphaned" : "the",
                                      heap.owner_id(), s.message()));
}

absl::Status ValidateInterpreterConfig(const InterpreterConfig& config) {
  if (config.lock != LockKind::kMain && !config.own_heap) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "create interpreter refused: an interpreter with the %s lock cannot "
        "use the main heap (the heap would be touched under two different "
        "locks); give it its own heap or the main lock",
        LockKindName(config.lock)));
  }
  if ((config.lock == LockKind::kHost) != (config.host_lock_held != nullptr)) {
    return absl::InvalidArgumentError(
        "create interpreter refused: a host lock-held predicate is required "
        "with the host lock, and only with it");
  }
  return absl::OkStatus();
}

}  // namespace

Runtime& Runtime::Get() {
  static Runtime* const runtime = [] {
    auto* made = new Runtime();
    alloc::RegisterForkLock(&made->mu_, alloc::ForkRank::kRuntime);
    return made;
  }();
  return *runtime;
}

absl::StatusOr<RuntimeState> Runtime::CheckLocked(RuntimeOp op) const {
  const RuntimeState now = state();
  const std::optional<RuntimeState> next = NextState(now, op);
  if (!next.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s refused: runtime is %s; %s", RuntimeOpName(op),
                        RuntimeStateName(now), RuntimeOpRule(op)));
  }
  return *next;
}

void Runtime::CommitLocked(RuntimeState next) {
  state_.store(next, std::memory_order_release);
}

template <typename Body>
absl::Status Runtime::Transition(RuntimeOp op, Body body) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next = CheckLocked(op);
  if (!next.ok()) return next.status();
  if (absl::Status s = body(); !s.ok()) return s;
  CommitLocked(*next);
  return absl::OkStatus();
}

absl::Status Runtime::ApplyConfigurationLocked(const std::string& name) {
  absl::StatusOr<alloc::NamedConfig> config = alloc::ParseNamedConfig(name);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::array<alloc::Allocator, alloc::kDomainCount>> bases =
      alloc::BaseAllocators(*config);
  if (!bases.ok()) return bases.status();
  if (!alloc::HasDebugHooks(*config)) {
    return AllocatorTable::Global().ResetTo(*bases);
  }
  alloc::SetDebugHookOptions(debug_options_for_config_);
  // The hooks go on before any block of the new configuration exists: a
  // pointer they never handed out is misuse.
  for (alloc::Domain domain : alloc::kAllDomains) {
    alloc::SetPassUnknownPointersDown(domain, false);
  }
  return AllocatorTable::Global().ResetToWithHooks(
      *bases, PerDomain(&alloc::DebugHook), PerDomain(&alloc::DebugHookLink));
}

absl::Status Runtime::WrapAllLocked(const HookSet& hooks,
                                    const LinkSet& links) {
  AllocatorTable& table = AllocatorTable::Global();
  for (int i = 0; i < alloc::kDomainCount; ++i) {
    absl::Status s =
        table.Wrap(static_cast<alloc::Domain>(i), hooks[i], links[i]);
    if (!s.ok()) {
      for (int j = i - 1; j >= 0; --j) {
        (void)table.Unwrap(static_cast<alloc::Domain>(j), hooks[j]);
      }
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Runtime::UnwrapAllLocked(const HookSet& hooks, const char* what) {
  AllocatorTable& table = AllocatorTable::Global();
  for (int i = 0; i < alloc::kDomainCount; ++i) {
    const auto domain = static_cast<alloc::Domain>(i);
    if (!alloc::SameAllocator(table.Get(domain), hooks[i])) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s refused: another hook is wrapped above it on the %s domain; "
          "unwrap that hook first (hooks come off in LIFO order)",
          what, alloc::DomainName(domain)));
    }
  }
  for (int i = 0; i < alloc::kDomainCount; ++i) {
    absl::Status s = table.Unwrap(static_cast<alloc::Domain>(i), hooks[i]);
    (void)s;  // cannot fail: checked above under the runtime lock
  }
  return absl::OkStatus();
}

absl::Status Runtime::PreInitialize(const RuntimeConfig& config) {
  return Transition(RuntimeOp::kPreInitialize, [&]() -> absl::Status {
    mu_.AssumeHeld();
    std::string name = config.allocator;
    if (name.empty() && config.use_environment) {
      if (const char* env = std::getenv(alloc::kConfigEnvVar)) name = env;
    }
    if (absl::Status s = ApplyConfigurationLocked(name); !s.ok()) {
      if (name == config.allocator) return s;
      return absl::Status(
          s.code(),
          absl::StrFormat("%s: %s", alloc::kConfigEnvVar, s.message()));
    }
    EndTracingWithDroppedHooks();
    return absl::OkStatus();
  });
}

absl::Status Runtime::ApplyConfiguration(std::string_view name) {
  return Transition(RuntimeOp::kApplyConfiguration, [&]() -> absl::Status {
    mu_.AssumeHeld();
    for (alloc::Domain domain : alloc::kAllDomains) {
      // The debug hooks of a *_debug configuration are replaced with it.
      const AllocatorTable& table = AllocatorTable::Global();
      const int hooks = table.HookCount(domain);
      const bool only_debug =
          hooks == 1 && alloc::IsDebugHook(table.Get(domain));
      if (hooks > 0 && !only_debug) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "apply configuration refused: %d hook(s) are wrapped over the %s "
            "allocator; unwrap them first",
            hooks, alloc::DomainName(domain)));
      }
    }
    return ApplyConfigurationLocked(std::string(name));
  });
}

absl::Status Runtime::ReplaceAllocator(alloc::Domain domain,
                                       const alloc::Allocator& allocator) {
  return Transition(RuntimeOp::kReplaceAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    return AllocatorTable::Global().Replace(domain, allocator);
  });
}

absl::Status Runtime::SetArenaAllocator(
    const alloc::ArenaAllocator& allocator) {
  return Transition(RuntimeOp::kSetArenaAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    return alloc::SetArenaAllocator(allocator);
  });
}

absl::Status Runtime::WrapAllocator(alloc::Domain domain,
                                    const alloc::Allocator& hook,
                                    alloc::Allocator* previous) {
  return Transition(RuntimeOp::kWrapAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    return AllocatorTable::Global().Wrap(domain, hook, previous);
  });
}

absl::Status Runtime::WrapAllocator(alloc::Domain domain,
                                    const alloc::Allocator& hook,
                                    alloc::HookLink* link) {
  return Transition(RuntimeOp::kWrapAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    return AllocatorTable::Global().Wrap(domain, hook, link);
  });
}

absl::Status Runtime::UnwrapAllocator(alloc::Domain domain,
                                      const alloc::Allocator& hook) {
  return Transition(RuntimeOp::kUnwrapAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    if (alloc::IsDebugHook(hook)) {
      return absl::FailedPreconditionError(
          "unwrap refused: debug hooks stay installed until the runtime is "
          "reset; live blocks carry their debug header");
    }
    return AllocatorTable::Global().Unwrap(domain, hook);
  });
}

absl::Status Runtime::SetupDebugHooks(const alloc::DebugHookOptions& options) {
  return Transition(RuntimeOp::kSetupDebugHooks, [&]() -> absl::Status {
    mu_.AssumeHeld();
    AllocatorTable& table = AllocatorTable::Global();
    int installed = 0;
    for (alloc::Domain domain : alloc::kAllDomains) {
      installed += table.AnyLayer(domain, &alloc::IsDebugHook) ? 1 : 0;
    }
    if (installed > 0 &&
        alloc::GetDebugHookOptions().serial_numbers != options.serial_numbers) {
      return absl::FailedPreconditionError(
          "setup debug hooks refused: serial numbers cannot be switched while "
          "debug hooks are installed (blocks would change layout)");
    }
    // CPython's PyMem_SetupDebugHooks is idempotent: nothing to do.
    if (installed == alloc::kDomainCount) return absl::OkStatus();
    // Blocks without a debug header may be live in every domain (raw is
    // usable before pre-initialization; other threads may allocate while
    // the hooks go on): the hooks wrapped here pass pointers they never
    // handed out down to the allocator they wrap (alloc/hooks/
    // debug_block_set.h), so no count of live blocks is needed.
    // All or nothing: a refused wrap unwraps what this call wrapped (still
    // outermost: the runtime lock is held) and restores the options.
    const alloc::DebugHookOptions old_options = alloc::GetDebugHookOptions();
    if (installed == 0) alloc::SetDebugHookOptions(options);
    // Blocks freed by the hooks of an earlier period may have had their
    // address handed out since by the allocator below, without a header:
    // such a block must be passed down, not named a double free.
    alloc::ForgetFreedDebugBlocks();
    bool wrapped[alloc::kDomainCount] = {};
    for (alloc::Domain domain : alloc::kAllDomains) {
      if (table.AnyLayer(domain, &alloc::IsDebugHook)) continue;
      alloc::SetPassUnknownPointersDown(domain, true);
      absl::Status s = table.Wrap(domain, alloc::DebugHook(domain),
                                  alloc::DebugHookLink(domain));
      if (!s.ok()) {
        for (int j = alloc::kDomainCount - 1; j >= 0; --j) {
          if (!wrapped[j]) continue;
          const auto undo = static_cast<alloc::Domain>(j);
          (void)table.Unwrap(undo, alloc::DebugHook(undo));
        }
        alloc::SetDebugHookOptions(old_options);
        return s;
      }
      wrapped[static_cast<int>(domain)] = true;
    }
    debug_options_for_config_ = alloc::GetDebugHookOptions();
    return absl::OkStatus();
  });
}

absl::Status Runtime::StartTracemalloc(int nframe) {
  if (absl::Status s = alloc::CheckFrameLimit(nframe); !s.ok()) return s;
  return Transition(RuntimeOp::kWrapAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    if (alloc::IsTracing()) return absl::OkStatus();
    if (absl::Status s = WrapAllLocked(PerDomain(&alloc::TracemallocHook),
                                       PerDomain(&alloc::TracemallocHookLink));
        !s.ok()) {
      return s;
    }
    alloc::BeginTracing(nframe);
    return absl::OkStatus();
  });
}

absl::Status Runtime::StopTracemalloc() {
  return Transition(RuntimeOp::kUnwrapAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    if (!alloc::IsTracing()) return absl::OkStatus();
    if (absl::Status s = UnwrapAllLocked(PerDomain(&alloc::TracemallocHook),
                                         "stop tracemalloc");
        !s.ok()) {
      return s;
    }
    alloc::EndTracing();
    return absl::OkStatus();
  });
}

absl::Status Runtime::SetNoMemory(std::int64_t start, std::int64_t stop) {
  if (start < 0 || stop < 0 || (stop != 0 && stop <= start)) {
    return absl::InvalidArgumentError(
        "set nomemory refused: need 0 <= start < stop, or stop == 0 for no "
        "end");
  }
  return Transition(RuntimeOp::kWrapAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    alloc::SetNoMemoryWindow(start, stop);
    if (!NoMemoryInstalled()) {
      if (absl::Status s = WrapAllLocked(PerDomain(&alloc::NoMemoryHook),
                                         PerDomain(&alloc::NoMemoryHookLink));
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  });
}

absl::Status Runtime::RemoveNoMemory() {
  return Transition(RuntimeOp::kUnwrapAllocator, [&]() -> absl::Status {
    mu_.AssumeHeld();
    if (!NoMemoryInstalled()) return absl::OkStatus();  // idempotent
    return UnwrapAllLocked(PerDomain(&alloc::NoMemoryHook), "remove nomemory");
  });
}

alloc::Allocator Runtime::GetAllocator(alloc::Domain domain) const {
  return AllocatorTable::Global().Get(domain);
}

absl::Status Runtime::Initialize() {
  return Transition(RuntimeOp::kInitialize, [&]() -> absl::Status {
    mu_.AssumeHeld();
    alloc::SetNewArenaObserver(&alloc::PrintStatsIfRequested);
    alloc::BeginRuntimeCycle();  // main's heap records the new cycle
    main_ = new Interpreter(0, InterpreterConfig{}, nullptr);
    interpreters_.push_back(main_);
    return absl::OkStatus();
  });
}

absl::StatusOr<Interpreter*> Runtime::CreateInterpreter(
    const InterpreterConfig& config) {
  Interpreter* interp = nullptr;
  absl::Status status =
      Transition(RuntimeOp::kCreateInterpreter, [&]() -> absl::Status {
        mu_.AssumeHeld();
        if (absl::Status s = ValidateInterpreterConfig(config); !s.ok()) {
          return s;
        }
        interp = new Interpreter(next_interpreter_id_++, config, main_);
        interpreters_.push_back(interp);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return interp;
}

template <typename Match>
absl::Status Runtime::DestroyMatching(Match match) {
  Interpreter* interp = nullptr;
  absl::Status status =
      Transition(RuntimeOp::kDestroyInterpreter, [&]() -> absl::Status {
        mu_.AssumeHeld();
        auto it =
            std::find_if(interpreters_.begin(), interpreters_.end(), match);
        if (it == interpreters_.end()) {
          return absl::NotFoundError(
              "destroy interpreter refused: not a live interpreter of this "
              "runtime (a stale handle: it was destroyed)");
        }
        interp = *it;
        if (interp->is_main()) {
          return absl::FailedPreconditionError(
              "destroy interpreter refused: the main interpreter is "
              "destroyed by Finalize");
        }
        if (interp->host_locked() && !interp->lock().IsHeldByCurrentThread()) {
          return absl::FailedPreconditionError(absl::StrFormat(
              "destroy interpreter refused: interpreter %d is host-locked and "
              "the calling thread does not hold the host's lock",
              interp->id()));
        }
        if (const int attached = interp->attached_threads(); attached > 0) {
          return absl::FailedPreconditionError(absl::StrFormat(
              "destroy interpreter refused: %d thread(s) are attached to "
              "interpreter %d; detach them first",
              attached, interp->id()));
        }
        interpreters_.erase(it);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  // Outside the runtime lock: lock order is interpreter lock, then runtime
  // lock (an attached thread may call the runtime).
  RetireHeapAndFreeInterpreter(interp);
  return absl::OkStatus();
}

absl::Status Runtime::DestroyInterpreter(Interpreter* interp) {
  return DestroyMatching([interp](Interpreter* i) { return i == interp; });
}

absl::Status Runtime::DestroyInterpreter(InterpreterHandle handle) {
  return DestroyMatching([handle](Interpreter* i) {
    return handle.value != 0 && i->handle().value == handle.value;
  });
}

Interpreter* Runtime::FindLocked(InterpreterHandle handle) const {
  if (handle.value == 0) return nullptr;
  for (Interpreter* interp : interpreters_) {
    if (interp->handle().value == handle.value) return interp;
  }
  return nullptr;
}

absl::Status Runtime::Attach(InterpreterHandle handle) {
  Interpreter* interp = nullptr;
  {
    sync::MutexLock lock(&mu_);
    interp = FindLocked(handle);
    if (interp == nullptr) {
      return absl::NotFoundError(
          "attach refused: not a live interpreter of this runtime (a stale "
          "handle: it was destroyed)");
    }
    // The reservation: destroy is refused from here on.
    interp->attached_threads_.fetch_add(1, std::memory_order_relaxed);
  }
  // Outside the runtime lock: an interpreter lock comes first in the order.
  return ThreadState::AttachReserved(interp);
}

absl::StatusOr<std::int64_t> Runtime::InterpreterId(
    InterpreterHandle handle) const {
  sync::MutexLock lock(&mu_);
  const Interpreter* interp = FindLocked(handle);
  if (interp == nullptr) {
    return absl::NotFoundError("not a live interpreter of this runtime");
  }
  return interp->id();
}

absl::Status Runtime::Finalize() {
  std::vector<FinalizeCallback> callbacks;
  {
    sync::MutexLock lock(&mu_);
    absl::StatusOr<RuntimeState> next = CheckLocked(RuntimeOp::kFinalize);
    if (!next.ok()) return next.status();
    if (interpreters_.size() > 1) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "finalize refused: %d interpreter(s) besides main still exist; "
          "destroy them first",
          interpreters_.size() - 1));
    }
    const bool caller_on_main = ThreadState::Current() == main_;
    if (main_->attached_threads() > (caller_on_main ? 1 : 0)) {
      return absl::FailedPreconditionError(
          "finalize refused: another thread is attached to the main "
          "interpreter; detach it first");
    }
    CommitLocked(RuntimeState::kFinalizing);
    callbacks.swap(finalize_callbacks_);
  }
  // Callbacks run without the runtime lock: they may call Runtime.
  for (const FinalizeCallback& callback : callbacks) callback.fn(callback.arg);

  Interpreter* main = nullptr;
  {
    sync::MutexLock lock(&mu_);
    if (ThreadState::Current() == main_) {
      absl::Status detached = ThreadState::Detach();
      (void)detached;  // cannot fail: the thread is attached
    }
    interpreters_.clear();
    main = main_;
    main_ = nullptr;
    CommitLocked(RuntimeState::kFinalized);
  }
  // As CPython's exit table (_PyMem_PymallocEnabled): when obj is pymalloc,
  // under the debug hooks too.
  const std::optional<alloc::NamedConfig> config =
      alloc::CurrentNamedConfig(AllocatorTable::Global());
  if (alloc::MallocStatsRequested() &&
      (config == alloc::NamedConfig::kPymalloc ||
       config == alloc::NamedConfig::kPymallocDebug)) {
    sync::MutexLock hold(&main->lock());
    main->heap().guard().AssumeHeld();
    alloc::WriteHeapStatsText(main->heap(), "exit", 2);
  }
  RetireHeapAndFreeInterpreter(main);
  return absl::OkStatus();
}

absl::Status Runtime::Reset() {
  return Transition(RuntimeOp::kReset, [&]() -> absl::Status {
    mu_.AssumeHeld();
    // The `malloc` configuration: mem and obj on the C library, which
    // routes a leftover pool block to its heap.
    absl::StatusOr<std::array<alloc::Allocator, alloc::kDomainCount>> bases =
        alloc::BaseAllocators(alloc::NamedConfig::kMalloc);
    if (!bases.ok()) return bases.status();
    if (absl::Status s = AllocatorTable::Global().ResetTo(*bases); !s.ok()) {
      return s;
    }
    EndTracingWithDroppedHooks();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::int64_t> Runtime::CurrentAllocatedBlocks() {
  Interpreter* interp = ThreadState::Current();
  if (absl::Status s = CurrentOwnHeapCheck(interp); !s.ok()) return s;
  alloc::Heap& heap = interp->heap();
  heap.guard().AssertHeld();
  return heap.AllocatedBlocks();
}

absl::StatusOr<alloc::HeapStats> Runtime::CurrentHeapStats() {
  Interpreter* interp = ThreadState::Current();
  if (absl::Status s = CurrentOwnHeapCheck(interp); !s.ok()) return s;
  alloc::Heap& heap = interp->heap();
  heap.guard().AssertHeld();
  heap.DrainRemoteFrees();  // exact numbers; Stats() itself only reads
  return heap.Stats();
}

std::int64_t Runtime::GlobalAllocatedBlocks() {
  return alloc::GlobalAllocatedBlocks();
}

absl::StatusOr<std::int64_t> Runtime::InterpreterAllocatedBlocks(
    InterpreterHandle handle) const {
  sync::MutexLock lock(&mu_);
  // Found under the runtime lock, the interpreter and its heap stay alive
  // (destroy unlists it under this lock before freeing it).
  const Interpreter* interp = FindLocked(handle);
  if (interp == nullptr) return NotLive("allocated blocks");
  return interp->heap().AllocatedBlocksRelaxed();
}

absl::StatusOr<std::int64_t> Runtime::InterpreterRemoteFrees(
    InterpreterHandle handle) const {
  sync::MutexLock lock(&mu_);
  const Interpreter* interp = FindLocked(handle);
  if (interp == nullptr) return NotLive("remote frees");
  return interp->heap().remote_frees();
}

absl::Status Runtime::WithHeapOf(
    InterpreterHandle handle, std::string_view what,
    absl::FunctionRef<absl::Status(alloc::Heap&)> fn) {
  Interpreter* const current = ThreadState::Current();
  Interpreter* interp = nullptr;
  {
    sync::MutexLock lock(&mu_);
    interp = FindLocked(handle);
    if (interp == nullptr) return NotLive(what);
    // The reservation: destroy is refused (the heap stays) until it is
    // dropped below.
    interp->attached_threads_.fetch_add(1, std::memory_order_relaxed);
  }
  if (current == nullptr) {
    // Outside the runtime lock: an interpreter lock comes first in the
    // order. Attaching takes over the reservation; Detach drops it.
    if (absl::Status s = ThreadState::AttachReserved(interp); !s.ok()) {
      return s;
    }
  }
  alloc::Heap& heap = interp->heap();
  absl::Status result;
  if (heap.guard().IsHeldByCurrentThread()) {
    heap.guard().AssertHeld();
    result = fn(heap);
  } else if (current == nullptr || &current->heap() == &heap) {
    result = absl::FailedPreconditionError(absl::StrFormat(
        "%s refused: interpreter %d is host-locked and the calling thread "
        "does not hold the host's lock",
        what, interp->id()));
  } else {
    result = absl::FailedPreconditionError(absl::StrFormat(
        "%s refused: the calling thread is attached to interpreter %d and "
        "does not hold the lock of interpreter %d's heap; detach first (a "
        "thread holds one interpreter lock at a time)",
        what, current->id(), interp->id()));
  }
  if (current == nullptr) {
    absl::Status detached = ThreadState::Detach();
    (void)detached;  // cannot fail: attached above
  } else {
    // Release: destroy reads the count (acquire) before freeing the heap.
    interp->attached_threads_.fetch_sub(1, std::memory_order_release);
  }
  return result;
}

absl::Status Runtime::WithEveryHeap(
    std::string_view what, absl::FunctionRef<absl::Status(alloc::Heap&)> fn) {
  if (const Interpreter* current = ThreadState::Current(); current != nullptr) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s refused: the calling thread is attached to interpreter %d; "
        "detach first (every heap is read under its interpreter's lock, "
        "taken in turn)",
        what, current->id()));
  }
  std::vector<InterpreterHandle> owners;
  {
    sync::MutexLock lock(&mu_);
    for (const Interpreter* interp : interpreters_) {
      if (&interp->heap_owner() == interp) owners.push_back(interp->handle());
    }
  }
  // Serials of the heaps read: an interpreter destroyed after its heap was
  // read may leave that heap as an orphan, not to be read twice.
  std::vector<std::uint64_t> seen;
  for (const InterpreterHandle owner : owners) {
    bool ran = false;
    absl::Status s = WithHeapOf(owner, what, [&](alloc::Heap& heap) {
      ran = true;
      seen.push_back(heap.serial());
      return fn(heap);
    });
    if (!ran && absl::IsNotFound(s)) continue;  // destroyed meanwhile
    if (!s.ok()) return s;
  }
  absl::Status result;
  alloc::ForEachOrphan([&](alloc::Heap& heap) {
    if (!result.ok() ||
        std::find(seen.begin(), seen.end(), heap.serial()) != seen.end()) {
      return;
    }
    result = fn(heap);
  });
  return result;
}

absl::StatusOr<Runtime::HeapReport> Runtime::InterpreterHeapReport(
    InterpreterHandle handle) {
  HeapReport report;
  absl::Status s =
      WithHeapOf(handle, "interpreter stats", [&](alloc::Heap& heap) {
        heap.guard().AssertHeld();
        heap.DrainRemoteFrees();  // exact numbers; Stats() itself only reads
        report.stats = heap.Stats();
        report.allocated_blocks = heap.AllocatedBlocks();
        report.heaps = 1;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return report;
}

absl::StatusOr<Runtime::HeapReport> Runtime::ProcessHeapReport() {
  HeapReport report;
  absl::Status s = WithEveryHeap("process stats", [&](alloc::Heap& heap) {
    heap.guard().AssertHeld();
    // An orphan's pushers drain it themselves.
    if (!heap.orphaned()) heap.DrainRemoteFrees();
    alloc::AddHeapStats(heap.Stats(), &report.stats);
    ++report.heaps;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  report.allocated_blocks = alloc::GlobalAllocatedBlocks();
  return report;
}

absl::Status Runtime::ValidateHeap(InterpreterHandle handle) {
  return WithHeapOf(handle, "validate heap", &CheckHeap);
}

absl::Status Runtime::ValidateHeaps() {
  return WithEveryHeap("validate heaps", &CheckHeap);
}

void Runtime::AddFinalizeCallback(void (*fn)(void*), void* arg) {
  sync::MutexLock lock(&mu_);
  finalize_callbacks_.push_back({fn, arg});
}

Interpreter* Runtime::main_interpreter() const {
  sync::MutexLock lock(&mu_);
  return main_;
}

int Runtime::interpreter_count() const {
  sync::MutexLock lock(&mu_);
  return static_cast<int>(interpreters_.size());
}

}  // namespace interpheap::interp
