#include "pyhost/host_allocator.h"

#include <Python.h>
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/base/optimization.h"
#include "alloc/domain.h"
#include "alloc/fatal.h"
#include "alloc/hooks/debug_hooks.h"
#include "alloc/pymalloc/pymalloc.h"
#include "alloc/pymalloc/pymalloc_allocator.h"
#include "interp/runtime.h"
#include "pyhost/cpython_compat.h"
#include "pyhost/interpreter_map.h"
#include "pyhost/thread_state_slot.h"
#include "sync/mutex_lock.h"

namespace interpheap::pyhost {
namespace {

// Release-stored once by InstallCPythonAllocators, before CPython can call
// any allocator from another thread; acquire-loaded per mem/obj call (a
// plain load on x86-64).
std::atomic<interp::Interpreter*> host_interpreter{nullptr};
std::atomic<alloc::Heap*> host_heap{nullptr};

// CPython 3.12+: the interpheap interpreter of each CPython interpreter.
ABSL_CONST_INIT InterpreterMap interpreter_map;

// What a host-locked interpreter's lock predicate receives: the CPython
// interpreter it serves. Kept for the life of the process and reused after
// retirement (a free list under the map's create/retire calls, which the
// map serializes with its lock for create; retire runs after it).
struct HostLock {
  const void* key = nullptr;          // the PyInterpreterState
  std::atomic<bool> retiring{false};  // set while Retire destroys it
  HostLock* next_free = nullptr;
};
ABSL_CONST_INIT sync::Mutex host_locks_mu(absl::kConstInit);
HostLock* free_host_locks ABSL_GUARDED_BY(host_locks_mu) = nullptr;

// The main host interpreter's predicate. 3.11 (one GIL): CPython's own
// check. 3.12+: the calling thread's attached state belongs to an
// interpreter served by main (main itself, or one sharing its obmalloc
// state and so its GIL). A thread with no attached state holds no GIL once
// CPython is initialized (PyGILState_Check() would answer 1 for it as soon
// as a subinterpreter exists); before that, CPython's own check.
int MainGilHeld(void*) {
  if constexpr (compat::kPerInterpreterGil) {
    PyThreadState* tstate = compat::CurrentThreadState();
    if (tstate != nullptr) {
      return interpreter_map.Lookup(tstate->interp) ==
             host_interpreter.load(std::memory_order_acquire);
    }
    if (Py_IsInitialized()) return 0;
  }
  return PyGILState_Check() != 0;
}

// A subinterpreter's predicate: the calling thread's attached state is one
// of that interpreter's (PyGILState_Check() cannot tell: it answers 1 for
// every thread once subinterpreters exist).
int SubinterpreterGilHeld(void* ctx) {
  const HostLock* lock = static_cast<const HostLock*>(ctx);
  if (lock->retiring.load(std::memory_order_acquire)) return true;
  PyThreadState* tstate = compat::CurrentThreadState();
  return tstate != nullptr && tstate->interp == lock->key;
}

// Map callbacks (3.12+). Create runs under the map's lock, inside a mem/obj
// call of the new interpreter's first thread.
[[maybe_unused]] interp::Interpreter* CreateForKey(const void* key,
                                                   bool* permanent) {
  interp::Interpreter* main = host_interpreter.load(std::memory_order_acquire);
  auto* state = static_cast<PyInterpreterState*>(const_cast<void*>(key));
  if (state == PyInterpreterState_Main()) {
    *permanent = true;
    return main;
  }
  if (compat::UsesMainObmalloc(state)) return main;
  HostLock* lock;
  {
    sync::MutexLock hold(&host_locks_mu);
    lock = free_host_locks;
    if (lock != nullptr) {
      free_host_locks = lock->next_free;
    } else {
      lock = new HostLock;
    }
  }
  lock->key = key;
  lock->retiring.store(false, std::memory_order_release);
  interp::InterpreterConfig config;
  config.lock = interp::LockKind::kHost;
  config.own_heap = true;
  config.host_lock_held = &SubinterpreterGilHeld;
  config.host_lock_ctx = lock;
  absl::StatusOr<interp::Interpreter*> made =
      interp::Runtime::Get().CreateInterpreter(config);
  if (!made.ok()) {
    static char message[512];
    const std::string text(made.status().message());
    std::snprintf(message, sizeof(message),
                  "cannot make the interpheap interpreter of a new CPython "
                  "interpreter: %s",
                  text.c_str());
    alloc::FatalError("pyhost", message);
  }
  return *made;
}

[[maybe_unused]] void RetireKey(const void*, interp::Interpreter* interp) {
  auto* lock = static_cast<HostLock*>(interp->config().host_lock_ctx);
  lock->retiring.store(true, std::memory_order_release);
  alloc::Heap* heap = &interp->heap();
  absl::Status destroyed =
      interp::Runtime::Get().DestroyInterpreter(interp->handle());
  if (!destroyed.ok()) {
    static char message[512];
    const std::string text(destroyed.message());
    std::snprintf(message, sizeof(message),
                  "cannot retire the interpheap interpreter of an ended "
                  "CPython interpreter: %s",
                  text.c_str());
    alloc::FatalError("pyhost", message);
  }
  // This thread last ran the ended interpreter; its next mem/obj call
  // binds again.
  if (alloc::CurrentHeap() == heap) alloc::SetCurrentHeap(nullptr);
  sync::MutexLock hold(&host_locks_mu);
  lock->key = nullptr;
  lock->next_free = free_host_locks;
  free_host_locks = lock;
}

// The calling thread's CPython thread state variable, read directly
// (pyhost/thread_state_slot.h); nullptr until this thread's first mem/obj
// call with a thread state located and checked it, and for good where the
// direct read is off.
__thread PyThreadState* const* tstate_slot = nullptr;

// The getter, and this thread's slot for its next calls.
[[maybe_unused]] ABSL_ATTRIBUTE_NOINLINE PyThreadState*
CurrentThreadStateSlow() {
  PyThreadState* tstate = compat::CurrentThreadState();
  if (tstate != nullptr) tstate_slot = ThreadStateSlotOfThisThread(tstate);
  return tstate;
}

// Makes the right heap the calling thread's current heap. 3.11: the one
// host heap, once per thread (one thread-local load and a compare per
// call). 3.12+: the heap of the interpreter whose thread state is attached
// (two loads for the thread state, then the thread-local cache of
// InterpreterMap, three compares); no thread state (CPython's start-up)
// means main.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline alloc::Heap* BindThread() {
  alloc::Heap* heap;
  if constexpr (compat::kPerInterpreterGil) {
    PyThreadState* const* slot = tstate_slot;
    PyThreadState* tstate =
        ABSL_PREDICT_TRUE(slot != nullptr) ? *slot : CurrentThreadStateSlow();
    heap = ABSL_PREDICT_TRUE(tstate != nullptr)
               ? interpreter_map.LookupHeap(tstate->interp)
               : host_heap.load(std::memory_order_acquire);
  } else {
    heap = host_heap.load(std::memory_order_acquire);
  }
  if (ABSL_PREDICT_FALSE(alloc::CurrentHeap() != heap)) {
    alloc::SetCurrentHeap(heap);
  }
  return heap;
}

// What the domain's outermost layer is, known by its top word
// (AllocatorTable::TopWord(): slot and generation; equal words name the same
// layer contents, forever). Each domain remembers the last word it found to
// be pymalloc itself (no hook: the default configuration) and the last it
// found to be the debug hook over pymalloc (pymalloc_debug), so that a call
// compares one word instead of reading the layer:
//   pymalloc    the bound heap's inline fast path, which is exactly what
//               that layer would do with that heap current, minus one
//               indirect call and the layer's validated read;
//   debug hook  the hook itself, in its form that calls the heap's inline
//               paths without asking its link (DebugHookOverPymalloc());
//   anything    else (tracemalloc, fault injection, malloc, malloc_debug, a
//   word
//               not seen yet): the domain call, which reads the layer, and
//               the words are learned on the way.
// A stale remembered word only costs the slow path. ~0: no word yet (slot
// indexes are below AllocatorTable::kLayerCapacity).
constexpr std::uint64_t kNoWord = ~std::uint64_t{0};
std::atomic<std::uint64_t> pymalloc_word[alloc::kDomainCount] = {
    {kNoWord}, {kNoWord}, {kNoWord}};
std::atomic<std::uint64_t> debug_hook_word[alloc::kDomainCount] = {
    {kNoWord}, {kNoWord}, {kNoWord}};

enum class Top { kPymalloc, kDebugHook, kOther };

template <alloc::Domain kDomain>
ABSL_ATTRIBUTE_NOINLINE Top LearnTop(std::uint64_t word) {
  alloc::Allocator layer;
  if (!alloc::AllocatorTable::Global().ReadWord(word, &layer)) {
    return Top::kOther;  // rewritten since: the domain call reads the top
  }
  constexpr int k = static_cast<int>(kDomain);
  if (layer.free == alloc::kPymallocAllocator.free) {
    pymalloc_word[k].store(word, std::memory_order_relaxed);
    return Top::kPymalloc;
  }
  // The debug hook over pymalloc (pymalloc_debug). A hook layer is interned
  // with the layer it wraps, so while `word` is the top the hook's link
  // names that layer: read the link, then check the top is still `word`.
  if (alloc::SameAllocator(layer, alloc::DebugHook(kDomain)) &&
      alloc::DebugHookLink(kDomain)->BelowFreeIs(
          alloc::kPymallocAllocator.free) &&
      alloc::AllocatorTable::Global().TopWord(kDomain) == word) {
    debug_hook_word[k].store(word, std::memory_order_relaxed);
    return Top::kDebugHook;
  }
  return Top::kOther;
}

// True if the top word of kDomain is the remembered pymalloc word: the
// whole check on the default configuration's path (two loads, a compare).
template <alloc::Domain kDomain>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool TopIsPymalloc(std::uint64_t word) {
  return word == pymalloc_word[static_cast<int>(kDomain)].load(
                     std::memory_order_relaxed);
}

template <alloc::Domain kDomain>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool TopIsDebugHook(std::uint64_t word) {
  return word == debug_hook_word[static_cast<int>(kDomain)].load(
                     std::memory_order_relaxed);
}

// A word not remembered yet (or a layer of neither kind): out of line (a
// tail call), so that the two remembered paths need no stack frame.
template <alloc::Domain kDomain>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Top OtherTop(std::uint64_t word) {
  return LearnTop<kDomain>(word);
}

// The debug hook of each mem/obj domain, in its form for a caller that
// knows it wraps pymalloc (constants: DebugHookOverPymalloc()).
alloc::Allocator debug_hook[alloc::kDomainCount];

void* RawMalloc(void*, std::size_t n) {
  return alloc::Malloc(alloc::Domain::kRaw, n);
}
void* RawCalloc(void*, std::size_t nelem, std::size_t elsize) {
  return alloc::Calloc(alloc::Domain::kRaw, nelem, elsize);
}
void* RawRealloc(void*, void* p, std::size_t n) {
  return alloc::Realloc(alloc::Domain::kRaw, p, n);
}
void RawFree(void*, void* p) {
  // An ended interpreter's state is freed here, last of all its memory.
  if constexpr (compat::kPerInterpreterGil) interpreter_map.OnRawFree(p);
  alloc::Free(alloc::Domain::kRaw, p);
}

// The mem and obj functions: the domain call, with the right heap current.
// Called by CPython with the GIL held, the heap's lock.
template <alloc::Domain kDomain>
ABSL_ATTRIBUTE_NOINLINE void* HeapMallocOther(std::uint64_t word,
                                              std::size_t n) {
  const Top top = OtherTop<kDomain>(word);
  if (top == Top::kPymalloc) {
    alloc::Heap* const heap = alloc::CurrentHeap();  // bound by HeapMalloc
    heap->guard().AssumeHeld();
    return heap->Malloc(n);
  }
  if (top == Top::kDebugHook) {
    // The hook makes the kMaxRequest check (its size check is stricter).
    const alloc::Allocator& hook = debug_hook[static_cast<int>(kDomain)];
    return hook.malloc(hook.ctx, n);
  }
  return alloc::Malloc(kDomain, n);
}

template <alloc::Domain kDomain>
void* HeapMalloc(void*, std::size_t n) {
  alloc::Heap* const heap = BindThread();
  const std::uint64_t word = alloc::AllocatorTable::Global().TopWord(kDomain);
  if (ABSL_PREDICT_TRUE(TopIsPymalloc<kDomain>(word))) {
    // No kMaxRequest check here: n > 512 leaves the pools for the raw
    // domain, whose call makes it.
    heap->guard().AssumeHeld();  // the GIL (CPython's rule for mem/obj)
    return heap->Malloc(n);
  }
  if (TopIsDebugHook<kDomain>(word)) {
    // The hook makes the kMaxRequest check (its size check is stricter).
    const alloc::Allocator& hook = debug_hook[static_cast<int>(kDomain)];
    return hook.malloc(hook.ctx, n);  // a tail call: still no frame
  }
  return HeapMallocOther<kDomain>(word, n);
}
template <alloc::Domain kDomain>
void* HeapCalloc(void*, std::size_t nelem, std::size_t elsize) {
  BindThread();
  return alloc::Calloc(kDomain, nelem, elsize);
}
template <alloc::Domain kDomain>
void* HeapRealloc(void*, void* p, std::size_t n) {
  BindThread();
  return alloc::Realloc(kDomain, p, n);
}
template <alloc::Domain kDomain>
ABSL_ATTRIBUTE_NOINLINE void HeapFreeOther(std::uint64_t word, void* p) {
  const Top top = OtherTop<kDomain>(word);
  if (top == Top::kPymalloc) {
    alloc::Heap* const heap = alloc::CurrentHeap();  // bound by HeapFree
    heap->guard().AssumeHeld();
    heap->Free(p);
    return;
  }
  if (top == Top::kDebugHook) {
    const alloc::Allocator& hook = debug_hook[static_cast<int>(kDomain)];
    return hook.free(hook.ctx, p);
  }
  alloc::Free(kDomain, p);
}

template <alloc::Domain kDomain>
void HeapFree(void*, void* p) {
  // free(NULL) still goes through, so that the debug hooks' GIL check sees
  // it, as CPython's do.
  alloc::Heap* const heap = BindThread();
  const std::uint64_t word = alloc::AllocatorTable::Global().TopWord(kDomain);
  if (ABSL_PREDICT_TRUE(TopIsPymalloc<kDomain>(word))) {
    heap->guard().AssumeHeld();  // the GIL (CPython's rule for mem/obj)
    heap->Free(p);               // nullptr: no owner, so the slow path returns
    return;
  }
  if (TopIsDebugHook<kDomain>(word)) {
    const alloc::Allocator& hook = debug_hook[static_cast<int>(kDomain)];
    return hook.free(hook.ctx, p);
  }
  HeapFreeOther<kDomain>(word, p);
}

template <alloc::Domain kDomain>
PyMemAllocatorEx HeapAllocator() {
  return {nullptr, HeapMalloc<kDomain>, HeapCalloc<kDomain>,
          HeapRealloc<kDomain>, HeapFree<kDomain>};
}

}  // namespace

absl::StatusOr<interp::Interpreter*> CreateHostInterpreter() {
  interp::InterpreterConfig config;
  config.lock = interp::LockKind::kHost;
  config.own_heap = true;
  config.host_lock_held = &MainGilHeld;
  return interp::Runtime::Get().CreateInterpreter(config);
}

// 3.11's debug-hook lock check, what CPython's hooks ask
// (_PyMem_DebugMalloc calls PyGILState_Check()) and what the host heap's
// predicate (MainGilHeld) answers: every mem/obj call runs on the host heap.
// The common case first, without the thread-specific-key lookup of
// PyGILState_Check(): the thread state holding the GIL is one this thread
// runs (its thread_id is this thread's). Anything else (no thread state yet,
// start-up, a state made by another thread, or indeed no GIL) is CPython's
// own answer.
[[maybe_unused]] static bool GilHeld() {
  const PyThreadState* tstate = compat::CurrentThreadState();
  if (ABSL_PREDICT_TRUE(tstate != nullptr &&
                        // PyThread_get_thread_ident() on POSIX, inline
                        tstate->thread_id ==
                            static_cast<unsigned long>(pthread_self()))) {
    return true;
  }
  return PyGILState_Check() != 0;
}

void InstallCPythonAllocators(interp::Interpreter* host) {
  if constexpr (!compat::kPerInterpreterGil) {
    alloc::SetLockHeldPredicate(&GilHeld);
  }
  for (alloc::Domain domain : alloc::kAllDomains) {
    debug_hook[static_cast<int>(domain)] = alloc::DebugHookOverPymalloc(domain);
  }
  host_heap.store(&host->heap(), std::memory_order_release);
  host_interpreter.store(host, std::memory_order_release);
  if constexpr (compat::kPerInterpreterGil) {
    interpreter_map.Configure(host, {&CreateForKey, &RetireKey});
    LocateThreadStateSlot();
  }
  PyMemAllocatorEx raw = {nullptr, RawMalloc, RawCalloc, RawRealloc, RawFree};
  PyMemAllocatorEx mem = HeapAllocator<alloc::Domain::kMem>();
  PyMemAllocatorEx obj = HeapAllocator<alloc::Domain::kObj>();
  PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
  PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &mem);
  PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &obj);
}

interp::Interpreter* HostInterpreter() {
  return host_interpreter.load(std::memory_order_acquire);
}

interp::Interpreter* CurrentHostInterpreter() {
  interp::Interpreter* main = host_interpreter.load(std::memory_order_acquire);
  if constexpr (compat::kPerInterpreterGil) {
    PyThreadState* tstate = compat::CurrentThreadState();
    if (tstate != nullptr) return interpreter_map.Lookup(tstate->interp);
  }
  return main;
}

long long RemoteFreesOf(PyInterpreterState* interp) {
  interp::Interpreter* served =
      host_interpreter.load(std::memory_order_acquire);
  if constexpr (compat::kPerInterpreterGil) {
    served = interpreter_map.Lookup(interp);
  }
  return served->heap().remote_frees();
}

std::uint64_t RetiredInterpreters() { return interpreter_map.retired(); }
std::size_t LiveInterpreters() { return interpreter_map.live(); }

}  // namespace interpheap::pyhost
