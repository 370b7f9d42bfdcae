/* api/interpheap.h: the C API of interpheap (C11 and C++).
 *
 * Every name starts with ih_ / IH_, so it never collides with CPython's
 * exported symbols. Data-plane calls (ih_{raw,mem,obj}_{malloc,calloc,
 * realloc,free}) follow CPython's PyMem_* rules and never fail with a
 * status. Control-plane calls return an ih_code (IH_OK == 0) and, when
 * `status` is not NULL, fill it with the code and a message the caller can
 * print. The C++ API is the same core: alloc/domain.h, interp/runtime.h,
 * interp/thread_state.h.
 */

#ifndef INTERPHEAP_API_INTERPHEAP_H_
#define INTERPHEAP_API_INTERPHEAP_H_

#include <stddef.h>
#include <stdint.h>

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

/* Status codes; the values are absl::StatusCode's. */
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
 * hook), then installs `hook` above it. */
int ih_wrap_allocator(ih_domain_t domain, const ih_allocator_t* hook,
                      ih_allocator_t* previous, ih_status_t* status);
/* `hook` must be the outermost layer (LIFO). */
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
 * interpreter's heap; -1 (and *status filled) when not attached or when the
 * interpreter shares main's heap. */
int64_t ih_allocated_blocks(ih_status_t* status);
/* Every live heap's blocks plus blocks leaked by destroyed interpreters. */
int64_t ih_global_allocated_blocks(void);
/* Writes the current interpreter's pymalloc stats table (CPython's format)
 * to file descriptor `fd`, or its JSON form when `json` is nonzero. */
int ih_write_stats(int fd, int json, ih_status_t* status);

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

/* ---- tracemalloc (CPython's PyTraceMalloc_* return codes) ---- */
int ih_tracemalloc_start(int nframe, ih_status_t* status);
int ih_tracemalloc_stop(ih_status_t* status);
int ih_tracemalloc_is_tracing(void);
/* 0 on success, -1 if the trace cannot be stored, -2 if not tracing. */
int ih_tracemalloc_track(unsigned int domain, uintptr_t ptr, size_t size);
/* 0, or -2 if not tracing. */
int ih_tracemalloc_untrack(unsigned int domain, uintptr_t ptr);

/* ---- Fault injection (CPython's _testcapi.set_nomemory) ---- */
/* Allocation calls whose count is in (start, stop] fail; stop 0: no end. */
int ih_set_nomemory(int64_t start, int64_t stop, ih_status_t* status);
int ih_remove_nomemory(ih_status_t* status);

/* ---- Interpreters ---- */
/* An interpreter handle: opaque, unique in the process, never reused. A
 * destroyed interpreter's handle is refused (IH_NOT_FOUND; ih_interp_id
 * returns -1), even after new interpreters are made. */
typedef struct ih_interp ih_interp_t;

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
