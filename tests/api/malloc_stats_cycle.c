/* One runtime cycle through the C API under the configuration named by
 * argv[1]: one small obj block (pymalloc maps its first arena), freed, then
 * finalization. With INTERPHEAP_MALLOCSTATS set, interpheap prints the stats
 * table before each new arena and at finalization when obj is pymalloc
 * (tests/api/malloc_stats_test.sh counts the tables). Exits 2 on a refused
 * step. */

#include <stdio.h>

#include "interpheap/interpheap.h"

static int Check(int code, const ih_status_t* status, const char* step) {
  if (code == IH_OK) return 1;
  fprintf(stderr, "%s: %s\n", step, status->message);
  return 0;
}

int main(int argc, char** argv) {
  ih_status_t status;
  if (argc != 2) {
    fprintf(stderr, "usage: %s CONFIGURATION\n", argv[0]);
    return 2;
  }
  if (!Check(ih_runtime_pre_initialize(argv[1], &status), &status,
             "pre-initialize") ||
      !Check(ih_runtime_initialize(&status), &status, "initialize") ||
      !Check(ih_thread_attach(ih_interp_main(), &status), &status, "attach")) {
    return 2;
  }
  ih_obj_free(ih_obj_malloc(32));
  /* Finalize detaches the calling thread. */
  if (!Check(ih_runtime_finalize(&status), &status, "finalize")) return 2;
  return 0;
}
