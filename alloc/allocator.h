/* alloc/allocator.h: the C-compatible allocator shapes shared by the C and
 * C++ APIs.
 *
 * An allocator is CPython's PyMemAllocatorEx under our prefix: a context
 * pointer and four functions. A domain (raw, mem, obj) names one of the three
 * allocator stacks of the runtime. This header is valid C11 and C++17; read
 * alloc/allocator_table.h next for how allocators are installed.
 */

#ifndef INTERPHEAP_ALLOC_ALLOCATOR_H_
#define INTERPHEAP_ALLOC_ALLOCATOR_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The three allocator domains, as CPython's PyMemAllocatorDomain. */
typedef enum ih_domain {
  IH_DOMAIN_RAW = 0, /* thread-safe, no interpreter lock needed */
  IH_DOMAIN_MEM = 1, /* caller holds its interpreter's lock */
  IH_DOMAIN_OBJ = 2  /* caller holds its interpreter's lock */
} ih_domain_t;

#define IH_DOMAIN_COUNT 3

/* One allocator. Each function receives `ctx` as its first argument.
 * Contract (as CPython's): malloc(0), calloc(0, n) and realloc(p, 0) return
 * distinct non-NULL blocks; realloc(NULL, n) acts as malloc(n); a failed
 * realloc returns NULL and leaves the old block valid; free(NULL) does
 * nothing. Raw allocators must be thread-safe. */
typedef struct ih_allocator {
  void* ctx;
  void* (*malloc)(void* ctx, size_t size);
  void* (*calloc)(void* ctx, size_t nelem, size_t elsize);
  void* (*realloc)(void* ctx, void* ptr, size_t new_size);
  void (*free)(void* ctx, void* ptr);
} ih_allocator_t;

/* Where pymalloc gets its arenas (CPython's PyObjectArenaAllocator). Always
 * called with the arena size (1 MiB); alloc returns NULL on failure; free
 * receives the pointer and size alloc gave. Must be thread-safe: every
 * interpreter's heap uses the one arena allocator. */
typedef struct ih_arena_allocator {
  void* ctx;
  void* (*alloc)(void* ctx, size_t size);
  void (*free)(void* ctx, void* ptr, size_t size);
} ih_arena_allocator_t;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* INTERPHEAP_ALLOC_ALLOCATOR_H_ */
