/* The C API used from C11: lifecycle, the three domains' edge cases, wrap
 * and unwrap, interpreters, attach/detach and refusals with messages.
 * Prints one line per check and "N passed, N failed"; exits 1 on failure. */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "interpheap/interpheap.h"
#include "tests/api/c_check.h"

static int host_lock_held = 0;
static int HostLockHeld(void* ctx) { return *(int*)ctx; }

/* A minimal pass-through hook (C++ code uses alloc/hooks/forwarding_hook.h):
 * counts mallocs and forwards every call. */
static long hook_calls = 0;
static ih_allocator_t hook_previous;
static void* HookMalloc(void* ctx, size_t size) {
  (void)ctx;
  ++hook_calls;
  return hook_previous.malloc(hook_previous.ctx, size);
}
static void* HookCalloc(void* ctx, size_t nelem, size_t elsize) {
  (void)ctx;
  return hook_previous.calloc(hook_previous.ctx, nelem, elsize);
}
static void* HookRealloc(void* ctx, void* ptr, size_t size) {
  (void)ctx;
  return hook_previous.realloc(hook_previous.ctx, ptr, size);
}
static void HookFree(void* ctx, void* ptr) {
  (void)ctx;
  hook_previous.free(hook_previous.ctx, ptr);
}

typedef void* (*MallocFn)(size_t);
typedef void* (*CallocFn)(size_t, size_t);
typedef void* (*ReallocFn)(void*, size_t);
typedef void (*FreeFn)(void*);

static void CheckDomain(MallocFn m, CallocFn c, ReallocFn r, FreeFn f) {
  void* a = m(0);
  void* b = m(0);
  CHECK(a != NULL && b != NULL && a != b);
  CHECK(c((size_t)-1 / 2, 3) == NULL);
  CHECK(m((size_t)PTRDIFF_MAX + 1) == NULL);
  char* p = r(NULL, 10);
  CHECK(p != NULL);
  memcpy(p, "interpheap", 10);
  char* q = r(p, 1000);
  CHECK(q != NULL && memcmp(q, "interpheap", 10) == 0);
  CHECK(r(q, (size_t)PTRDIFF_MAX + 1) == NULL);
  CHECK(memcmp(q, "interpheap", 10) == 0);
  void* z = r(q, 0);
  CHECK(z != NULL);
  f(z);
  f(NULL);
  f(a);
  f(b);
}

int main(void) {
  ih_status_t status;

  /* Raw works before anything else. */
  CHECK(ih_runtime_state() == IH_RUNTIME_UNINITIALIZED);
  CheckDomain(ih_raw_malloc, ih_raw_calloc, ih_raw_realloc, ih_raw_free);

  /* An unknown configuration name is refused with the valid names. */
  CHECK(ih_runtime_pre_initialize("bogus", &status) == IH_INVALID_ARGUMENT);
  CHECK(strstr(status.message, "'bogus'") != NULL);
  CHECK(strstr(status.message, "pymalloc_debug") != NULL);
  CHECK(ih_runtime_state() == IH_RUNTIME_UNINITIALIZED);

  CHECK(ih_runtime_pre_initialize("malloc", &status) == IH_OK);
  CHECK(status.code == IH_OK && status.message[0] == '\0');
  CHECK(strcmp(ih_current_configuration_name(), "malloc") == 0);
  CHECK(ih_runtime_apply_configuration("pymalloc", &status) == IH_OK);
  CHECK(strcmp(ih_current_configuration_name(), "pymalloc") == 0);
  ih_arena_allocator_t arenas;
  ih_get_arena_allocator(&arenas);
  CHECK(arenas.alloc != NULL && arenas.free != NULL);
  CHECK(ih_set_arena_allocator(&arenas, &status) == IH_OK);
  CHECK(ih_runtime_initialize(&status) == IH_OK);
  CHECK(strcmp(ih_runtime_state_name(ih_runtime_state()), "kInitialized") == 0);

  /* Replace after init is refused and names the state and the rule. */
  ih_allocator_t current;
  ih_get_allocator(IH_DOMAIN_MEM, &current);
  CHECK(ih_replace_allocator(IH_DOMAIN_MEM, &current, &status) ==
        IH_FAILED_PRECONDITION);
  CHECK(strstr(status.message, "runtime is kInitialized") != NULL);
  CHECK(ih_replace_allocator((ih_domain_t)7, &current, &status) ==
        IH_INVALID_ARGUMENT);

  /* Wrap: the hook gets the previous allocator and sees calls. */
  ih_allocator_t hook = {NULL, HookMalloc, HookCalloc, HookRealloc, HookFree};
  CHECK(ih_wrap_allocator(IH_DOMAIN_MEM, &hook, &hook_previous, &status) ==
        IH_OK);
  CHECK(hook_previous.malloc == current.malloc);
  CHECK(ih_current_configuration_name() == NULL);

  ih_interp_t* main_interp = ih_interp_main();
  CHECK(main_interp != NULL && ih_interp_id(main_interp) == 0);
  CHECK(ih_thread_lock_held() == 0);
  CHECK(ih_allocated_blocks(&status) == -1);
  CHECK(status.code == IH_FAILED_PRECONDITION);
  CHECK(ih_thread_attach(main_interp, &status) == IH_OK);
  CHECK(ih_thread_current() == main_interp);
  CHECK(ih_thread_lock_held() == 1);
  CheckDomain(ih_mem_malloc, ih_mem_calloc, ih_mem_realloc, ih_mem_free);
  CheckDomain(ih_obj_malloc, ih_obj_calloc, ih_obj_realloc, ih_obj_free);
  CHECK(hook_calls > 0);
  int64_t before = ih_allocated_blocks(&status);
  CHECK(before >= 0);
  void* kept = ih_obj_malloc(24);
  CHECK(ih_allocated_blocks(&status) == before + 1);
  CHECK(ih_global_allocated_blocks() >= before + 1);
  CHECK(ih_write_stats(2, 0, &status) == IH_OK);
  ih_obj_free(kept);
  CHECK(ih_set_arena_allocator(&arenas, &status) == IH_FAILED_PRECONDITION);

  /* tracemalloc through C: CPython's return codes. */
  CHECK(ih_tracemalloc_track(5, 0x1000, 123) == -2);
  CHECK(ih_tracemalloc_start(0, &status) == IH_INVALID_ARGUMENT);
  CHECK(strcmp(status.message,
               "the number of frames must be in range [1; 65535]") == 0);
  CHECK(ih_tracemalloc_start(5, &status) == IH_OK);
  CHECK(ih_tracemalloc_is_tracing() == 1);
  CHECK(ih_tracemalloc_track(5, 0x1000, 123) == 0);
  CHECK(ih_tracemalloc_untrack(5, 0x1000) == 0);
  CHECK(ih_tracemalloc_stop(&status) == IH_OK);
  CHECK(ih_tracemalloc_untrack(5, 0x1000) == -2);

  /* Fault injection through C. */
  CHECK(ih_set_nomemory(0, 1, &status) == IH_OK);
  CHECK(ih_obj_malloc(10) == NULL);
  void* after = ih_obj_malloc(10);
  CHECK(after != NULL);
  ih_obj_free(after);
  CHECK(ih_remove_nomemory(&status) == IH_OK);
  CHECK(ih_remove_nomemory(&status) == IH_OK);
  CHECK(ih_thread_detach(&status) == IH_OK);
  CHECK(ih_unwrap_allocator(IH_DOMAIN_MEM, &hook, &status) == IH_OK);
  CHECK(ih_unwrap_allocator(IH_DOMAIN_MEM, &hook, &status) ==
        IH_FAILED_PRECONDITION);

  /* Interpreters. */
  ih_interp_config_t bad = {1, 0, NULL, NULL};
  CHECK(ih_interp_create(&bad, &status) == NULL);
  CHECK(status.code == IH_INVALID_ARGUMENT);
  ih_interp_config_t no_predicate = {IH_LOCK_HOST, 1, NULL, NULL};
  CHECK(ih_interp_create(&no_predicate, &status) == NULL);
  CHECK(status.code == IH_INVALID_ARGUMENT);
  ih_interp_config_t unknown_kind = {7, 1, NULL, NULL};
  CHECK(ih_interp_create(&unknown_kind, &status) == NULL);
  CHECK(status.code == IH_INVALID_ARGUMENT);

  /* A host-locked interpreter: attaching takes no lock; "held" is the
   * host's predicate. */
  ih_interp_config_t host_config = {IH_LOCK_HOST, 1, HostLockHeld,
                                    &host_lock_held};
  ih_interp_t* hosted = ih_interp_create(&host_config, &status);
  CHECK(hosted != NULL);
  CHECK(ih_thread_attach(hosted, &status) == IH_OK);
  CHECK(ih_thread_lock_held() == 0);
  host_lock_held = 1;
  CHECK(ih_thread_lock_held() == 1);
  void* hosted_block = ih_obj_malloc(24);
  CHECK(hosted_block != NULL);
  ih_obj_free(hosted_block);
  CHECK(ih_thread_detach(&status) == IH_OK);
  host_lock_held = 0;
  CHECK(ih_interp_destroy(hosted, &status) == IH_FAILED_PRECONDITION);
  host_lock_held = 1;
  CHECK(ih_interp_destroy(hosted, &status) == IH_OK);
  host_lock_held = 0;
  ih_interp_t* sub = ih_interp_create(NULL, &status);
  CHECK(sub != NULL && ih_interp_id(sub) > 0);
  CHECK(ih_runtime_finalize(&status) == IH_FAILED_PRECONDITION);
  CHECK(ih_interp_destroy(sub, &status) == IH_OK);
  CHECK(ih_interp_destroy(sub, &status) == IH_NOT_FOUND);
  /* A destroyed interpreter's handle stays refused after new ones exist. */
  ih_interp_t* next = ih_interp_create(NULL, &status);
  CHECK(next != NULL && next != sub);
  CHECK(ih_thread_attach(sub, &status) == IH_NOT_FOUND);
  CHECK(ih_thread_current() == NULL);
  CHECK(ih_interp_id(sub) == -1);
  CHECK(ih_interp_destroy(sub, &status) == IH_NOT_FOUND);
  CHECK(ih_interp_id(next) > 0);
  CHECK(ih_thread_attach(next, &status) == IH_OK);
  CHECK(ih_thread_current() == next);
  CHECK(ih_thread_detach(&status) == IH_OK);
  CHECK(ih_interp_destroy(next, &status) == IH_OK);

  CHECK(ih_runtime_finalize(&status) == IH_OK);
  CHECK(ih_runtime_state() == IH_RUNTIME_FINALIZED);
  CheckDomain(ih_raw_malloc, ih_raw_calloc, ih_raw_realloc, ih_raw_free);
  CHECK(ih_runtime_reset(NULL) == IH_OK);

  return CheckSummary();
}
