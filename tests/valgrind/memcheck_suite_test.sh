#!/usr/bin/env bash
# The core test binaries under valgrind's memcheck, with pymalloc reporting
# its blocks through client requests and no suppression file: any memcheck
# error (invalid access, uninitialised use, definite leak) fails the run.
#
# Left out: mimalloc (Debian's libmimalloc is not built with its valgrind
# support, so memcheck cannot follow its heaps) and the spinning
# many-thread tests, which valgrind serializes into minutes (TSan covers
# them).
set -uo pipefail

BIN="${TEST_SRCDIR}/interpheap/tests"
failed=0
passed=0
for test in alloc/domain_test alloc/pymalloc/pymalloc_test \
            alloc/pymalloc/arena_map_test alloc/allocator_table_test \
            alloc/config_test alloc/hooks/debug_hooks_test \
            alloc/foreign_block_test \
            alloc/hooks/tracemalloc_test alloc/hooks/fault_injection_test \
            interp/interpreter_test interp/runtime_test \
            interp/runtime_state_test api/c_api_test \
            api/c_api_introspection_test; do
  log="${TEST_TMPDIR:-/tmp}/$(basename "$test").valgrind.log"
  start=$(date +%s)
  valgrind --error-exitcode=99 --leak-check=full \
      --errors-for-leak-kinds=definite --show-leak-kinds=definite \
      "$BIN/$test" --gtest_filter='-*mimalloc*:*Mimalloc*:*Concurrent*' \
      >"$log" 2>&1
  status=$?
  summary=$(grep -o "ERROR SUMMARY: [0-9]* errors" "$log" | tail -n 1)
  echo "$test: exit $status, ${summary:-no summary}, $(( $(date +%s) - start )) s"
  if [ "$status" -ne 0 ] || [ "$summary" != "ERROR SUMMARY: 0 errors" ]; then
    failed=$((failed + 1))
    grep -A25 -m3 -E "== (Invalid|Conditional|Use of|[0-9,]+ bytes in)" "$log"
    tail -n 30 "$log"
  else
    passed=$((passed + 1))
  fi
done
echo "memcheck_suite_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
