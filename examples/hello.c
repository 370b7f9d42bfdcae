/* examples/hello.c: interpheap from a C program that does not use Bazel.
 *
 *   cc hello.c $(pkg-config --cflags --libs interpheap) -o hello
 *
 * Starts the runtime with pymalloc, runs two interpreters with their own
 * lock and heap, allocates in every domain, frees one interpreter's block
 * under the other (a cross-interpreter free, routed home and counted) and
 * shuts down.
 * Exits 0 and prints "hello: ok" when every step behaved. */

#include <interpheap/interpheap.h>
#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                      \
  do {                                                                   \
    ih_status_t status_;                                                 \
    if ((call(&status_)) != IH_OK) {                                     \
      fprintf(stderr, "hello: %s failed: %s\n", #call, status_.message); \
      return 1;                                                          \
    }                                                                    \
  } while (0)

static int pre_initialize(ih_status_t* status) {
  return ih_runtime_pre_initialize("pymalloc", status);
}
static ih_interp_t* worker;
static int create_worker(ih_status_t* status) {
  worker = ih_interp_create(NULL, status);
  return worker != NULL ? IH_OK : status->code;
}
static int attach_worker(ih_status_t* status) {
  return ih_thread_attach(worker, status);
}
static int attach_main(ih_status_t* status) {
  return ih_thread_attach(ih_interp_main(), status);
}
static int destroy_worker(ih_status_t* status) {
  return ih_interp_destroy(worker, status);
}

int main(void) {
  if (ih_version() != IH_VERSION_NUMBER) {
    fprintf(stderr, "hello: headers %s, library %s\n", IH_VERSION_STRING,
            ih_version_string());
    return 1;
  }
  CHECK(pre_initialize);
  CHECK(ih_runtime_initialize);
  CHECK(create_worker);

  /* A block of the worker's heap, filled and kept across the switch. */
  CHECK(attach_worker);
  char* text = ih_obj_malloc(32);
  if (text == NULL) return 1;
  strcpy(text, "made by the worker");
  CHECK(ih_thread_detach);

  /* Freed under main: interpheap hands it back to the worker's heap. */
  CHECK(attach_main);
  void* raw = ih_raw_malloc(100);
  void* mem = ih_mem_calloc(4, 8);
  if (raw == NULL || mem == NULL) return 1;
  printf("hello: %s, main holds %lld blocks\n", text,
         (long long)ih_allocated_blocks(NULL));
  ih_obj_free(text);
  if (ih_interp_remote_frees(worker, NULL) != 1) {
    fprintf(stderr, "hello: the cross-interpreter free was not counted\n");
    return 1;
  }
  ih_mem_free(mem);
  ih_raw_free(raw);
  CHECK(ih_thread_detach);

  CHECK(destroy_worker);
  CHECK(ih_runtime_finalize);
  printf("hello: interpheap %s under %s: ok\n", ih_version_string(),
         ih_runtime_state_name(ih_runtime_state()));
  return 0;
}
