#include "interp/runtime.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_format.h"
#include "alloc/config.h"
#include "alloc/stats.h"
#include "interp/thread_state.h"
#include "sync/mutex_lock.h"

namespace interpheap::interp {
namespace {

using alloc::AllocatorTable;

// Waits until no thread is inside `interp`'s lock, so that freeing the
// interpreter cannot race with the last Detach still returning from
// Unlock().
void QuiesceLock(Interpreter* interp) {
  sync::Mutex& lock = interp->lock();
  if (lock.IsHeldByCurrentThread()) return;
  sync::MutexLock hold(&lock);
}

// Releases the interpreter's own heap under its lock, then frees the
// interpreter. A heap still holding live blocks is kept alive on purpose:
// its arenas stay mapped so that leaked pointers remain valid, and frees of
// them from other interpreters reach its remote-free list.
void ReleaseAndDelete(Interpreter* interp) {
  if (&interp->heap_owner() == interp) {
    alloc::Heap* heap = &interp->heap();
    auto release = [heap] {
      heap->guard().AssumeHeld();
      if (heap->Release() == 0) delete heap;
    };
    if (interp->lock().IsHeldByCurrentThread()) {
      release();
    } else {
      sync::MutexLock hold(&interp->lock());
      release();
    }
  }
  QuiesceLock(interp);
  delete interp;
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

}  // namespace

Runtime& Runtime::Get() {
  static Runtime* const runtime = new Runtime();
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

absl::Status Runtime::ApplyConfigurationLocked(const std::string& name) {
  absl::StatusOr<alloc::NamedConfig> config = alloc::ParseNamedConfig(name);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::array<alloc::Allocator, alloc::kDomainCount>> bases =
      alloc::BaseAllocators(*config);
  if (!bases.ok()) return bases.status();
  return AllocatorTable::Global().ResetTo(*bases);
}

absl::Status Runtime::PreInitialize(const RuntimeConfig& config) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next = CheckLocked(RuntimeOp::kPreInitialize);
  if (!next.ok()) return next.status();
  std::string name = config.allocator;
  if (name.empty() && config.use_environment) {
    if (const char* env = std::getenv(alloc::kConfigEnvVar)) name = env;
  }
  if (absl::Status s = ApplyConfigurationLocked(name); !s.ok()) {
    if (name == config.allocator) return s;
    return absl::Status(s.code(), absl::StrFormat("%s: %s",
                                                  alloc::kConfigEnvVar,
                                                  s.message()));
  }
  CommitLocked(*next);
  return absl::OkStatus();
}

absl::Status Runtime::ApplyConfiguration(std::string_view name) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next =
      CheckLocked(RuntimeOp::kApplyConfiguration);
  if (!next.ok()) return next.status();
  for (alloc::Domain domain : alloc::kAllDomains) {
    if (const int hooks = AllocatorTable::Global().HookCount(domain);
        hooks > 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "apply configuration refused: %d hook(s) are wrapped over the %s "
          "allocator; unwrap them first",
          hooks, alloc::DomainName(domain)));
    }
  }
  if (absl::Status s = ApplyConfigurationLocked(std::string(name)); !s.ok()) {
    return s;
  }
  CommitLocked(*next);
  return absl::OkStatus();
}

absl::Status Runtime::ReplaceAllocator(alloc::Domain domain,
                                       const alloc::Allocator& allocator) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next =
      CheckLocked(RuntimeOp::kReplaceAllocator);
  if (!next.ok()) return next.status();
  if (absl::Status s = AllocatorTable::Global().Replace(domain, allocator);
      !s.ok()) {
    return s;
  }
  CommitLocked(*next);
  return absl::OkStatus();
}

absl::Status Runtime::SetArenaAllocator(
    const alloc::ArenaAllocator& allocator) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next =
      CheckLocked(RuntimeOp::kSetArenaAllocator);
  if (!next.ok()) return next.status();
  if (absl::Status s = alloc::SetArenaAllocator(allocator); !s.ok()) return s;
  CommitLocked(*next);
  return absl::OkStatus();
}

absl::Status Runtime::WrapAllocator(alloc::Domain domain,
                                    const alloc::Allocator& hook,
                                    alloc::Allocator* previous) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next = CheckLocked(RuntimeOp::kWrapAllocator);
  if (!next.ok()) return next.status();
  if (absl::Status s = AllocatorTable::Global().Wrap(domain, hook, previous);
      !s.ok()) {
    return s;
  }
  CommitLocked(*next);
  return absl::OkStatus();
}

absl::Status Runtime::UnwrapAllocator(alloc::Domain domain,
                                      const alloc::Allocator& hook) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next =
      CheckLocked(RuntimeOp::kUnwrapAllocator);
  if (!next.ok()) return next.status();
  if (absl::Status s = AllocatorTable::Global().Unwrap(domain, hook);
      !s.ok()) {
    return s;
  }
  CommitLocked(*next);
  return absl::OkStatus();
}

alloc::Allocator Runtime::GetAllocator(alloc::Domain domain) const {
  return AllocatorTable::Global().Get(domain);
}

absl::Status Runtime::Initialize() {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next = CheckLocked(RuntimeOp::kInitialize);
  if (!next.ok()) return next.status();
  main_ = new Interpreter(0, InterpreterConfig{}, nullptr);
  interpreters_.push_back(main_);
  CommitLocked(*next);
  return absl::OkStatus();
}

absl::StatusOr<Interpreter*> Runtime::CreateInterpreter(
    const InterpreterConfig& config) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next =
      CheckLocked(RuntimeOp::kCreateInterpreter);
  if (!next.ok()) return next.status();
  if (config.own_lock && !config.own_heap) {
    return absl::InvalidArgumentError(
        "create interpreter refused: an interpreter with its own lock cannot "
        "use the main heap (the heap would be touched under two different "
        "locks); give it its own heap or the main lock");
  }
  Interpreter* interp =
      new Interpreter(next_interpreter_id_++, config, main_);
  interpreters_.push_back(interp);
  CommitLocked(*next);
  return interp;
}

absl::Status Runtime::DestroyInterpreter(Interpreter* interp) {
  absl::Status status = UnregisterInterpreter(interp);
  if (!status.ok()) return status;
  // Outside the runtime lock: lock order is interpreter lock, then runtime
  // lock (an attached thread may call the runtime).
  ReleaseAndDelete(interp);
  return absl::OkStatus();
}

absl::Status Runtime::UnregisterInterpreter(Interpreter* interp) {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next =
      CheckLocked(RuntimeOp::kDestroyInterpreter);
  if (!next.ok()) return next.status();
  auto it = std::find(interpreters_.begin(), interpreters_.end(), interp);
  if (interp == nullptr || it == interpreters_.end()) {
    return absl::NotFoundError(
        "destroy interpreter refused: not a live interpreter of this runtime");
  }
  if (interp->is_main()) {
    return absl::FailedPreconditionError(
        "destroy interpreter refused: the main interpreter is destroyed by "
        "Finalize");
  }
  if (const int attached = interp->attached_threads(); attached > 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "destroy interpreter refused: %d thread(s) are attached to "
        "interpreter %d; detach them first",
        attached, interp->id()));
  }
  interpreters_.erase(it);
  CommitLocked(*next);
  return absl::OkStatus();
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
  if (alloc::MallocStatsRequested() &&
      alloc::CurrentNamedConfig(AllocatorTable::Global()) ==
          alloc::NamedConfig::kPymalloc) {
    sync::MutexLock hold(&main->lock());
    main->heap().guard().AssumeHeld();
    alloc::WriteStatsText(main->heap().Stats(), 2);
  }
  ReleaseAndDelete(main);
  return absl::OkStatus();
}

absl::Status Runtime::Reset() {
  sync::MutexLock lock(&mu_);
  absl::StatusOr<RuntimeState> next = CheckLocked(RuntimeOp::kReset);
  if (!next.ok()) return next.status();
  if (absl::Status s = AllocatorTable::Global().ResetTo(
          {alloc::kLibcAllocator, alloc::kLibcAllocator,
           alloc::kLibcAllocator});
      !s.ok()) {
    return s;
  }
  CommitLocked(*next);
  return absl::OkStatus();
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
  return heap.Stats();
}

std::int64_t Runtime::GlobalAllocatedBlocks() {
  return alloc::GlobalAllocatedBlocks();
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
