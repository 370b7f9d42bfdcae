#include "alloc/external/mimalloc_allocator.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/call_once.h"
#include "absl/base/optimization.h"
#include "alloc/fatal.h"
#include "alloc/pymalloc/pymalloc.h"

namespace interpheap::alloc {
namespace {

constexpr char kLibrary[] = "libmimalloc.so.2";

struct MimallocApi {
  void* (*heap_new)();
  void (*heap_delete)(void* heap);
  void (*heap_collect)(void* heap, bool force);
  void* (*heap_malloc)(void* heap, std::size_t size, std::size_t align);
  void* (*heap_calloc)(void* heap, std::size_t count, std::size_t size,
                       std::size_t align);
  void* (*heap_realloc)(void* heap, void* p, std::size_t size,
                        std::size_t align);
  void (*free)(void* p);
};

// Written once inside LoadMimalloc's call_once, read afterwards.
MimallocApi api;
std::string load_error;
absl::once_flag load_once;

void Load() {
  void* library = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    load_error = std::string("cannot load ") + kLibrary +
                 " (install Debian's libmimalloc2.0): " + dlerror();
    return;
  }
  auto symbol = [&](const char* name) {
    void* address = dlsym(library, name);
    if (address == nullptr && load_error.empty()) {
      load_error = std::string(kLibrary) + " has no symbol " + name;
    }
    return address;
  };
  api.heap_new = reinterpret_cast<void* (*)()>(symbol("mi_heap_new"));
  api.heap_delete = reinterpret_cast<void (*)(void*)>(symbol("mi_heap_delete"));
  api.heap_collect =
      reinterpret_cast<void (*)(void*, bool)>(symbol("mi_heap_collect"));
  // The _aligned forms: every domain returns 16-byte aligned blocks, and
  // mimalloc aligns small blocks to 8 only.
  api.heap_malloc =
      reinterpret_cast<void* (*)(void*, std::size_t, std::size_t)>(
          symbol("mi_heap_malloc_aligned"));
  api.heap_calloc =
      reinterpret_cast<void* (*)(void*, std::size_t, std::size_t, std::size_t)>(
          symbol("mi_heap_calloc_aligned"));
  api.heap_realloc =
      reinterpret_cast<void* (*)(void*, void*, std::size_t, std::size_t)>(
          symbol("mi_heap_realloc_aligned"));
  api.free = reinterpret_cast<void (*)(void*)>(symbol("mi_free"));
}

// The calling thread's mimalloc heaps, one per interpreter heap it has
// allocated for, most recently used first.
class ThreadHeaps {
 public:
  ~ThreadHeaps() {
    for (int i = 0; i < count_; ++i) Delete(entries_[i].mi_heap);
  }

  void* For(std::uint64_t heap_serial) {
    if (ABSL_PREDICT_TRUE(count_ > 0 && entries_[0].serial == heap_serial)) {
      return entries_[0].mi_heap;
    }
    for (int i = 1; i < count_; ++i) {
      if (entries_[i].serial == heap_serial) {
        const Entry found = entries_[i];
        for (int j = i; j > 0; --j) entries_[j] = entries_[j - 1];
        entries_[0] = found;
        return found.mi_heap;
      }
    }
    void* mi_heap = api.heap_new();
    if (mi_heap == nullptr) return nullptr;
    if (count_ == kCapacity) {
      // Evict the least recently used; its live blocks move to this
      // thread's backing heap and stay valid.
      Delete(entries_[--count_].mi_heap);
    }
    for (int j = count_; j > 0; --j) entries_[j] = entries_[j - 1];
    entries_[0] = Entry{heap_serial, mi_heap};
    ++count_;
    return mi_heap;
  }

 private:
  // Frees the heap's empty pages first: mi_heap_delete hands every page,
  // empty ones included, to the thread's backing heap, which interpheap
  // never allocates from and so never collects them (they piled up, about
  // 40 KB per interpreter).
  static void Delete(void* mi_heap) {
    api.heap_collect(mi_heap, true);
    api.heap_delete(mi_heap);
  }

  static constexpr int kCapacity = 8;
  struct Entry {
    std::uint64_t serial;
    void* mi_heap;
  };
  Entry entries_[kCapacity] = {};
  int count_ = 0;
};

thread_local ThreadHeaps thread_heaps;

void* CurrentMiHeap(const char* function) {
  Heap* heap = CurrentHeap();
  if (ABSL_PREDICT_FALSE(heap == nullptr)) {
    FatalError(function,
               "the mem/obj allocator was called by a thread that is not "
               "attached to an interpreter");
  }
  void* mi_heap = thread_heaps.For(heap->serial());
  return mi_heap;
}

void* MiMalloc(void*, std::size_t n) {
  void* mi_heap = CurrentMiHeap("mimalloc malloc");
  return mi_heap == nullptr
             ? nullptr
             : api.heap_malloc(mi_heap, n == 0 ? 1 : n, kAlignment);
}

void* MiCalloc(void*, std::size_t nelem, std::size_t elsize) {
  void* mi_heap = CurrentMiHeap("mimalloc calloc");
  if (mi_heap == nullptr) return nullptr;
  if (nelem == 0 || elsize == 0) nelem = elsize = 1;
  return api.heap_calloc(mi_heap, nelem, elsize, kAlignment);
}

// A pool block made under an earlier configuration goes to its heap
// (alloc/pymalloc/pymalloc.h), never to mi_free.
void* MiRealloc(void*, void* p, std::size_t n) {
  if (Heap* owner = ForeignPoolBlockOwner(p);
      ABSL_PREDICT_FALSE(owner != nullptr)) {
    const std::size_t block_size =
        CheckedPoolBlockSize(owner, p, "mimalloc realloc");
    return MovePoolBlock(owner, p, block_size, MiMalloc(nullptr, n), n);
  }
  void* mi_heap = CurrentMiHeap("mimalloc realloc");
  return mi_heap == nullptr
             ? nullptr
             : api.heap_realloc(mi_heap, p, n == 0 ? 1 : n, kAlignment);
}

void MiFree(void*, void* p) {
  if (p == nullptr) return;
  if (Heap* owner = ForeignPoolBlockOwner(p);
      ABSL_PREDICT_FALSE(owner != nullptr)) {
    CheckedPoolBlockSize(owner, p, "mimalloc free");
    return FreePoolBlock(owner, p);
  }
  api.free(p);
}

}  // namespace

absl::Status LoadMimalloc() {
  absl::call_once(load_once, Load);
  if (!load_error.empty()) {
    return absl::FailedPreconditionError(
        "allocator configuration 'mimalloc' is unavailable: " + load_error);
  }
  return absl::OkStatus();
}

const ih_allocator_t kMimallocAllocator = {nullptr, MiMalloc, MiCalloc,
                                           MiRealloc, MiFree};

}  // namespace interpheap::alloc
