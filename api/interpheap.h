/* api/interpheap.h: the C API of interpheap (C11 and C++).
 *
 * Every name starts with ih_ / IH_, so it never collides with CPython's
 * exported symbols. The C++ API is the same core: alloc/domain.h,
 * interp/runtime.h, interp/thread_state.h.
 *
 * Errors: one convention, by kind of call.
 *
 * | kind    | on success             | on failure                            |
 * |---------|------------------------|---------------------------------------|
 * | status  | IH_OK (0)              | an ih_code_t > 0                      |
 * | value   | the value              | -1 (a count) or NULL (a handle)       |
 * | CPython | what CPython returns   | what CPython returns; no status       |
 * | query   | the value              | cannot fail                           |
 *
 *   status:  every call returning int with an ih_status_t* last: lifecycle,
 *            allocators, debug hooks, tracemalloc start/stop/traceback,
 *            fault injection, interpreters, attach/detach, stats,
 *            validation.
 *   value:   ih_allocated_blocks, ih_interp_allocated_blocks,
 *            ih_interp_remote_frees (-1), ih_interp_create (NULL).
 *   CPython: the data plane, ih_{raw,mem,obj}_{malloc,calloc,realloc}, and
 *            ih_mem_new / ih_mem_resize: NULL, as PyMem_*;
 *            ih_tracemalloc_track: 0, -1 when the trace cannot be stored,
 *            -2 when not tracing (PyTraceMalloc_Track);
 *            ih_tracemalloc_untrack: 0, or -2 when not tracing.
 *   query:   every other call. Answers that mean "none" are documented per
 *            call (ih_interp_id: -1 for a stale handle; names: NULL or "?").
 *
 * Status and value calls fill *status, when `status` is not NULL, with the
 * code and a message the caller can print (IH_OK and "" on success).
 * The codes (absl::StatusCode's values):
 *   IH_OK                   success
 *   IH_INVALID_ARGUMENT     a NULL or out-of-range argument; an unknown
 *                           name, domain or lock kind; a bad interpreter
 *                           configuration
 *   IH_NOT_FOUND            an ih_interp_t* that is not a live interpreter
 *                           (NULL, or destroyed); a pointer with no trace
 *   IH_RESOURCE_EXHAUSTED   no room for another allocator hook or layer
 *   IH_FAILED_PRECONDITION  refused in the current state: the runtime's
 *                           lifecycle state, the calling thread's
 *                           attachment or lock, hooks in the way,
 *                           tracemalloc not tracing
 *   IH_INTERNAL             writing output failed; heap validation found a
 *                           broken invariant
 */

#ifndef INTERPHEAP_API_INTERPHEAP_H_
#define INTERPHEAP_API_INTERPHEAP_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The allocator shapes (ih_allocator_t, ih_domain_t): alloc/allocator.h in
 * the repository, installed beside this header as interpheap/allocator.h. */
#include "interpheap/allocator.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ---- */
/* The version of these headers; ih_version() is the library's, so a program
 * can check that the two agree. */
#define IH_VERSION_MAJOR 0
#define IH_VERSION_MINOR 3
#define IH_VERSION_PATCH 0
#define IH_VERSION_STRING "0.3.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 300 for 0.3.0. */
#define IH_VERSION_NUMBER \
  (IH_VERSION_MAJOR * 10000 + IH_VERSION_MINOR * 100 + IH_VERSION_PATCH)

/* The library's version as IH_VERSION_NUMBER encodes it, and as a string. */
int ih_version(void);
const char* ih_version_string(void);

/* Status codes (see the table above); the values are absl::StatusCode's. */
typedef enum ih_code {
  IH_OK = 0,
  IH_INVALID_ARGUMENT = 3,
  IH_NOT_FOUND = 5,
  IH_RESOURCE_EXHAUSTED = 8,
  IH_FAILED_PRECONDITION = 9,
  IH_INTERNAL = 13
} ih_code_t;

typedef struct ih_status {
  int code;          /* an ih_code_t */
  char message[512]; /* NUL-terminated; "" when code is IH_OK */
} ih_status_t;

/* An interpreter handle: opaque, unique in the process, never reused. A
 * destroyed interpreter's handle is refused (IH_NOT_FOUND; ih_interp_id
 * returns -1), even after new interpreters are made. */
typedef struct ih_interp ih_interp_t;

/* ---- Data plane ---- */
/* Raw: thread-safe, usable in every runtime state, no lock needed. */
void* ih_raw_malloc(size_t size);
void* ih_raw_calloc(size_t nelem, size_t elsize);
void* ih_raw_realloc(void* ptr, size_t new_size);
void ih_raw_free(void* ptr);
/* Mem and obj: the caller is attached to an interpreter (holds its lock). */
void* ih_mem_malloc(size_t size);
void* ih_mem_calloc(size_t nelem, size_t elsize);
void* ih_mem_realloc(void* ptr, size_t new_size);
void ih_mem_free(void* ptr);
void* ih_obj_malloc(size_t size);
void* ih_obj_calloc(size_t nelem, size_t elsize);
void* ih_obj_realloc(void* ptr, size_t new_size);
void ih_obj_free(void* ptr);

/* CPython's PyMem_New / PyMem_Resize / PyMem_Del: arrays of `n` `type`s in
 * the mem domain. NULL, without calling the allocator, when n * sizeof(type)
 * would exceed PTRDIFF_MAX. ih_mem_resize assigns the result to `p` (an
 * lvalue), NULL included: keep the old pointer to free it after a failure
 * (the old block stays valid then). Macros: `p` and `n` are evaluated more
 * than once. */
#define ih_mem_new(type, n)                         \
  ((size_t)(n) > (size_t)PTRDIFF_MAX / sizeof(type) \
       ? NULL                                       \
       : (type*)ih_mem_malloc((size_t)(n) * sizeof(type)))
#define ih_mem_resize(p, type, n)                         \
  ((p) = (size_t)(n) > (size_t)PTRDIFF_MAX / sizeof(type) \
             ? NULL                                       \
             : (type*)ih_mem_realloc((p), (size_t)(n) * sizeof(type)))
#define ih_mem_del(p) ih_mem_free(p)

/* Nonzero if `p` points into an arena of pymalloc (any interpreter's heap,
 * also one that outlived its destroyed interpreter): CPython's
 * address_in_range, O(1) and lock-free, any thread, any pointer (it reads
 * only pymalloc's own map). For a live mem/obj block: whether pymalloc
 * serves it (not for 0 or > 512 bytes, nor under malloc or mimalloc). */
int ih_pymalloc_owns(const void* p);

/* ---- Lifecycle (see interp/runtime_state.h for the full table) ---- */
typedef enum ih_runtime_state {
  IH_RUNTIME_UNINITIALIZED = 0,
  IH_RUNTIME_PRE_INITIALIZED = 1,
  IH_RUNTIME_INITIALIZED = 2,
  IH_RUNTIME_FINALIZING = 3,
  IH_RUNTIME_FINALIZED = 4
} ih_runtime_state_t;

ih_runtime_state_t ih_runtime_state(void);
/* "kUninitialized", ... */
const char* ih_runtime_state_name(ih_runtime_state_t state);

/* `allocator_name`: a named configuration (default, malloc, pymalloc, ...);
 * NULL or "" reads INTERPHEAP_MALLOC, then falls back to default. */
int ih_runtime_pre_initialize(const char* allocator_name, ih_status_t* status);
int ih_runtime_apply_configuration(const char* name, ih_status_t* status);
int ih_runtime_initialize(ih_status_t* status);
int ih_runtime_finalize(ih_status_t* status);
int ih_runtime_reset(ih_status_t* status);

/* ---- Allocators ---- */
/* Copies the outermost allocator of `domain` into *allocator (zero-filled
 * for an unknown domain, as CPython). */
void ih_get_allocator(ih_domain_t domain, ih_allocator_t* allocator);
/* Pre-initialized only. */
int ih_replace_allocator(ih_domain_t domain, const ih_allocator_t* allocator,
                         ih_status_t* status);
/* Stores the outermost allocator in *previous (which must outlive the
 * hook), then installs `hook` above it. Wrapping the same hook again over a
 * different allocator rewrites *previous while threads from its earlier
 * installation may still read it: give each installation its own storage
 * if threads may still be inside the hook. */
int ih_wrap_allocator(ih_domain_t domain, const ih_allocator_t* hook,
                      ih_allocator_t* previous, ih_status_t* status);
/* `hook` must be the outermost layer (LIFO). When this returns, a thread
 * that entered the domain before may still be running the hook's functions
 * with its ctx: free the ctx only once every thread that may have been
 * allocating then has returned from that call (joined, or synchronised with
 * you after it). The hook's layer itself is reclaimed by the library. */
int ih_unwrap_allocator(ih_domain_t domain, const ih_allocator_t* hook,
                        ih_status_t* status);
/* "malloc", "pymalloc_debug", ... or NULL when a custom allocator or a hook
 * other than the debug hooks is the outer layer (CPython's rule). */
const char* ih_current_configuration_name(void);

/* The arena allocator pymalloc uses (mmap/munmap by default). Set only in
 * the pre-initialized state. */
void ih_get_arena_allocator(ih_arena_allocator_t* allocator);
int ih_set_arena_allocator(const ih_arena_allocator_t* allocator,
                           ih_status_t* status);

/* ---- Counts and stats ---- */
/* Blocks allocated and not freed through the calling thread's current
 * interpreter's heap (pool blocks plus blocks of 0 or > 512 bytes, which
 * pymalloc hands to raw); -1 (and *status filled) when not attached or when
 * the interpreter shares main's heap. */
int64_t ih_allocated_blocks(ih_status_t* status);
/* Every live heap's blocks plus blocks leaked by destroyed interpreters. */
int64_t ih_global_allocated_blocks(void);
/* The same count for any interpreter, read without its lock (exact when
 * the interpreter is idle or the caller holds its lock). An interpreter
 * sharing main's heap reports that heap's count, main's. -1 and
 * IH_NOT_FOUND for a handle that is not a live interpreter. */
int64_t ih_interp_allocated_blocks(ih_interp_t* interp, ih_status_t* status);

/* Cross-interpreter frees: blocks of an interpreter's heap freed (or moved
 * by realloc) by a thread attached to an interpreter with another heap,
 * handed back to the owning heap. Per interpreter (its heap's: main's for
 * one sharing it; -1 and IH_NOT_FOUND for a handle that is not live), and
 * for the whole process since it started (destroyed heaps included). */
int64_t ih_interp_remote_frees(ih_interp_t* interp, ih_status_t* status);
int64_t ih_global_remote_frees(void);

/* pymalloc's numbers, the data of CPython's _PyObject_DebugMallocStats
 * table. Size class i holds blocks of (i + 1) * 16 bytes. */
#define IH_SIZE_CLASS_COUNT 32
typedef struct ih_size_class_stats {
  size_t block_size;    /* 16, 32, ..., 512 */
  size_t pools;         /* pools with a block in use ("num pools") */
  size_t blocks_in_use; /* "blocks in use" */
  size_t free_blocks;   /* free blocks of those pools ("avail blocks") */
} ih_size_class_stats_t;

typedef struct ih_stats {
  ih_size_class_stats_t classes[IH_SIZE_CLASS_COUNT];
  size_t heaps; /* heaps added up: 1 for an interpreter */
  size_t arenas_allocated_total;
  size_t arenas_reclaimed; /* returned to the arena allocator */
  /* Most arenas held at once; for several heaps, the sum of each heap's. */
  size_t arenas_highwater;
  size_t arenas_current;
  size_t unused_pools;  /* empty pools in the arenas held */
  size_t blocks_in_use; /* the classes' blocks_in_use added up */
  size_t free_blocks;   /* the classes' free_blocks added up */
  size_t bytes_in_allocated_blocks;
  size_t bytes_in_available_blocks;
  /* ih_interp_allocated_blocks (for the process: ih_global_allocated_blocks):
   * blocks_in_use plus raw fallback blocks (0 or > 512 bytes; a heap counts
   * those it freed, wherever they came from). */
  int64_t allocated_blocks;
} ih_stats_t;

/* One interpreter's heap (main's for one sharing it), drained of
 * cross-interpreter frees first. Read under the heap's lock: called by a
 * thread that holds it (attached to an interpreter using that heap, or to
 * one under the same lock), or by a thread that is not attached (the call
 * then attaches for its duration, waiting for the lock).
 * IH_FAILED_PRECONDITION when attached without holding that lock, or for a
 * host-locked interpreter whose host lock the caller does not hold;
 * IH_NOT_FOUND for a handle that is not live. */
int ih_interp_get_stats(ih_interp_t* interp, ih_stats_t* stats,
                        ih_status_t* status);
/* Every heap of the process added up (every interpreter's, and the heaps
 * destroyed interpreters left with live blocks). The caller must not be
 * attached (IH_FAILED_PRECONDITION): each interpreter's lock is taken in
 * turn, as ih_interp_get_stats does. */
int ih_get_stats(ih_stats_t* stats, ih_status_t* status);
/* The same as CPython's _PyObject_DebugMallocStats table (PYTHONMALLOCSTATS'
 * format), written to `out`; IH_INTERNAL when writing fails. */
int ih_interp_print_stats(FILE* out, ih_interp_t* interp, ih_status_t* status);
int ih_print_stats(FILE* out, ih_status_t* status);
/* Writes the current interpreter's pymalloc stats table (CPython's format)
 * to file descriptor `fd`, or its JSON form when `json` is nonzero. */
int ih_write_stats(int fd, int json, ih_status_t* status);

/* Checks pymalloc's invariants (alloc/pymalloc/pymalloc.h) over one
 * interpreter's heap, or over every heap of the process; same rules as
 * ih_interp_get_stats and ih_get_stats. IH_INTERNAL when one is broken: the
 * message names the heap's interpreter and the invariant. */
int ih_interp_validate_heap(ih_interp_t* interp, ih_status_t* status);
int ih_validate_heaps(ih_status_t* status);

/* ---- Debug hooks, fatal errors ---- */
/* Wraps CPython's debug hooks over every domain that has none (idempotent).
 * `serial_numbers` nonzero adds the serial-number word. Allowed when
 * pre-initialized or initialized, whatever is live: hooks set up after
 * initialization pass a block they never handed out down to the allocator
 * below. */
int ih_setup_debug_hooks(int serial_numbers, ih_status_t* status);
/* Called with CPython's function name and message before the process
 * aborts on a fatal error; NULL restores the default (stderr). */
typedef void (*ih_fatal_handler_t)(const char* function, const char* message);
ih_fatal_handler_t ih_set_fatal_handler(ih_fatal_handler_t handler);
/* How the mem/obj debug hooks decide "the caller holds its interpreter's
 * lock" (a CPython host passes one that asks PyGILState_Check); NULL
 * restores the default (the current interpreter's lock). */
typedef int (*ih_lock_held_predicate_t)(void);
void ih_set_lock_held_predicate(ih_lock_held_predicate_t predicate);

/* ---- tracemalloc (CPython's tracemalloc module and PyTraceMalloc_*) ---- */
/* Traces every allocation of the three domains in trace domain 0, with up
 * to `nframe` (1..65535) native return addresses, most recent first, of
 * which at most IH_TRACEMALLOC_MAX_FRAMES are kept. IH_INVALID_ARGUMENT for
 * a bad nframe (CPython's message). Already tracing: nothing changes. */
#define IH_TRACEMALLOC_MAX_FRAMES 64
int ih_tracemalloc_start(int nframe, ih_status_t* status);
/* Stops tracing and forgets every trace. */
int ih_tracemalloc_stop(ih_status_t* status);
int ih_tracemalloc_is_tracing(void);
/* The nframe of the last start (1 before any), as
 * tracemalloc.get_traceback_limit(). */
int ih_tracemalloc_get_traceback_limit(void);
/* 0 on success, -1 if the trace cannot be stored, -2 if not tracing. */
int ih_tracemalloc_track(unsigned int domain, uintptr_t ptr, size_t size);
/* 0, or -2 if not tracing. */
int ih_tracemalloc_untrack(unsigned int domain, uintptr_t ptr);
/* tracemalloc.get_traced_memory(): the bytes of every trace (all trace
 * domains) now, and their peak since tracing started or the last reset or
 * clear; 0 and 0 when not tracing. Either pointer may be NULL. */
void ih_tracemalloc_get_traced_memory(size_t* current, size_t* peak);
/* tracemalloc.reset_peak(): the peak becomes the current size. */
void ih_tracemalloc_reset_peak(void);
/* tracemalloc.clear_traces(): forgets every trace (current and peak go to
 * 0) and keeps tracing. Neither does anything when not tracing. */
void ih_tracemalloc_clear_traces(void);
/* The traceback of the trace of (domain, ptr) (CPython's
 * _PyTraceMalloc_GetTraceback; trace domain 0 holds the traced allocations,
 * keyed by the block's address): *nframes gets its number of frames, and
 * the first min(*nframes, capacity) return addresses are copied to
 * `frames`, most recent call first. IH_FAILED_PRECONDITION when not
 * tracing, IH_NOT_FOUND when (domain, ptr) has no trace,
 * IH_INVALID_ARGUMENT for a NULL nframes (or NULL frames with a capacity). */
int ih_tracemalloc_get_traceback(unsigned int domain, uintptr_t ptr,
                                 void** frames, size_t capacity,
                                 size_t* nframes, ih_status_t* status);

/* ---- Fault injection (CPython's _testcapi.set_nomemory) ---- */
/* Allocation calls whose count is in (start, stop] fail; stop 0: no end.
 * malloc, calloc and realloc calls of every domain are counted together
 * (a mem/obj call that pymalloc hands to raw counts twice); free never
 * fails. Setting again resets the count. */
int ih_set_nomemory(int64_t start, int64_t stop, ih_status_t* status);
int ih_remove_nomemory(ih_status_t* status);
/* Allocation calls counted, and of those the ones made to fail, since the
 * last ih_set_nomemory (0 before any; kept after ih_remove_nomemory). */
int64_t ih_nomemory_call_count(void);
int64_t ih_nomemory_failure_count(void);

/* ---- Interpreters ---- */
/* ih_interp_t, an interpreter handle, is declared with the status type
 * above. */

/* The lock that serializes an interpreter's mem and obj calls. MAIN and OWN
 * keep the values of the former `own_lock` flag (0 and 1). */
typedef enum ih_lock_kind {
  IH_LOCK_MAIN = 0, /* the main interpreter's lock, taken by attaching */
  IH_LOCK_OWN = 1,  /* its own lock, taken by attaching */
  /* The host's lock (for CPython: the GIL). interpheap never takes it: the
   * host holds it around every mem/obj call, attaching takes no lock, and
   * "held" (the debug hooks' check) asks `host_lock_held`. */
  IH_LOCK_HOST = 2
} ih_lock_kind_t;

/* Nonzero when the calling thread holds the host's lock. Must not call
 * interpheap. */
typedef int (*ih_host_lock_held_t)(void* ctx);

typedef struct ih_interp_config {
  int lock;     /* an ih_lock_kind_t */
  int own_heap; /* nonzero: own heap; 0: the main interpreter's */
  /* IH_LOCK_HOST only, and then required; called with host_lock_ctx. */
  ih_host_lock_held_t host_lock_held;
  void* host_lock_ctx;
} ih_interp_config_t;

/* NULL config means own lock and own heap. NULL on failure: the own or host
 * lock without own_heap, a host lock without predicate (or a predicate with
 * another lock). */
ih_interp_t* ih_interp_create(const ih_interp_config_t* config,
                              ih_status_t* status);
int ih_interp_destroy(ih_interp_t* interp, ih_status_t* status);
ih_interp_t* ih_interp_main(void);
int64_t ih_interp_id(const ih_interp_t* interp);

/* Attach takes the interpreter's lock, detach releases it (neither takes
 * nor releases a host lock). Destroying a host-locked interpreter requires
 * holding the host's lock. */
int ih_thread_attach(ih_interp_t* interp, ih_status_t* status);
int ih_thread_detach(ih_status_t* status);
/* The calling thread's interpreter, or NULL. */
ih_interp_t* ih_thread_current(void);
/* 1 if the calling thread is attached and holds its interpreter's lock (for
 * a host lock: the host's predicate says so). */
int ih_thread_lock_held(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* INTERPHEAP_API_INTERPHEAP_H_ */
