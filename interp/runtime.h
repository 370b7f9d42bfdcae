// interp/runtime.h: the process-wide runtime: lifecycle, allocator
// installation and the interpreter registry.
//
// Every control-plane operation goes through Runtime, which consults the
// state-by-operation table (interp/runtime_state.h) under the runtime lock:
// validate first, commit last, so a refused operation changes nothing.
// Lock order (README "Lock order"): an interpreter lock, then the runtime
// lock, then the allocator table's lock; pymalloc's orphan lock, the arena
// map's lock and the heap registry's lock come last, in that order. A
// thread holds at most one interpreter lock: its own, while attached.
// Create, destroy and finalize take no interpreter lock (destroy frees an
// interpreter that no thread is attached to without locking it).

#ifndef INTERPHEAP_INTERP_RUNTIME_H_
#define INTERPHEAP_INTERP_RUNTIME_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "alloc/allocator_table.h"
#include "alloc/hooks/debug_hooks.h"
#include "alloc/pymalloc/arena_allocator.h"
#include "alloc/pymalloc/pymalloc.h"
#include "interp/interpreter.h"
#include "interp/runtime_state.h"
#include "sync/mutex.h"

namespace interpheap::interp {

struct RuntimeConfig {
  // A named configuration (alloc/config.h). Empty: the environment variable
  // INTERPHEAP_MALLOC when `use_environment`, else "default".
  std::string allocator;
  bool use_environment = true;
};

// Thread-safe.
class Runtime {
 public:
  // The process's runtime. Never destroyed, so it outlives static
  // destructors.
  static Runtime& Get();

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Lock-free read of the current state.
  RuntimeState state() const { return state_.load(std::memory_order_acquire); }

  // kUninitialized or kFinalized -> kPreInitialized: applies the named
  // configuration (see RuntimeConfig). InvalidArgument for an unknown name
  // (the message lists the valid ones), FailedPrecondition when mimalloc
  // cannot be loaded. Every domain starts without hooks other than a
  // *_debug configuration's debug hooks: hooks left from a previous cycle
  // are dropped, and tracemalloc stops if its hooks were among them.
  absl::Status PreInitialize(const RuntimeConfig& config = {})
      ABSL_LOCKS_EXCLUDED(mu_);

  // kPreInitialized only: applies another named configuration.
  // FailedPrecondition while hooks are wrapped (unwrap them first).
  absl::Status ApplyConfiguration(std::string_view name)
      ABSL_LOCKS_EXCLUDED(mu_);

  // kPreInitialized only: makes `allocator` the base of `domain`
  // (FailedPrecondition if hooks are wrapped over it).
  absl::Status ReplaceAllocator(alloc::Domain domain,
                                const alloc::Allocator& allocator)
      ABSL_LOCKS_EXCLUDED(mu_);

  // kPreInitialized only: installs the arena allocator every heap uses
  // (alloc/pymalloc/arena_allocator.h). InvalidArgument for a null function.
  absl::Status SetArenaAllocator(const alloc::ArenaAllocator& allocator)
      ABSL_LOCKS_EXCLUDED(mu_);

  // kPreInitialized or kInitialized: wraps `hook` over the outermost
  // allocator of `domain`, which is stored in `*previous` before the hook is
  // published. `*previous` must stay valid while the hook is installed.
  absl::Status WrapAllocator(alloc::Domain domain, const alloc::Allocator& hook,
                             alloc::Allocator* previous)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The same for a hook that reads what it wraps through `link` (safe to
  // re-wrap while threads are inside it: alloc/allocator_table.h).
  absl::Status WrapAllocator(alloc::Domain domain, const alloc::Allocator& hook,
                             alloc::HookLink* link) ABSL_LOCKS_EXCLUDED(mu_);

  // Any state from kPreInitialized on: removes `hook`, which must be the
  // outermost layer of `domain` (LIFO).
  absl::Status UnwrapAllocator(alloc::Domain domain,
                               const alloc::Allocator& hook)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Wraps the debug hooks (alloc/hooks/debug_hooks.h) over every domain that
  // has none yet: idempotent, also when another hook sits above them. Allowed
  // in kPreInitialized and kInitialized; blocks made before have no debug
  // header and the hooks pass them down (SetPassUnknownPointersDown). All or
  // nothing: a refused wrap changes nothing. Changing `options` while debug
  // hooks are installed is refused.
  absl::Status SetupDebugHooks(const alloc::DebugHookOptions& options = {})
      ABSL_LOCKS_EXCLUDED(mu_);

  // Starts tracemalloc (alloc/hooks/tracemalloc.h) with a frame limit of
  // `nframe` (1..65535, else InvalidArgument with CPython's text): wraps its
  // hooks over the three domains. Already tracing: nothing changes. Same
  // state rule as WrapAllocator.
  absl::Status StartTracemalloc(int nframe = 1) ABSL_LOCKS_EXCLUDED(mu_);

  // Stops tracing, clears the traces and unwraps the hooks, restoring
  // exactly the allocators saved at start. FailedPrecondition (changing
  // nothing) if another hook was wrapped above them since (unwrap it
  // first). Not tracing: nothing changes.
  absl::Status StopTracemalloc() ABSL_LOCKS_EXCLUDED(mu_);

  // Fault injection (alloc/hooks/fault_injection.h): from now on, allocation
  // calls in all domains whose count is in (start, stop] fail (stop == 0:
  // no end). Installs the hooks if needed, else only resets the window.
  absl::Status SetNoMemory(std::int64_t start, std::int64_t stop = 0)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the fault-injection hooks; idempotent. FailedPrecondition if
  // another hook sits above them.
  absl::Status RemoveNoMemory() ABSL_LOCKS_EXCLUDED(mu_);

  // The outermost allocator of `domain`, in any state.
  alloc::Allocator GetAllocator(alloc::Domain domain) const;

  // kPreInitialized -> kInitialized: creates the main interpreter (id 0,
  // own lock, own heap). The calling thread is not attached.
  absl::Status Initialize() ABSL_LOCKS_EXCLUDED(mu_);

  // kInitialized only. InvalidArgument for the own or host lock without
  // own_heap, and for a host lock-held predicate missing with the host lock
  // (or given with another lock).
  absl::StatusOr<Interpreter*> CreateInterpreter(
      const InterpreterConfig& config = {}) ABSL_LOCKS_EXCLUDED(mu_);

  // kInitialized only. NotFound if `interp` is not a live interpreter of
  // this runtime; FailedPrecondition for the main interpreter (Finalize
  // destroys it), while a thread is attached to `interp`, or, for a
  // host-locked interpreter, when the caller does not hold the host's lock. Its
  // own heap's live blocks are added to the global leak count; with none, every
  // arena goes back through the arena allocator, otherwise the arenas stay so
  // that leaked pointers remain valid (and may still be freed).
  absl::Status DestroyInterpreter(Interpreter* interp) ABSL_LOCKS_EXCLUDED(mu_);
  // The same by handle: NotFound for a stale handle (its interpreter was
  // destroyed), even when a new interpreter has the old one's address.
  absl::Status DestroyInterpreter(InterpreterHandle handle)
      ABSL_LOCKS_EXCLUDED(mu_);

  // ThreadState::Attach by handle: NotFound for a stale handle. The
  // interpreter cannot be destroyed between the check and the attach (the
  // thread counts as attached from the check on).
  absl::Status Attach(InterpreterHandle handle) ABSL_LOCKS_EXCLUDED(mu_);

  // The id of the live interpreter of `handle`, or NotFound.
  absl::StatusOr<std::int64_t> InterpreterId(InterpreterHandle handle) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // kInitialized -> kFinalizing -> kFinalized. FailedPrecondition while
  // interpreters other than main exist, or while a thread other than the
  // caller is attached to main. Runs the finalize callbacks in kFinalizing,
  // detaches the caller if it is attached to main, destroys main.
  absl::Status Finalize() ABSL_LOCKS_EXCLUDED(mu_);

  // kPreInitialized or kFinalized -> kUninitialized: every domain goes back
  // to the C library allocator, without hooks (the `malloc` configuration:
  // a pool block left from an earlier cycle and freed or reallocated
  // through mem or obj goes to its heap, alloc/pymalloc/pymalloc_allocator.h;
  // tracemalloc stops).
  absl::Status Reset() ABSL_LOCKS_EXCLUDED(mu_);

  // Registers `fn(arg)` to run once during the next Finalize, in
  // kFinalizing, in registration order. The callback may unwrap hooks.
  void AddFinalizeCallback(void (*fn)(void*), void* arg)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks allocated and not freed through the calling thread's current
  // interpreter's heap (pool blocks plus raw fallbacks). FailedPrecondition
  // if the thread is not attached or the interpreter shares main's heap.
  static absl::StatusOr<std::int64_t> CurrentAllocatedBlocks();

  // The pymalloc numbers of the current interpreter's heap
  // (alloc/pymalloc/stats.h formats them); same refusals as
  // CurrentAllocatedBlocks().
  static absl::StatusOr<alloc::HeapStats> CurrentHeapStats();

  // All live heaps' blocks plus every leaked block (never reset, survives
  // finalization). Lock-free reads: exact when interpreters are quiescent.
  static std::int64_t GlobalAllocatedBlocks();

  // Any interpreter, by handle. "The heap of" an interpreter is its own, or
  // main's for one that shares it (so such an interpreter reports main's
  // numbers). NotFound for a stale (or null) handle.

  // Blocks allocated and not freed through the interpreter's heap, as
  // CurrentAllocatedBlocks() counts them, read without its lock: exact when
  // the heap is quiescent or the caller holds its lock.
  absl::StatusOr<std::int64_t> InterpreterAllocatedBlocks(
      InterpreterHandle handle) const ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks of the interpreter's heap freed by threads attached to
  // interpreters with another heap (Heap::remote_frees()), read the same way.
  absl::StatusOr<std::int64_t> InterpreterRemoteFrees(
      InterpreterHandle handle) const ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `fn` on the interpreter's heap with the heap's lock held: at once
  // if the calling thread holds it (attached to an interpreter using that
  // heap, or to one under the same lock), else, when the caller is not
  // attached, attached to the interpreter for the call (waiting for its
  // lock). The interpreter cannot be destroyed meanwhile. FailedPrecondition,
  // naming `what`, when the caller is attached elsewhere (a thread holds one
  // interpreter lock at a time: detach first), or when the heap's lock is a
  // host's lock that the caller does not hold. `fn`'s error is returned as
  // is.
  absl::Status WithHeapOf(InterpreterHandle handle, std::string_view what,
                          absl::FunctionRef<absl::Status(alloc::Heap&)> fn)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `fn` on every heap of the process, each once, with its lock held:
  // every live interpreter's own heap in turn (as WithHeapOf; one destroyed
  // meanwhile is skipped), then every orphaned heap (Heap::Retire()) under
  // the orphan lock. The caller must not be attached (FailedPrecondition):
  // it takes each interpreter's lock in turn. Stops at `fn`'s first error.
  absl::Status WithEveryHeap(std::string_view what,
                             absl::FunctionRef<absl::Status(alloc::Heap&)> fn)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The pymalloc numbers of one heap, or of several added up
  // (alloc::AddHeapStats); alloc/pymalloc/stats.h formats `stats`.
  struct HeapReport {
    alloc::HeapStats stats;
    // Pool blocks plus raw fallback blocks (Heap::AllocatedBlocks()); for
    // the whole process, GlobalAllocatedBlocks() read after the heaps.
    std::int64_t allocated_blocks = 0;
    std::size_t heaps = 0;  // heaps read
  };
  // One interpreter's heap (WithHeapOf's rules), its remote frees drained
  // first for exact numbers.
  absl::StatusOr<HeapReport> InterpreterHeapReport(InterpreterHandle handle)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every heap (WithEveryHeap's rules): the table CPython's
  // _PyObject_DebugMallocStats prints, for the whole process.
  absl::StatusOr<HeapReport> ProcessHeapReport() ABSL_LOCKS_EXCLUDED(mu_);
  // Heap::Validate() of one interpreter's heap, or of every heap: the first
  // broken invariant (Internal), its message naming the heap's interpreter.
  absl::Status ValidateHeap(InterpreterHandle handle) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ValidateHeaps() ABSL_LOCKS_EXCLUDED(mu_);

  // The main interpreter, or nullptr when not initialized.
  Interpreter* main_interpreter() const ABSL_LOCKS_EXCLUDED(mu_);

  // Live interpreters, main included.
  int interpreter_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Runtime() = default;

  using HookSet = std::array<alloc::Allocator, alloc::kDomainCount>;
  using LinkSet = std::array<alloc::HookLink*, alloc::kDomainCount>;

  // The one transition point: under the runtime lock, checks that `op` is
  // allowed in the current state, runs `body` (which validates its
  // arguments before changing anything), and commits the next state only
  // when `body` succeeds. A refusal changes nothing.
  template <typename Body>
  absl::Status Transition(RuntimeOp op, Body body) ABSL_LOCKS_EXCLUDED(mu_);

  // The next state if `op` is allowed now, else FailedPrecondition naming
  // the state and the rule.
  absl::StatusOr<RuntimeState> CheckLocked(RuntimeOp op) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CommitLocked(RuntimeState next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ApplyConfigurationLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wraps one hook per domain, all or nothing.
  absl::Status WrapAllLocked(const HookSet& hooks, const LinkSet& links)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unwraps one hook per domain, all or nothing (each must be outermost).
  absl::Status UnwrapAllLocked(const HookSet& hooks, const char* what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Destroys the first live interpreter for which `match` is true.
  template <typename Match>
  absl::Status DestroyMatching(Match match) ABSL_LOCKS_EXCLUDED(mu_);
  Interpreter* FindLocked(InterpreterHandle handle) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct FinalizeCallback {
    void (*fn)(void*);
    void* arg;
  };

  mutable sync::Mutex mu_;
  // Written only by CommitLocked (release), read anywhere (acquire).
  std::atomic<RuntimeState> state_{RuntimeState::kUninitialized};
  Interpreter* main_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<Interpreter*> interpreters_ ABSL_GUARDED_BY(mu_);
  std::int64_t next_interpreter_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<FinalizeCallback> finalize_callbacks_ ABSL_GUARDED_BY(mu_);
  // Options for the debug hooks of *_debug configurations: those of the
  // last SetupDebugHooks (serial numbers off by default).
  alloc::DebugHookOptions debug_options_for_config_ ABSL_GUARDED_BY(mu_);
};

}  // namespace interpheap::interp

#endif  // INTERPHEAP_INTERP_RUNTIME_H_
