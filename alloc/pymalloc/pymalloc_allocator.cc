#include "alloc/pymalloc/pymalloc_allocator.h"

#include "absl/base/optimization.h"
#include "alloc/fatal.h"
#include "alloc/pymalloc/pymalloc.h"
#include "alloc/raw_allocator.h"

namespace interpheap::alloc {
namespace {

// The current heap; dies when the thread is not attached.
Heap* RequireHeap(const char* function) {
  Heap* heap = CurrentHeap();
  if (ABSL_PREDICT_FALSE(heap == nullptr)) {
    FatalError(function,
               "the mem/obj allocator was called by a thread that is not "
               "attached to an interpreter");
  }
  return heap;
}

// Each entry point states once that the guard is held: the attached thread
// holds its interpreter's lock (checked in debug builds, and by the debug
// hooks when installed).

void* PymallocMalloc(void*, std::size_t n) {
  Heap* heap = RequireHeap("pymalloc malloc");
  heap->guard().AssumeHeld();
  return heap->Malloc(n);
}

void* PymallocCalloc(void*, std::size_t nelem, std::size_t elsize) {
  Heap* heap = RequireHeap("pymalloc calloc");
  heap->guard().AssumeHeld();
  return heap->Calloc(nelem, elsize);
}

void* PymallocRealloc(void*, void* p, std::size_t n) {
  Heap* heap = RequireHeap("pymalloc realloc");
  heap->guard().AssumeHeld();
  return heap->Realloc(p, n);
}

void PymallocFree(void*, void* p) {
  if (p == nullptr) return;
  Heap* heap = RequireHeap("pymalloc free");
  heap->guard().AssumeHeld();
  heap->Free(p);
}

// The C library under mem and obj: pool blocks go home.

void* LibcMemRealloc(void*, void* p, std::size_t n) {
  Heap* owner = ForeignPoolBlockOwner(p);  // nullptr for nullptr
  if (ABSL_PREDICT_TRUE(owner == nullptr)) return LibcRealloc(nullptr, p, n);
  const std::size_t block_size =
      CheckedPoolBlockSize(owner, p, "mem/obj realloc (C library)");
  return MovePoolBlock(owner, p, block_size, LibcMalloc(nullptr, n), n);
}

void LibcMemFree(void*, void* p) {
  Heap* owner = ForeignPoolBlockOwner(p);
  if (ABSL_PREDICT_TRUE(owner == nullptr)) return LibcFree(nullptr, p);
  CheckedPoolBlockSize(owner, p, "mem/obj free (C library)");
  FreePoolBlock(owner, p);
}

}  // namespace

const ih_allocator_t kPymallocAllocator = {
    nullptr, PymallocMalloc, PymallocCalloc, PymallocRealloc, PymallocFree};

const ih_allocator_t kLibcMemAllocator = {nullptr, LibcMalloc, LibcCalloc,
                                          LibcMemRealloc, LibcMemFree};

}  // namespace interpheap::alloc
