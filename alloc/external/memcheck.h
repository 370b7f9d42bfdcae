// alloc/external/memcheck.h: telling valgrind's memcheck and AddressSanitizer
// about pymalloc's blocks, so they see inside the pools.
//
// To valgrind and ASan an arena is one big mapping; without help they can
// report nothing about the blocks pymalloc carves from it (CPython's answer
// is to switch pymalloc off under valgrind). Instead, pymalloc announces:
//   - a new arena: everything in it inaccessible;
//   - a pool header when carved: accessible (pymalloc's own metadata);
//   - a block handed out: allocated, `requested` bytes accessible (the slack
//     up to the class size stays inaccessible, so an overflow into it or
//     into a neighbour is caught); under valgrind as a malloc-like block, so
//     errors and leaks show its allocation stack;
//   - a block freed: inaccessible again (use after free is caught);
//   - the free-list link in a free block's first word: opened only for the
//     instant pymalloc reads or writes it.
// Under valgrind (detected once with RUNNING_ON_VALGRIND) these are memcheck
// client requests; in an ASan build (--config=asan) they are ASan's manual
// poisoning, which ASan reports as "use-after-poison". Elsewhere every call
// is one predictable branch on a global flag.
//
// INTERPHEAP_PYMALLOC_UNDER_VALGRIND=raw makes pymalloc hand every request
// to the raw domain under valgrind instead, as CPython does;
// INTERPHEAP_PYMALLOC_UNDER_VALGRIND=native makes it ignore valgrind, which
// callgrind instruction counts want (memcheck then sees arenas only).

#ifndef INTERPHEAP_ALLOC_EXTERNAL_MEMCHECK_H_
#define INTERPHEAP_ALLOC_EXTERNAL_MEMCHECK_H_

#include <cstddef>

#include "absl/base/optimization.h"

namespace interpheap::alloc::memcheck {

// Vocabulary: the checkers (valgrind's memcheck, ASan) are *watching* when
// pymalloc announces its blocks to them; under valgrind with
// INTERPHEAP_PYMALLOC_UNDER_VALGRIND=raw pymalloc *bypasses its pools*
// instead. Either way its inline fast paths are off.
namespace internal {
// Set once by Init().
extern bool watching;      // under valgrind or in an ASan build
extern bool bypass_pools;  // valgrind + INTERPHEAP_PYMALLOC_UNDER_VALGRIND=raw
extern bool fast_paths_off;  // watching || bypass_pools
}  // namespace internal

// Detects valgrind (idempotent, thread-safe). Called when a heap is made.
void Init();

// True when the checkers watch pool blocks: pymalloc announces each block.
inline bool Watching() { return ABSL_PREDICT_FALSE(internal::watching); }

// True when pymalloc must hand every request to the raw domain.
inline bool BypassingPools() {
  return ABSL_PREDICT_FALSE(internal::bypass_pools);
}

// True when pymalloc must leave its inline fast paths: Watching() or
// BypassingPools().
inline bool FastPathsOff() {
  return ABSL_PREDICT_FALSE(internal::fast_paths_off);
}

void ArenaCreated(void* base, std::size_t size);
// Before an arena goes back to the arena allocator: ASan's shadow outlives
// munmap, and the address range may be mapped again for something else.
void ArenaReleased(void* base, std::size_t size);
void PoolHeaderCarved(void* pool, std::size_t header_size);
void BlockAllocated(void* p, std::size_t requested, bool zeroed);
void BlockFreed(void* p, std::size_t block_size);
// An in-place realloc: the block now holds `requested` bytes, the first
// `kept` of which keep their contents.
void BlockResized(void* p, std::size_t block_size, std::size_t requested,
                  std::size_t kept);
// Makes a whole block of another heap readable (as defined) before a
// cross-interpreter realloc copies it: that heap's requested-size table is
// not ours to read.
void OpenForCopy(void* p, std::size_t block_size);
// Opens and closes a free block's link word around pymalloc's access.
void OpenLink(void* block);
void CloseLink(void* block);

}  // namespace interpheap::alloc::memcheck

#endif  // INTERPHEAP_ALLOC_EXTERNAL_MEMCHECK_H_
