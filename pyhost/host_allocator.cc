#include "pyhost/host_allocator.h"

#include <Python.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/base/optimization.h"
#include "alloc/domain.h"
#include "alloc/pymalloc/pymalloc.h"
#include "alloc/pymalloc/pymalloc_allocator.h"
#include "interp/runtime.h"

namespace interpheap::pyhost {
namespace {

// Release-stored once by InstallCPythonAllocators, before CPython can call
// any allocator from another thread; acquire-loaded per mem/obj call (a
// plain load on x86-64).
std::atomic<interp::Interpreter*> host_interpreter{nullptr};
std::atomic<alloc::Heap*> host_heap{nullptr};

// The host lock's predicate: the calling thread holds the GIL.
int GilHeld(void*) { return PyGILState_Check(); }

// Makes the host heap the calling thread's current heap, once per thread:
// after that, one thread-local load and a compare per call. A thread's
// current heap is the host heap from its first mem/obj call on (and again
// after an _interpheap function detached it). Returns the host heap.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline alloc::Heap* BindThread() {
  alloc::Heap* const heap = host_heap.load(std::memory_order_acquire);
  if (ABSL_PREDICT_FALSE(alloc::CurrentHeap() != heap)) {
    alloc::SetCurrentHeap(heap);
  }
  return heap;
}

// The domain's outermost layer, when it is pymalloc itself (no hook, the
// default configuration): the call then goes straight to the host heap's
// inline fast path, which is exactly what that layer would do with the host
// heap current, minus one indirect call. Anything else (debug hooks,
// tracemalloc, malloc, mimalloc) goes through the layer.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool TopIsPymalloc(
    const alloc::AllocatorLayer* layer) {
  return layer->allocator.free == alloc::kPymallocAllocator.free;
}

void* RawMalloc(void*, std::size_t n) {
  return alloc::Malloc(alloc::Domain::kRaw, n);
}
void* RawCalloc(void*, std::size_t nelem, std::size_t elsize) {
  return alloc::Calloc(alloc::Domain::kRaw, nelem, elsize);
}
void* RawRealloc(void*, void* p, std::size_t n) {
  return alloc::Realloc(alloc::Domain::kRaw, p, n);
}
void RawFree(void*, void* p) { alloc::Free(alloc::Domain::kRaw, p); }

// The mem and obj functions: the domain call, with the host heap current.
// Called by CPython with the GIL held, the host heap's lock.
template <alloc::Domain kDomain>
void* HeapMalloc(void*, std::size_t n) {
  alloc::Heap* const heap = BindThread();
  const alloc::AllocatorLayer* layer =
      alloc::AllocatorTable::Global().top(kDomain);
  if (ABSL_PREDICT_TRUE(TopIsPymalloc(layer))) {
    // No kMaxRequest check here: n > 512 leaves the pools for the raw
    // domain, whose call makes it.
    heap->guard().AssumeHeld();  // the GIL (CPython's rule for mem/obj)
    return heap->Malloc(n);
  }
  return alloc::Malloc(kDomain, n);
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
void HeapFree(void*, void* p) {
  // free(NULL) still goes through, so that the debug hooks' GIL check sees
  // it, as CPython's do.
  alloc::Heap* const heap = BindThread();
  const alloc::AllocatorLayer* layer =
      alloc::AllocatorTable::Global().top(kDomain);
  if (ABSL_PREDICT_TRUE(TopIsPymalloc(layer))) {
    heap->guard().AssumeHeld();  // the GIL (CPython's rule for mem/obj)
    heap->Free(p);               // nullptr: no owner, so the slow path returns
    return;
  }
  alloc::Free(kDomain, p);
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
  config.host_lock_held = &GilHeld;
  return interp::Runtime::Get().CreateInterpreter(config);
}

void InstallCPythonAllocators(interp::Interpreter* host) {
  host_heap.store(&host->heap(), std::memory_order_release);
  host_interpreter.store(host, std::memory_order_release);
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

}  // namespace interpheap::pyhost
