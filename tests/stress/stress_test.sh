#!/usr/bin/env bash
# The stress program as a user runs it: a short clean run passes and writes
# its JSON report; a run with a deliberately corrupted block fails with a
# clear message. (The default 10 s run is the README's main command.)
set -uo pipefail

STRESS="${TEST_SRCDIR}/interpheap/stress/stress"
OUT="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }

# 1. A clean run: exit 0, PASS, a JSON report with every interpreter.
"$STRESS" --ops=3000 --interpreters=2 --main_lock_interpreters=1 --churn=1 \
    --churn_every=1000 --threads=4 --json="$OUT/report.json" \
    --progress_interval=0.2 >"$OUT/clean.out" 2>&1
status=$?
cat "$OUT/clean.out"
[ "$status" -eq 0 ] || fail "clean run exited $status"
grep -q "PASS" "$OUT/clean.out" || fail "clean run did not print PASS"
grep -q '"passed": *true' "$OUT/report.json" || fail "JSON does not say passed"
for name in main churn-; do
  grep -q "\"$name" "$OUT/report.json" || fail "JSON lacks interpreter $name"
done

# 2. The same run with one flipped byte: exit 1 and a message naming it.
"$STRESS" --ops=3000 --interpreters=2 --threads=4 --toggle_hooks=false \
    --inject_corruption=500 >"$OUT/corrupt.out" 2>&1
status=$?
cat "$OUT/corrupt.out"
[ "$status" -eq 1 ] || fail "corrupted run exited $status, expected 1"
grep -q "verification failed before free: .* byte [0-9]* is 0x" \
    "$OUT/corrupt.out" || fail "no verification failure message"
grep -q "FAIL" "$OUT/corrupt.out" || fail "corrupted run did not print FAIL"

# 3. Bad flags are refused with exit 2 and a reason.
"$STRESS" --size_mix=huge >"$OUT/bad.out" 2>&1
status=$?
[ "$status" -eq 2 ] || fail "bad flag exited $status, expected 2"
grep -q "size_mix must be" "$OUT/bad.out" || fail "bad flag message missing"

echo "stress_test: 3 passed, 0 failed"
