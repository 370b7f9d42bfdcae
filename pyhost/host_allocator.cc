#include "pyhost/host_allocator.h"

#include <Python.h>

#include <atomic>
#include <cstddef>

#include "alloc/domain.h"
#include "alloc/hooks/debug_hooks.h"
#include "alloc/pymalloc/pymalloc.h"
#include "sync/mutex.h"
#include "sync/mutex_lock.h"

namespace interpheap::pyhost {
namespace {

// Release-stored once by InstallCPythonAllocators, before CPython can call
// any allocator from another thread; acquire-loaded per mem/obj call.
std::atomic<interp::Interpreter*> host_interpreter{nullptr};

interp::Interpreter* Host() {
  return host_interpreter.load(std::memory_order_acquire);
}

// Makes `interp`'s heap the thread's current heap for one mem/obj call.
// Requires: the thread holds interp's lock for the object's lifetime.
class CurrentHeapScope {
 public:
  explicit CurrentHeapScope(interp::Interpreter* interp)
      : previous_(alloc::CurrentHeap()) {
    alloc::SetCurrentHeap(&interp->heap());
  }
  ~CurrentHeapScope() { alloc::SetCurrentHeap(previous_); }
  CurrentHeapScope(const CurrentHeapScope&) = delete;
  CurrentHeapScope& operator=(const CurrentHeapScope&) = delete;

 private:
  alloc::Heap* const previous_;
};

// ctx is the alloc::Domain, stored as an integer in the pointer.
alloc::Domain DomainOf(void* ctx) {
  return static_cast<alloc::Domain>(reinterpret_cast<std::uintptr_t>(ctx));
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

void* HeapMalloc(void* ctx, std::size_t n) {
  interp::Interpreter* const interp = Host();
  sync::MutexLock lock(&interp->lock());
  CurrentHeapScope scope(interp);
  return alloc::Malloc(DomainOf(ctx), n);
}
void* HeapCalloc(void* ctx, std::size_t nelem, std::size_t elsize) {
  interp::Interpreter* const interp = Host();
  sync::MutexLock lock(&interp->lock());
  CurrentHeapScope scope(interp);
  return alloc::Calloc(DomainOf(ctx), nelem, elsize);
}
void* HeapRealloc(void* ctx, void* p, std::size_t n) {
  interp::Interpreter* const interp = Host();
  sync::MutexLock lock(&interp->lock());
  CurrentHeapScope scope(interp);
  return alloc::Realloc(DomainOf(ctx), p, n);
}
void HeapFree(void* ctx, void* p) {
  // free(NULL) still goes through, so that the debug hooks' GIL check sees
  // it, as CPython's do.
  interp::Interpreter* const interp = Host();
  sync::MutexLock lock(&interp->lock());
  CurrentHeapScope scope(interp);
  alloc::Free(DomainOf(ctx), p);
}

bool GilHeld() { return PyGILState_Check() != 0; }

void* ContextOf(alloc::Domain domain) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(domain));
}

}  // namespace

void InstallCPythonAllocators(interp::Interpreter* main) {
  host_interpreter.store(main, std::memory_order_release);
  alloc::SetLockHeldPredicate(&GilHeld);
  PyMemAllocatorEx raw = {nullptr, RawMalloc, RawCalloc, RawRealloc, RawFree};
  PyMemAllocatorEx mem = {ContextOf(alloc::Domain::kMem), HeapMalloc,
                          HeapCalloc, HeapRealloc, HeapFree};
  PyMemAllocatorEx obj = {ContextOf(alloc::Domain::kObj), HeapMalloc,
                          HeapCalloc, HeapRealloc, HeapFree};
  PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
  PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &mem);
  PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &obj);
}

interp::Interpreter* HostInterpreter() { return Host(); }

}  // namespace interpheap::pyhost
