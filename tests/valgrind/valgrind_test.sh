#!/usr/bin/env bash
# Memcheck sees inside pymalloc's pools: a clean run has 0 errors, and a
# use-after-free, an overflow past the requested size and a leak inside a
# pool are each reported with the block's allocation stack. No suppression
# file is used.
set -uo pipefail

PROG="${TEST_SRCDIR}/interpheap/tests/valgrind/pool_errors"
OUT="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }
run() {  # mode -> log file; returns valgrind's exit status
  valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
      --errors-for-leak-kinds=definite "$PROG" "$1" >"$OUT/$1.log" 2>&1
}

run clean; status=$?
cat "$OUT/clean.log"
[ "$status" -eq 0 ] || fail "clean run: valgrind exited $status"
grep -q "ERROR SUMMARY: 0 errors" "$OUT/clean.log" || fail "clean run had errors"

run uaf; status=$?
cat "$OUT/uaf.log"
[ "$status" -eq 99 ] || fail "use-after-free not reported (exit $status)"
grep -q "Invalid read of size 1" "$OUT/uaf.log" || fail "no invalid read"
# Memcheck describes the address by the nearest pool block it knows (freed
# or live); either way the report carries a pymalloc allocation stack.
grep -Eq "Address 0x[0-9a-f]+ is .*block of size 32" "$OUT/uaf.log" \
    || fail "the read is not placed among the pool blocks"
grep -q "AllocateForTest" "$OUT/uaf.log" || fail "no allocation stack"

run overflow; status=$?
cat "$OUT/overflow.log"
[ "$status" -eq 99 ] || fail "overflow not reported (exit $status)"
grep -q "Invalid write of size 1" "$OUT/overflow.log" || fail "no invalid write"
# The byte lies in the slack between the requested 20 bytes and the 32-byte
# class: only pymalloc's announcement makes it invalid.
grep -q "AllocateForTest" "$OUT/overflow.log" || fail "no allocation stack"

run leak; status=$?
cat "$OUT/leak.log"
[ "$status" -eq 99 ] || fail "leak not reported (exit $status)"
grep -q "48 bytes in 1 blocks are definitely lost" "$OUT/leak.log" \
    || fail "the leaked pool block is not reported"
grep -q "AllocateForTest" "$OUT/leak.log" || fail "no allocation stack"

# CPython's way, as a switch: pymalloc declines and everything goes to the
# raw domain, where valgrind's own malloc checks apply.
INTERPHEAP_PYMALLOC_UNDER_VALGRIND=raw run overflow; status=$?
cat "$OUT/overflow.log"
[ "$status" -eq 99 ] || fail "raw mode: overflow not reported (exit $status)"
grep -q "0 bytes after a block of size 20 alloc'd" "$OUT/overflow.log" \
    || fail "raw mode: the 20-byte block did not come from malloc"

echo "valgrind_test: 5 passed, 0 failed"
