#include "alloc/external/memcheck.h"

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define IH_ASAN 1
#else
#define IH_ASAN 0
#endif

namespace interpheap::alloc::memcheck {
namespace internal {
bool watching = IH_ASAN;
bool bypass_pools = false;
bool fast_paths_off = IH_ASAN;
}  // namespace internal

namespace {

bool on_valgrind = false;

void Detect() {
  const char* mode = std::getenv("INTERPHEAP_PYMALLOC_UNDER_VALGRIND");
  // "native": behave exactly as without valgrind (for instruction counts).
  on_valgrind = RUNNING_ON_VALGRIND != 0 &&
                !(mode != nullptr && std::strcmp(mode, "native") == 0);
  internal::bypass_pools =
      on_valgrind && mode != nullptr && std::strcmp(mode, "raw") == 0;
  internal::watching = IH_ASAN || (on_valgrind && !internal::bypass_pools);
  internal::fast_paths_off = internal::watching || internal::bypass_pools;
}

// The two primitives every announcement is made of, each acting for
// valgrind when running on it and for ASan in an ASan build (the two never
// combine in practice). `Open`: accessible (valgrind: defined);
// `Close`: inaccessible.
void Open(void* p, std::size_t size) {
  if (on_valgrind) VALGRIND_MAKE_MEM_DEFINED(p, size);
#if IH_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, size);
#endif
}

void Close(void* p, std::size_t size) {
  if (on_valgrind) VALGRIND_MAKE_MEM_NOACCESS(p, size);
#if IH_ASAN
  ASAN_POISON_MEMORY_REGION(p, size);
#endif
}

}  // namespace

void Init() {
  static std::once_flag once;
  std::call_once(once, Detect);
}

void ArenaCreated(void* base, std::size_t size) { Close(base, size); }

void ArenaReleased(void* base, std::size_t size) {
  // ASan only: valgrind forgets a mapping's state when it is unmapped.
#if IH_ASAN
  ASAN_UNPOISON_MEMORY_REGION(base, size);
#endif
  (void)base;
  (void)size;
}

void PoolHeaderCarved(void* pool, std::size_t header_size) {
  Open(pool, header_size);
}

void BlockAllocated(void* p, std::size_t requested, bool zeroed) {
  if (on_valgrind) {
    // A malloc-like block: errors and leaks show its allocation stack.
    VALGRIND_MALLOCLIKE_BLOCK(p, requested, 0, zeroed);
    return;
  }
  Open(p, requested);
}

void BlockFreed(void* p, std::size_t block_size) {
  if (on_valgrind) VALGRIND_FREELIKE_BLOCK(p, 0);
  Close(p, block_size);
}

void BlockResized(void* p, std::size_t block_size, std::size_t requested,
                  std::size_t kept) {
  BlockFreed(p, block_size);
  if (on_valgrind) {
    VALGRIND_MALLOCLIKE_BLOCK(p, requested, 0, 0);
    VALGRIND_MAKE_MEM_DEFINED(p, kept);
    return;
  }
  Open(p, requested);
}

void OpenForCopy(void* p, std::size_t block_size) { Open(p, block_size); }

void OpenLink(void* block) { Open(block, sizeof(void*)); }

void CloseLink(void* block) { Close(block, sizeof(void*)); }

}  // namespace interpheap::alloc::memcheck
