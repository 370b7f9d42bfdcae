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
bool active = IH_ASAN;
bool raw_under_valgrind = false;
bool checked = IH_ASAN;
}  // namespace internal

namespace {

bool on_valgrind = false;

void Detect() {
  const char* mode = std::getenv("INTERPHEAP_PYMALLOC_UNDER_VALGRIND");
  // "native": behave exactly as without valgrind (for instruction counts).
  on_valgrind = RUNNING_ON_VALGRIND != 0 &&
                !(mode != nullptr && std::strcmp(mode, "native") == 0);
  internal::raw_under_valgrind =
      on_valgrind && mode != nullptr && std::strcmp(mode, "raw") == 0;
  internal::active = IH_ASAN || (on_valgrind && !internal::raw_under_valgrind);
  internal::checked = internal::active || internal::raw_under_valgrind;
}

}  // namespace

void Init() {
  static std::once_flag once;
  std::call_once(once, Detect);
}

// Each function acts for valgrind when running on it, and for ASan in an
// ASan build; the two never combine in practice.

void ArenaCreated(void* base, std::size_t size) {
  if (on_valgrind) VALGRIND_MAKE_MEM_NOACCESS(base, size);
#if IH_ASAN
  ASAN_POISON_MEMORY_REGION(base, size);
#endif
  (void)base;
  (void)size;
}

void ArenaReleased(void* base, std::size_t size) {
#if IH_ASAN
  ASAN_UNPOISON_MEMORY_REGION(base, size);
#endif
  (void)base;
  (void)size;
}

void PoolHeaderCarved(void* pool, std::size_t header_size) {
  if (on_valgrind) VALGRIND_MAKE_MEM_DEFINED(pool, header_size);
#if IH_ASAN
  ASAN_UNPOISON_MEMORY_REGION(pool, header_size);
#endif
  (void)pool;
  (void)header_size;
}

void BlockAllocated(void* p, std::size_t requested, bool zeroed) {
  if (on_valgrind) VALGRIND_MALLOCLIKE_BLOCK(p, requested, 0, zeroed);
#if IH_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, requested);
#endif
  (void)p;
  (void)requested;
  (void)zeroed;
}

void BlockFreed(void* p, std::size_t block_size) {
  if (on_valgrind) {
    VALGRIND_FREELIKE_BLOCK(p, 0);
    VALGRIND_MAKE_MEM_NOACCESS(p, block_size);
  }
#if IH_ASAN
  ASAN_POISON_MEMORY_REGION(p, block_size);
#endif
  (void)p;
  (void)block_size;
}

void BlockResized(void* p, std::size_t block_size, std::size_t requested,
                  std::size_t kept) {
  if (on_valgrind) {
    VALGRIND_FREELIKE_BLOCK(p, 0);
    VALGRIND_MAKE_MEM_NOACCESS(p, block_size);
    VALGRIND_MALLOCLIKE_BLOCK(p, requested, 0, 0);
    VALGRIND_MAKE_MEM_DEFINED(p, kept);
  }
#if IH_ASAN
  ASAN_POISON_MEMORY_REGION(p, block_size);
  ASAN_UNPOISON_MEMORY_REGION(p, requested);
#endif
  (void)p;
  (void)block_size;
  (void)requested;
  (void)kept;
}

void OpenForCopy(void* p, std::size_t block_size) {
  if (on_valgrind) VALGRIND_MAKE_MEM_DEFINED(p, block_size);
#if IH_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, block_size);
#endif
  (void)p;
  (void)block_size;
}

void OpenLink(void* block) {
  if (on_valgrind) VALGRIND_MAKE_MEM_DEFINED(block, sizeof(void*));
#if IH_ASAN
  ASAN_UNPOISON_MEMORY_REGION(block, sizeof(void*));
#endif
  (void)block;
}

void CloseLink(void* block) {
  if (on_valgrind) VALGRIND_MAKE_MEM_NOACCESS(block, sizeof(void*));
#if IH_ASAN
  ASAN_POISON_MEMORY_REGION(block, sizeof(void*));
#endif
  (void)block;
}

}  // namespace interpheap::alloc::memcheck
