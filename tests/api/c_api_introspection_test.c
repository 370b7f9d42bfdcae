/* The C API's introspection calls used from C11: tracemalloc's traced
 * memory, peak, clear and tracebacks; stats as data and as CPython's table,
 * per interpreter and for the process; block and remote-free counts of any
 * interpreter; ih_mem_new / ih_mem_resize / ih_mem_del; the ownership
 * query; heap validation; the fault-injection counters; and every status
 * code the header declares, each produced through the API.
 * Prints "N passed, N failed"; exits 1 on failure. */

#define _POSIX_C_SOURCE 200809L /* fileno */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interpheap/interpheap.h"
#include "tests/api/c_check.h"

/* Codes seen so far, indexed by value (every one must be seen). */
static int seen_code[16];
static int Saw(int code) {
  if (code >= 0 && code < 16) seen_code[code] = 1;
  return code;
}

static ih_status_t st;

static void Attach(ih_interp_t* interp) {
  CHECK(ih_thread_attach(interp, &st) == IH_OK);
}
static void Detach(void) { CHECK(ih_thread_detach(&st) == IH_OK); }

static int64_t Blocks(ih_interp_t* interp) {
  return ih_interp_allocated_blocks(interp, &st);
}
static int64_t RemoteFrees(ih_interp_t* interp) {
  return ih_interp_remote_frees(interp, &st);
}

/* The whole content of `f`, NUL-terminated, in `buffer`. */
static size_t ReadBack(FILE* f, char* buffer, size_t size) {
  rewind(f);
  const size_t n = fread(buffer, 1, size - 1, f);
  buffer[n] = '\0';
  return n;
}

/* The data's own sums and the class sizes. */
static void CheckConsistent(const ih_stats_t* s) {
  size_t in_use = 0, free_blocks = 0, bytes = 0, available = 0;
  int sizes_ok = 1;
  for (int c = 0; c < IH_SIZE_CLASS_COUNT; ++c) {
    const ih_size_class_stats_t* k = &s->classes[c];
    if (k->block_size != (size_t)(c + 1) * 16) sizes_ok = 0;
    in_use += k->blocks_in_use;
    free_blocks += k->free_blocks;
    bytes += k->blocks_in_use * k->block_size;
    available += k->free_blocks * k->block_size;
  }
  CHECK(sizes_ok);
  CHECK(in_use == s->blocks_in_use);
  CHECK(free_blocks == s->free_blocks);
  CHECK(bytes == s->bytes_in_allocated_blocks);
  CHECK(available == s->bytes_in_available_blocks);
  CHECK(s->arenas_allocated_total == s->arenas_current + s->arenas_reclaimed);
  CHECK(s->arenas_highwater >= s->arenas_current);
}

/* ih_mem_new / ih_mem_resize / ih_mem_del, attached. */
static void TestMemMacros(void) {
  int* xs = ih_mem_new(int, 10);
  CHECK(xs != NULL);
  if (xs == NULL) return;
  for (int i = 0; i < 10; ++i) xs[i] = i * 7;
  int* old = xs;
  /* Overflow: NULL assigned to the pointer, the old block untouched. */
  CHECK(ih_mem_resize(xs, int, (size_t)PTRDIFF_MAX) == NULL);
  CHECK(xs == NULL);
  int intact = 1;
  for (int i = 0; i < 10; ++i) intact &= old[i] == i * 7;
  CHECK(intact);
  xs = old;
  CHECK(ih_mem_resize(xs, int, 1000) != NULL);
  CHECK(xs != NULL);
  if (xs == NULL) {
    ih_mem_del(old);
    return;
  }
  intact = 1;
  for (int i = 0; i < 10; ++i) intact &= xs[i] == i * 7;
  CHECK(intact);
  xs[999] = 42;
  ih_mem_del(xs);
  CHECK(ih_mem_new(int, (size_t)-1 / 2) == NULL);
  CHECK(ih_mem_new(char, (size_t)PTRDIFF_MAX + 1) == NULL);
  CHECK(ih_mem_new(double, -1) == NULL); /* a negative count wraps: refused */
  char* empty = ih_mem_new(char, 0);     /* PyMem_New(char, 0): a block */
  CHECK(empty != NULL);
  ih_mem_del(empty);
  ih_mem_del(NULL);
}

/* ih_pymalloc_owns, attached to main; `other` has its own heap. */
static void TestOwnership(ih_interp_t* main_interp, ih_interp_t* other) {
  void* small = ih_obj_malloc(16);
  void* mem_small = ih_mem_malloc(512);
  void* big = ih_mem_malloc(1000); /* > 512: raw's */
  void* raw = ih_raw_malloc(16);
  void* libc = malloc(16);
  int local = 0;
  CHECK(ih_pymalloc_owns(small) == 1);
  CHECK(ih_pymalloc_owns((char*)small + 15) == 1);
  CHECK(ih_pymalloc_owns(mem_small) == 1);
  CHECK(ih_pymalloc_owns(big) == 0);
  CHECK(ih_pymalloc_owns(raw) == 0);
  CHECK(ih_pymalloc_owns(libc) == 0);
  CHECK(ih_pymalloc_owns(&local) == 0);
  CHECK(ih_pymalloc_owns(NULL) == 0);
  free(libc);
  ih_raw_free(raw);
  ih_mem_free(big);
  ih_mem_free(mem_small);
  ih_obj_free(small);
  /* Process-wide: another interpreter's block is pymalloc's too. */
  Detach();
  Attach(other);
  void* theirs = ih_obj_malloc(64);
  Detach();
  Attach(main_interp);
  CHECK(ih_pymalloc_owns(theirs) == 1);
  ih_obj_free(theirs); /* a cross-interpreter free */
}

/* tracemalloc, attached. */
static void TestTracemalloc(void) {
  void* frames[IH_TRACEMALLOC_MAX_FRAMES];
  void* first[1];
  size_t n = 0, n1 = 0;
  size_t cur0, peak0, cur, peak;
  int local = 0;

  CHECK(Saw(ih_tracemalloc_get_traceback(0, 0x1000, frames, 8, &n, &st)) ==
        IH_FAILED_PRECONDITION);
  CHECK(strstr(st.message, "not tracing") != NULL);
  ih_tracemalloc_reset_peak(); /* not tracing: nothing */
  ih_tracemalloc_clear_traces();
  CHECK(ih_tracemalloc_start(5, &st) == IH_OK);
  CHECK(ih_tracemalloc_get_traceback_limit() == 5);
  ih_tracemalloc_get_traced_memory(&cur0, &peak0);
  CHECK(peak0 >= cur0);

  /* Traced memory grows by the sizes allocated. */
  void* p = ih_mem_malloc(1000);
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == cur0 + 1000);
  CHECK(peak >= cur);
  void* q = ih_obj_malloc(24);
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == cur0 + 1024);
  const size_t high = peak;
  CHECK(high >= cur0 + 1024);

  /* The traceback of a traced block: 1..5 return addresses. */
  CHECK(ih_tracemalloc_get_traceback(0, (uintptr_t)p, frames,
                                     IH_TRACEMALLOC_MAX_FRAMES, &n,
                                     &st) == IH_OK);
  CHECK(st.code == IH_OK && st.message[0] == '\0');
  CHECK(n >= 1 && n <= 5);
  int nonnull = 1;
  for (size_t i = 0; i < n && i < IH_TRACEMALLOC_MAX_FRAMES; ++i) {
    nonnull &= frames[i] != NULL;
  }
  CHECK(nonnull);
  /* A smaller array gets the most recent frames; the count stays. */
  CHECK(ih_tracemalloc_get_traceback(0, (uintptr_t)p, first, 1, &n1, &st) ==
        IH_OK);
  CHECK(n1 == n && first[0] == frames[0]);
  CHECK(ih_tracemalloc_get_traceback(0, (uintptr_t)p, NULL, 0, &n1, &st) ==
        IH_OK);
  CHECK(n1 == n);
  CHECK(ih_tracemalloc_get_traceback(0, (uintptr_t)p, frames, 4, NULL, &st) ==
        IH_INVALID_ARGUMENT);
  CHECK(strstr(st.message, "nframes is NULL") != NULL);
  CHECK(ih_tracemalloc_get_traceback(0, (uintptr_t)p, NULL, 4, &n1, &st) ==
        IH_INVALID_ARGUMENT);
  CHECK(Saw(ih_tracemalloc_get_traceback(0, (uintptr_t)&local, frames, 4, &n1,
                                         &st)) == IH_NOT_FOUND);
  CHECK(strstr(st.message, "no trace of") != NULL);
  CHECK(ih_tracemalloc_get_traceback(3, (uintptr_t)p, frames, 4, &n1, &st) ==
        IH_NOT_FOUND); /* another trace domain */

  /* A free lowers the current size; the peak survives it. */
  ih_mem_free(p);
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == cur0 + 24);
  CHECK(peak == high);
  ih_tracemalloc_reset_peak();
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(peak == cur);
  CHECK(peak < high);

  /* Track / untrack count in traced memory too (any trace domain). */
  CHECK(ih_tracemalloc_track(7, 0x5000, 300) == 0);
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == cur0 + 24 + 300 && peak == cur);
  CHECK(ih_tracemalloc_get_traceback(7, 0x5000, frames, 5, &n, &st) == IH_OK);
  CHECK(n >= 1);
  CHECK(ih_tracemalloc_track(7, 0x5000, 100) == 0); /* replaces */
  ih_tracemalloc_get_traced_memory(&cur, NULL);
  CHECK(cur == cur0 + 24 + 100);
  CHECK(ih_tracemalloc_untrack(7, 0x5000) == 0);
  ih_tracemalloc_get_traced_memory(&cur, NULL);
  CHECK(cur == cur0 + 24);

  /* Clear: no trace left, both sizes 0, still tracing. */
  ih_tracemalloc_clear_traces();
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == 0 && peak == 0);
  CHECK(ih_tracemalloc_is_tracing() == 1);
  CHECK(ih_tracemalloc_get_traceback(0, (uintptr_t)q, frames, 4, &n, &st) ==
        IH_NOT_FOUND);
  void* r = ih_obj_malloc(40);
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == 40 && peak == 40);
  ih_obj_free(q); /* untraced since the clear: no change */
  ih_tracemalloc_get_traced_memory(&cur, NULL);
  CHECK(cur == 40);
  ih_obj_free(r);
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == 0 && peak == 40);

  /* Stop: nothing traced; the limit stays the last start's. */
  CHECK(ih_tracemalloc_stop(&st) == IH_OK);
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == 0 && peak == 0);
  CHECK(ih_tracemalloc_get_traceback_limit() == 5);
  /* nframe 1: one frame per traceback. */
  CHECK(ih_tracemalloc_start(1, &st) == IH_OK);
  CHECK(ih_tracemalloc_get_traceback_limit() == 1);
  void* one = ih_obj_malloc(8);
  CHECK(ih_tracemalloc_get_traceback(0, (uintptr_t)one, frames, 4, &n, &st) ==
        IH_OK);
  CHECK(n == 1);
  ih_obj_free(one);
  CHECK(ih_tracemalloc_stop(&st) == IH_OK);
}

/* One interpreter's stats, attached to main. */
static void TestInterpreterStats(ih_interp_t* main_interp) {
  ih_stats_t s0, s1;
  CHECK(ih_interp_get_stats(main_interp, &s0, &st) == IH_OK);
  CheckConsistent(&s0);
  CHECK(s0.heaps == 1);
  CHECK(s0.arenas_current >= 1);
  CHECK(s0.allocated_blocks == ih_allocated_blocks(&st));
  void* small = ih_obj_malloc(24); /* class 1: 32-byte blocks */
  void* big = ih_mem_malloc(1000); /* a raw fallback block */
  CHECK(ih_interp_get_stats(main_interp, &s1, &st) == IH_OK);
  CheckConsistent(&s1);
  CHECK(s1.classes[1].blocks_in_use == s0.classes[1].blocks_in_use + 1);
  CHECK(s1.blocks_in_use == s0.blocks_in_use + 1);
  CHECK(s1.allocated_blocks == s0.allocated_blocks + 2);
  CHECK(s1.allocated_blocks == ih_allocated_blocks(&st));
  CHECK(s1.allocated_blocks - (int64_t)s1.blocks_in_use ==
        s0.allocated_blocks - (int64_t)s0.blocks_in_use + 1);

  /* The printed table is ih_write_stats' table, CPython's format. */
  static char printed[16384], written[16384];
  FILE* a = tmpfile();
  FILE* b = tmpfile();
  CHECK(a != NULL && b != NULL);
  if (a != NULL && b != NULL) {
    CHECK(ih_interp_print_stats(a, main_interp, &st) == IH_OK);
    CHECK(ih_write_stats(fileno(b), 0, &st) == IH_OK);
    CHECK(ReadBack(a, printed, sizeof(printed)) > 0);
    ReadBack(b, written, sizeof(written));
    CHECK(strcmp(printed, written) == 0);
    CHECK(strncmp(printed,
                  "Small block threshold = 512, in 32 size classes.\n\n"
                  "class   size   num pools   blocks in use  avail blocks\n",
                  100) == 0);
    char row[64];
    snprintf(row, sizeof(row), "\n    1     32 %11zu %15zu %13zu\n",
             s1.classes[1].pools, s1.classes[1].blocks_in_use,
             s1.classes[1].free_blocks);
    CHECK(strstr(printed, row) != NULL);
  }
  if (a != NULL) fclose(a);
  if (b != NULL) fclose(b);
  ih_mem_free(big);
  ih_obj_free(small);

  /* The process's numbers need every interpreter's lock: not attached. */
  CHECK(Saw(ih_get_stats(&s1, &st)) == IH_FAILED_PRECONDITION);
  CHECK(strstr(st.message, "detach first") != NULL);
  CHECK(ih_print_stats(stdout, &st) == IH_FAILED_PRECONDITION);
  CHECK(ih_validate_heaps(&st) == IH_FAILED_PRECONDITION);
  CHECK(ih_interp_validate_heap(main_interp, &st) == IH_OK);
}

/* Counts, stats and remote frees of several interpreters, not attached. */
static void TestInterpreters(ih_interp_t* main_interp) {
  ih_interp_t* a = ih_interp_create(NULL, &st);
  ih_interp_t* b = ih_interp_create(NULL, &st);
  ih_interp_config_t shared_config = {IH_LOCK_MAIN, 0, NULL, NULL};
  ih_interp_t* s = ih_interp_create(&shared_config, &st);
  CHECK(a != NULL && b != NULL && s != NULL);
  if (a == NULL || b == NULL || s == NULL) return;

  /* A shared-heap interpreter reports its heap's count: main's. */
  const int64_t main0 = Blocks(main_interp);
  CHECK(main0 >= 0 && Blocks(s) == main0);
  const int64_t a0 = Blocks(a), b0 = Blocks(b);
  CHECK(a0 >= 0 && b0 >= 0);
  void* a_blocks[3];
  void* b_blocks[5];
  Attach(a);
  for (int i = 0; i < 3; ++i) a_blocks[i] = ih_obj_malloc(16 + 200 * i);
  CHECK(ih_allocated_blocks(&st) == a0 + 3);
  Detach();
  Attach(b);
  for (int i = 0; i < 5; ++i) b_blocks[i] = ih_obj_malloc(48);
  Detach();
  Attach(s);
  void* s_block = ih_obj_malloc(32);
  CHECK(ih_allocated_blocks(&st) == -1); /* no heap of its own */
  CHECK(Blocks(s) == main0 + 1);         /* exact: its lock is held */
  Detach();
  CHECK(Blocks(a) == a0 + 3);
  CHECK(Blocks(b) == b0 + 5);
  CHECK(Blocks(a) != Blocks(b));
  CHECK(Blocks(main_interp) == main0 + 1);
  CHECK(Blocks(s) == Blocks(main_interp));

  /* Stats of any interpreter from an unattached thread. */
  ih_stats_t sa, sb, sm, ss, all;
  CHECK(ih_interp_get_stats(a, &sa, &st) == IH_OK);
  CHECK(ih_interp_get_stats(b, &sb, &st) == IH_OK);
  CHECK(ih_interp_get_stats(main_interp, &sm, &st) == IH_OK);
  CHECK(ih_interp_get_stats(s, &ss, &st) == IH_OK);
  CheckConsistent(&sa);
  CHECK(sa.allocated_blocks == a0 + 3 && sa.blocks_in_use >= 3);
  CHECK(sb.allocated_blocks == b0 + 5 && sb.classes[2].blocks_in_use >= 5);
  CHECK(ss.allocated_blocks == sm.allocated_blocks);
  CHECK(ss.blocks_in_use == sm.blocks_in_use);
  CHECK(ih_thread_current() == NULL); /* the calls attached and detached */
  /* The process: main's heap (shared by s), a's and b's. */
  CHECK(ih_get_stats(&all, &st) == IH_OK);
  CheckConsistent(&all);
  CHECK(all.heaps == 3);
  CHECK(all.blocks_in_use ==
        sm.blocks_in_use + sa.blocks_in_use + sb.blocks_in_use);
  CHECK(all.arenas_current ==
        sm.arenas_current + sa.arenas_current + sb.arenas_current);
  CHECK(all.allocated_blocks == ih_global_allocated_blocks());
  CHECK(ih_validate_heaps(&st) == IH_OK);
  CHECK(ih_interp_validate_heap(a, &st) == IH_OK);
  static char text[16384];
  FILE* f = tmpfile();
  CHECK(f != NULL);
  if (f != NULL) {
    CHECK(ih_print_stats(f, &st) == IH_OK);
    ReadBack(f, text, sizeof(text));
    char line[128];
    snprintf(line, sizeof(line), "%-35s=%21zu\n", "# arenas allocated current",
             all.arenas_current);
    CHECK(strstr(text, line) != NULL);
    /* The three heaps' byte lines add up to their arenas' size. */
    char digits[32], total[32];
    snprintf(digits, sizeof(digits), "%zu", all.arenas_current * 1048576);
    size_t len = strlen(digits), j = 0;
    for (size_t i = 0; i < len; ++i) {
      if (i > 0 && (len - i) % 3 == 0) total[j++] = ',';
      total[j++] = digits[i];
    }
    total[j] = '\0';
    snprintf(line, sizeof(line), "\n%-35s=%21s\n", "Total", total);
    CHECK(strstr(text, line) != NULL);
    fclose(f);
  }

  /* Attached to a: only a's heap is within reach. */
  Attach(a);
  CHECK(ih_interp_get_stats(a, &sa, &st) == IH_OK);
  CHECK(ih_interp_get_stats(b, &sb, &st) == IH_FAILED_PRECONDITION);
  CHECK(strstr(st.message, "detach first") != NULL);
  CHECK(ih_interp_validate_heap(b, &st) == IH_FAILED_PRECONDITION);
  CHECK(Blocks(b) == b0 + 5); /* a count needs no lock */
  Detach();
  /* Attached to s: main's heap is s's heap. */
  Attach(s);
  CHECK(ih_interp_get_stats(main_interp, &sm, &st) == IH_OK);
  Detach();
  /* An own heap under main's lock: attached to main, that lock is held. */
  ih_interp_config_t main_lock_config = {IH_LOCK_MAIN, 1, NULL, NULL};
  ih_interp_t* m = ih_interp_create(&main_lock_config, &st);
  CHECK(m != NULL);
  Attach(main_interp);
  ih_stats_t sml;
  CHECK(ih_interp_get_stats(m, &sml, &st) == IH_OK);
  CHECK(sml.heaps == 1 && sml.allocated_blocks == 0);
  CHECK(ih_interp_validate_heap(m, &st) == IH_OK);
  CHECK(ih_interp_get_stats(a, &sa, &st) == IH_FAILED_PRECONDITION);
  Detach();
  CHECK(ih_interp_destroy(m, &st) == IH_OK);

  /* Remote frees: b frees a's three blocks; a's heap gets them back. */
  const int64_t ra = RemoteFrees(a), rb = RemoteFrees(b);
  const int64_t rm = RemoteFrees(main_interp),
                global = ih_global_remote_frees();
  CHECK(ra >= 0 && rb >= 0 && rm >= 0 && global >= ra + rb + rm);
  Attach(b);
  for (int i = 0; i < 3; ++i) ih_obj_free(a_blocks[i]);
  Detach();
  CHECK(RemoteFrees(a) == ra + 3);
  CHECK(RemoteFrees(b) == rb);
  CHECK(ih_global_remote_frees() == global + 3);
  CHECK(Blocks(a) == a0);
  /* s frees into its own heap (main's): not a remote free. */
  Attach(s);
  ih_obj_free(s_block);
  Detach();
  CHECK(RemoteFrees(main_interp) == rm);
  CHECK(RemoteFrees(s) == rm);
  Attach(b);
  for (int i = 0; i < 5; ++i) ih_obj_free(b_blocks[i]);
  Detach();
  CHECK(Blocks(b) == b0);

  CHECK(ih_interp_destroy(a, &st) == IH_OK);
  CHECK(ih_interp_destroy(b, &st) == IH_OK);
  CHECK(ih_interp_destroy(s, &st) == IH_OK);
  /* Destroyed heaps keep their remote frees in the process's count. */
  CHECK(ih_global_remote_frees() == global + 3);

  /* Stale and NULL handles: -1 or IH_NOT_FOUND, with the reason. */
  ih_stats_t none;
  CHECK(Blocks(a) == -1 && st.code == IH_NOT_FOUND);
  CHECK(strstr(st.message, "not a live interpreter") != NULL);
  CHECK(RemoteFrees(a) == -1 && st.code == IH_NOT_FOUND);
  CHECK(ih_interp_get_stats(a, &none, &st) == IH_NOT_FOUND);
  CHECK(strstr(st.message, "stale") != NULL);
  CHECK(ih_interp_print_stats(stdout, a, &st) == IH_NOT_FOUND);
  CHECK(ih_interp_validate_heap(a, &st) == IH_NOT_FOUND);
  CHECK(Blocks(NULL) == -1 && st.code == IH_NOT_FOUND);
  CHECK(RemoteFrees(NULL) == -1 && st.code == IH_NOT_FOUND);
  CHECK(ih_interp_get_stats(NULL, &none, &st) == IH_NOT_FOUND);
  CHECK(ih_interp_validate_heap(NULL, &st) == IH_NOT_FOUND);
  CHECK(ih_interp_allocated_blocks(NULL, NULL) == -1);
  /* NULL outputs. */
  CHECK(Saw(ih_get_stats(NULL, &st)) == IH_INVALID_ARGUMENT);
  CHECK(strcmp(st.message, "stats is NULL") == 0);
  CHECK(ih_interp_get_stats(main_interp, NULL, &st) == IH_INVALID_ARGUMENT);
  CHECK(ih_print_stats(NULL, &st) == IH_INVALID_ARGUMENT);
  CHECK(ih_interp_print_stats(NULL, main_interp, &st) == IH_INVALID_ARGUMENT);
}

/* A heap left by a destroyed interpreter is in the process's numbers
 * until its last block is freed. Not attached. */
static void TestOrphan(ih_interp_t* main_interp) {
  ih_interp_t* leaky = ih_interp_create(NULL, &st);
  CHECK(leaky != NULL);
  if (leaky == NULL) return;
  ih_stats_t before, with_orphan, after;
  CHECK(ih_get_stats(&before, &st) == IH_OK);
  CHECK(before.heaps == 2);
  Attach(leaky);
  void* leaked = ih_obj_malloc(48);
  Detach();
  CHECK(ih_interp_destroy(leaky, &st) == IH_OK);
  CHECK(ih_get_stats(&with_orphan, &st) == IH_OK);
  CHECK(with_orphan.heaps == 2); /* main and the orphan */
  CHECK(with_orphan.classes[2].blocks_in_use ==
        before.classes[2].blocks_in_use + 1);
  CHECK(with_orphan.allocated_blocks == ih_global_allocated_blocks());
  CHECK(ih_validate_heaps(&st) == IH_OK);
  CHECK(ih_pymalloc_owns(leaked) == 1);
  const int64_t global = ih_global_remote_frees();
  Attach(main_interp);
  ih_obj_free(leaked); /* home to the orphan, which is then freed */
  Detach();
  CHECK(ih_global_remote_frees() == global + 1);
  CHECK(ih_get_stats(&after, &st) == IH_OK);
  CHECK(after.heaps == 1);
  CHECK(after.allocated_blocks == ih_global_allocated_blocks());
}

static int host_lock_held = 0;
static int HostLockHeld(void* ctx) { return *(int*)ctx; }

/* A host-locked interpreter's heap is read only under the host's lock. */
static void TestHostLocked(void) {
  ih_interp_config_t config = {IH_LOCK_HOST, 1, HostLockHeld, &host_lock_held};
  ih_interp_t* hosted = ih_interp_create(&config, &st);
  CHECK(hosted != NULL);
  if (hosted == NULL) return;
  ih_stats_t s;
  host_lock_held = 0;
  CHECK(ih_interp_get_stats(hosted, &s, &st) == IH_FAILED_PRECONDITION);
  CHECK(strstr(st.message, "host-locked") != NULL);
  CHECK(ih_get_stats(&s, &st) == IH_FAILED_PRECONDITION);
  CHECK(ih_validate_heaps(&st) == IH_FAILED_PRECONDITION);
  CHECK(Blocks(hosted) == 0); /* no lock needed */
  host_lock_held = 1;
  CHECK(ih_interp_get_stats(hosted, &s, &st) == IH_OK);
  CHECK(s.heaps == 1 && s.allocated_blocks == 0);
  CHECK(ih_get_stats(&s, &st) == IH_OK);
  CHECK(s.heaps == 2);
  CHECK(ih_validate_heaps(&st) == IH_OK);
  CHECK(ih_interp_destroy(hosted, &st) == IH_OK);
  host_lock_held = 0;
}

/* The fault-injection counters, attached. */
static void TestNoMemoryCounts(void) {
  void* warm = ih_obj_malloc(10); /* the heap's pools are set up */
  ih_obj_free(warm);
  CHECK(ih_set_nomemory(0, 1, &st) == IH_OK);
  CHECK(ih_nomemory_call_count() == 0 && ih_nomemory_failure_count() == 0);
  CHECK(ih_obj_malloc(10) == NULL);
  CHECK(ih_nomemory_call_count() == 1 && ih_nomemory_failure_count() == 1);
  void* p = ih_obj_malloc(10);
  CHECK(p != NULL);
  CHECK(ih_nomemory_call_count() == 2 && ih_nomemory_failure_count() == 1);
  /* An overflowing ih_mem_new never reaches an allocator. */
  CHECK(ih_mem_new(int, (size_t)-1 / 2) == NULL);
  CHECK(ih_nomemory_call_count() == 2);
  int* xs = ih_mem_new(int, 4);
  CHECK(xs != NULL);
  CHECK(ih_nomemory_call_count() == 3);
  ih_obj_free(p);
  ih_mem_del(xs);
  CHECK(ih_nomemory_call_count() == 3); /* frees are not counted */
  /* A new window restarts the count: calls 3 and 4 fail. */
  CHECK(ih_set_nomemory(2, 4, &st) == IH_OK);
  CHECK(ih_nomemory_call_count() == 0 && ih_nomemory_failure_count() == 0);
  void* got[5];
  for (int i = 0; i < 5; ++i) got[i] = ih_obj_malloc(8);
  CHECK(got[0] != NULL && got[1] != NULL && got[2] == NULL && got[3] == NULL &&
        got[4] != NULL);
  CHECK(ih_nomemory_call_count() == 5 && ih_nomemory_failure_count() == 2);
  CHECK(ih_remove_nomemory(&st) == IH_OK);
  for (int i = 0; i < 5; ++i) ih_obj_free(got[i]);
  void* later = ih_obj_malloc(8);
  ih_obj_free(later);
  CHECK(ih_nomemory_call_count() == 5 && ih_nomemory_failure_count() == 2);
}

/* Distinct pass-through hooks: each one's ctx is the storage of the
 * allocator it wraps. */
static void* PassMalloc(void* ctx, size_t size) {
  const ih_allocator_t* below = (const ih_allocator_t*)ctx;
  return below->malloc(below->ctx, size);
}
static void* PassCalloc(void* ctx, size_t nelem, size_t elsize) {
  const ih_allocator_t* below = (const ih_allocator_t*)ctx;
  return below->calloc(below->ctx, nelem, elsize);
}
static void* PassRealloc(void* ctx, void* ptr, size_t size) {
  const ih_allocator_t* below = (const ih_allocator_t*)ctx;
  return below->realloc(below->ctx, ptr, size);
}
static void PassFree(void* ctx, void* ptr) {
  const ih_allocator_t* below = (const ih_allocator_t*)ctx;
  below->free(below->ctx, ptr);
}

/* The codes not produced above: OK, RESOURCE_EXHAUSTED, INTERNAL. */
static void TestRemainingCodes(void) {
  ih_stats_t s;
  CHECK(Saw(ih_get_stats(&s, &st)) == IH_OK);
  CHECK(st.code == IH_OK && st.message[0] == '\0');

  /* One hook more than a domain holds. */
  enum { kHooks = 17 };
  static ih_allocator_t below[kHooks];
  ih_allocator_t hooks[kHooks];
  int wrapped = 0;
  int code = IH_OK;
  for (int i = 0; i < kHooks; ++i) {
    hooks[i] = (ih_allocator_t){&below[i], PassMalloc, PassCalloc, PassRealloc,
                                PassFree};
    code = ih_wrap_allocator(IH_DOMAIN_RAW, &hooks[i], &below[i], &st);
    if (code != IH_OK) break;
    ++wrapped;
  }
  CHECK(wrapped == 16);
  CHECK(Saw(code) == IH_RESOURCE_EXHAUSTED);
  CHECK(strstr(st.message, "hooks") != NULL);
  void* through = ih_raw_malloc(10); /* through all 16 */
  CHECK(through != NULL);
  ih_raw_free(through);
  for (int i = wrapped - 1; i >= 0; --i) {
    CHECK(ih_unwrap_allocator(IH_DOMAIN_RAW, &hooks[i], &st) == IH_OK);
  }

  /* Output that cannot be written. */
  FILE* read_only = fopen("/dev/null", "r");
  CHECK(read_only != NULL);
  if (read_only != NULL) {
    CHECK(Saw(ih_print_stats(read_only, &st)) == IH_INTERNAL);
    CHECK(strstr(st.message, "writing") != NULL);
    fclose(read_only);
  }
}

int main(void) {
  /* Before the runtime exists. */
  size_t cur = 1, peak = 1;
  ih_tracemalloc_get_traced_memory(&cur, &peak);
  CHECK(cur == 0 && peak == 0);
  ih_tracemalloc_get_traced_memory(NULL, NULL);
  CHECK(ih_tracemalloc_get_traceback_limit() == 1);
  CHECK(ih_nomemory_call_count() == 0 && ih_nomemory_failure_count() == 0);
  CHECK(ih_pymalloc_owns(NULL) == 0 && ih_pymalloc_owns(&cur) == 0);
  CHECK(ih_global_remote_frees() == 0);

  CHECK(ih_runtime_pre_initialize("pymalloc", &st) == IH_OK);
  CHECK(ih_runtime_initialize(&st) == IH_OK);
  ih_interp_t* main_interp = ih_interp_main();
  ih_interp_t* other = ih_interp_create(NULL, &st);
  CHECK(other != NULL);

  Attach(main_interp);
  TestMemMacros();
  TestOwnership(main_interp, other);
  TestTracemalloc();
  TestInterpreterStats(main_interp);
  TestNoMemoryCounts();
  Detach();
  CHECK(ih_interp_destroy(other, &st) == IH_OK);

  TestInterpreters(main_interp);
  TestOrphan(main_interp);
  TestHostLocked();
  TestRemainingCodes();

  /* Every status code the header declares was produced. */
  const int codes[] = {IH_OK,
                       IH_INVALID_ARGUMENT,
                       IH_NOT_FOUND,
                       IH_RESOURCE_EXHAUSTED,
                       IH_FAILED_PRECONDITION,
                       IH_INTERNAL};
  for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); ++i) {
    if (!seen_code[codes[i]]) fprintf(stderr, "code %d never seen\n", codes[i]);
    CHECK(seen_code[codes[i]]);
  }

  CHECK(ih_validate_heaps(&st) == IH_OK);
  CHECK(ih_runtime_finalize(&st) == IH_OK);
  CHECK(ih_runtime_reset(&st) == IH_OK);
  return CheckSummary();
}
