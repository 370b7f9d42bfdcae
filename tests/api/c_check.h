/* tests/api/c_check.h: the checks of the C API tests (plain C11, one
 * translation unit each): CHECK(cond) counts and reports, CheckSummary()
 * prints "N passed, N failed" and gives main()'s exit status. */

#ifndef INTERPHEAP_TESTS_API_C_CHECK_H_
#define INTERPHEAP_TESTS_API_C_CHECK_H_

#include <stdio.h>

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      ++passed;                                                                \
    } else {                                                                   \
      ++failed;                                                                \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

static inline int CheckSummary(void) {
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

#endif /* INTERPHEAP_TESTS_API_C_CHECK_H_ */
