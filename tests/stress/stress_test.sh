#!/usr/bin/env bash
# The stress program as a user runs it: a short clean run passes and writes
# its JSON report with the run's context; a run with a deliberately
# corrupted block fails with a clear message (and a report that cannot be
# written does not hide that); bad flags exit 2 naming flag and value;
# --help exits 0; progress lines are plain when stderr is not a terminal
# and fit the width of one that is;
# report paths are checked before the run; Ctrl-C stops a run cleanly;
# mimalloc runs, except under ThreadSanitizer, where it is refused with the
# reason.
# (The default 10 s run is the README's main command.) No timing asserted.
set -uo pipefail

STRESS="${TEST_SRCDIR}/interpheap/stress/stress"
OUT="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }
passed=0

# 1. A clean run: exit 0, PASS, a JSON report with every interpreter and
#    the run's context (schema, timestamp, build, host, every option).
"$STRESS" --ops=3000 --interpreters=2 --main_lock_interpreters=1 --churn=1 \
    --churn_every=1000 --threads=4 --json="$OUT/report.json" \
    --progress_interval=0.2 >"$OUT/clean.out" 2>&1
status=$?
cat "$OUT/clean.out"
[ "$status" -eq 0 ] || fail "clean run exited $status"
grep -q "PASS" "$OUT/clean.out" || fail "clean run did not print PASS"
python3 - "$OUT/report.json" <<'PY' || fail "JSON report fields"
import json, re, sys
report = json.load(open(sys.argv[1]))
assert report["passed"] is True and report["interrupted"] is False
assert report["schema_version"] >= 2, report["schema_version"]
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["timestamp"])
assert report["build_mode"] and report["host"]
options = report["options"]
# Given flags and defaults alike.
assert options["threads"] == "4" and options["churn_every"] == "1000"
assert options["seed"] == "42" and options["size_mix"] == "cpython"
assert options["handoff_percent"] == "10" and options["toggle_hooks"] == "true"
names = [i["name"] for i in report["interpreters"]]
assert names[0] == "main" and any(n.startswith("churn-") for n in names)
samples = report["samples"]
assert "live_blocks" not in samples and len(samples["live_bytes"]) == len(samples["seconds"])
assert sorted(samples["ops"]) == sorted(names), samples["ops"].keys()
classes = report["interpreters"][0]["class_blocks_in_use"]
assert classes[0]["block_size"] == 16 and "blocks" in classes[0]
PY
passed=$((passed + 1))

# 2. The same run with one flipped byte: exit 1 and a message naming it.
#    The JSON path is /dev/full (passes the check, fails the write): the
#    status stays 1, the HTML is still written, every failure is printed.
"$STRESS" --ops=3000 --interpreters=2 --threads=4 --toggle_hooks=false \
    --inject_corruption=500 --json=/dev/full --html="$OUT/corrupt.html" \
    >"$OUT/corrupt.out" 2>&1
status=$?
cat "$OUT/corrupt.out"
[ "$status" -eq 1 ] || fail "corrupted run exited $status, expected 1"
grep -q "verification failed before free: .* byte [0-9]* is 0x" \
    "$OUT/corrupt.out" || fail "no verification failure message"
grep -q "FAIL" "$OUT/corrupt.out" || fail "corrupted run did not print FAIL"
grep -q "cannot write --json=/dev/full" "$OUT/corrupt.out" ||
  fail "no message about the unwritable JSON"
grep -q '>FAIL</span>' "$OUT/corrupt.html" || fail "HTML report not written"
passed=$((passed + 1))

# 3. Bad flags: exit 2 and one line naming the flag and the bad value.
while read -r flag want; do
  "$STRESS" "$flag" >"$OUT/bad.out" 2>&1
  status=$?
  [ "$status" -eq 2 ] || fail "'$flag' exited $status, expected 2"
  grep -qF -- "$want" "$OUT/bad.out" ||
    fail "'$flag': message lacks '$want': $(cat "$OUT/bad.out")"
  ! grep -q "stress: configuration " "$OUT/bad.out" || fail "'$flag' started a run"
done <<'FLAGS'
--bogus --bogus
--duration=abc --duration=abc
--threads=abc --threads=abc
--seed=-1 --seed=-1
--toggle_hooks=maybe --toggle_hooks=maybe
--duration=nan --duration=nan
--duration=inf --duration=inf
--duration=0 --duration=0
--threads=0 --threads=0
--handoff_percent=101 --handoff_percent=101
--progress_interval=-1 --progress_interval=-1
--size_mix=huge size_mix must be
--malloc=nope --malloc=nope
--domain_weights=1,2 --domain_weights=1,2
stray stray
FLAGS
passed=$((passed + 1))

# 4. --help and -h: exit 0, the flags, the configurations, the exit
#    statuses and examples.
for help in --help -h; do
  "$STRESS" "$help" >"$OUT/help.out" 2>&1
  status=$?
  [ "$status" -eq 0 ] || fail "$help exited $status, expected 0"
  for want in --interpreters --progress_interval pymalloc_debug mimalloc \
      "Exit status" "130" "Examples" "stress --"; do
    grep -qF -- "$want" "$OUT/help.out" || fail "$help lacks '$want'"
  done
done
passed=$((passed + 1))

# 5. Progress on a non-terminal stderr: plain lines, no carriage return,
#    binary units; --progress=false and --progress_interval=0 turn it off.
"$STRESS" --duration=1.5 --interpreters=1 --threads=2 \
    --progress_interval=0.3 >"$OUT/progress.out" 2>"$OUT/progress.err"
status=$?
[ "$status" -eq 0 ] || fail "progress run exited $status"
cat "$OUT/progress.err"
grep -q "ops/s), live [0-9.]* \(B\|KiB\|MiB\)" "$OUT/progress.err" ||
  fail "no progress line on stderr"
! grep -q $'\r' "$OUT/progress.err" || fail "carriage return on a non-tty"
! grep -q $'\e' "$OUT/progress.err" || fail "escape sequence on a non-tty"
for off in --progress=false --progress_interval=0; do
  "$STRESS" --duration=1 --interpreters=1 --threads=2 "$off" \
      >"$OUT/quiet.out" 2>"$OUT/quiet.err"
  [ "$?" -eq 0 ] || fail "$off run failed"
  ! grep -q "ops/s" "$OUT/quiet.err" || fail "$off still printed progress"
done
passed=$((passed + 1))

# 6. Report paths are checked before the run: exit 2 at once, naming the
#    flag and the path; no run starts, no file is left behind.
for flag in --json --html; do
  "$STRESS" --duration=60 "$flag=$OUT/no/such/dir/r" >"$OUT/path.out" 2>&1
  status=$?
  [ "$status" -eq 2 ] || fail "$flag to a missing directory exited $status"
  grep -qF -- "$flag=$OUT/no/such/dir/r" "$OUT/path.out" ||
    fail "$flag path message: $(cat "$OUT/path.out")"
  ! grep -q "stress: configuration" "$OUT/path.out" || fail "the run started"
done
"$STRESS" --duration=60 --json="$OUT" >"$OUT/path.out" 2>&1
[ "$?" -eq 2 ] || fail "--json=<a directory> was accepted"
"$STRESS" --ops=10 --threads=1 --json="$OUT/fresh.json" --html="$OUT/no/x.html" \
    >/dev/null 2>&1
[ ! -e "$OUT/fresh.json" ] || fail "the check left $OUT/fresh.json behind"
passed=$((passed + 1))

# 7. Ctrl-C: SIGINT once the run is under way stops it cleanly: the table,
#    the verdict for what ran and both reports, marked interrupted, exit 130.
"$STRESS" --duration=600 --progress_interval=0.2 --json="$OUT/int.json" \
    --html="$OUT/int.html" >"$OUT/int.out" 2>"$OUT/int.err" &
pid=$!
for _ in $(seq 600); do  # wait for the first progress line (up to 60 s)
  grep -q "ops/s" "$OUT/int.err" 2>/dev/null && break
  sleep 0.1
done
grep -q "ops/s" "$OUT/int.err" || { kill -KILL "$pid"; fail "run never began"; }
kill -INT "$pid"
wait "$pid"
status=$?
cat "$OUT/int.out"
[ "$status" -eq 130 ] || fail "interrupted run exited $status, expected 130"
grep -q "^INTERRUPTED (SIGINT)" "$OUT/int.out" || fail "no INTERRUPTED line"
grep -q "^PASS$" "$OUT/int.out" || fail "no verdict after SIGINT"
grep -q "^main " "$OUT/int.out" || fail "no table after SIGINT"
python3 - "$OUT/int.json" <<'PY' || fail "interrupted JSON"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["interrupted"] is True and report["passed"] is True
assert report["total_ops"] > 0 and report["bytes_verified"] > 0
assert report["seconds"] < 600
PY
grep -q 'id="interrupted"' "$OUT/int.html" || fail "HTML not marked interrupted"
passed=$((passed + 1))

# 8. On a terminal (a pty from script(1), set to 60 columns): the progress
#    line is rewritten in place (carriage return) and never wider than the
#    terminal, so it cannot wrap into a new row per update.
script -qfec "stty cols 60 rows 24; exec '$STRESS' --duration=1.5 \
    --interpreters=1 --threads=2 --progress_interval=0.3" /dev/null \
    >"$OUT/tty.out" 2>&1
status=$?
[ "$status" -eq 0 ] || { cat "$OUT/tty.out"; fail "run on a pty exited $status"; }
python3 - "$OUT/tty.out" <<'PY' || fail "progress on a terminal"
import re, sys
out = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
# The pty turns "\n" into "\r\n"; an in-place update is "\r[".
updates = re.findall(r"\r(\[[^\r\n]*)", out)
assert len(updates) >= 2, "no in-place progress updates: %r" % out[:400]
for update in updates:
    text = update.replace("\x1b[K", "")
    assert len(text) <= 59, "progress line of %d columns: %r" % (len(text), text)
print("tty: %d in-place updates, widest %d columns" %
      (len(updates), max(len(u.replace("\x1b[K", "")) for u in updates)))
PY
passed=$((passed + 1))

# 9. mimalloc: a short run passes; under ThreadSanitizer (the clean run's
#    build_mode says +tsan) both mimalloc configurations are refused at set-
#    up (exit 2) with the reason: Debian's libmimalloc is not instrumented,
#    so TSan reports its reused blocks as races (README "Checks").
tsan=$(python3 -c 'import json, sys; print("+tsan" in json.load(open(sys.argv[1]))["build_mode"])' "$OUT/report.json")
for config in mimalloc mimalloc_debug; do
  for how in flag env; do
    if [ "$how" = flag ]; then
      "$STRESS" --malloc="$config" --ops=2000 --interpreters=1 --threads=2 \
          --progress=false >"$OUT/mi.out" 2>&1
    else
      INTERPHEAP_MALLOC="$config" "$STRESS" --ops=2000 --interpreters=1 \
          --threads=2 --progress=false >"$OUT/mi.out" 2>&1
    fi
    status=$?
    if [ "$tsan" = True ]; then
      [ "$status" -eq 2 ] || { cat "$OUT/mi.out"; fail "$config ($how) under TSan exited $status, expected 2"; }
      grep -qF "stress: configuration $config is not run under ThreadSanitizer: Debian's libmimalloc is not instrumented" \
          "$OUT/mi.out" || { cat "$OUT/mi.out"; fail "$config ($how): no reason given"; }
      ! grep -q "stress: configuration $config;" "$OUT/mi.out" || fail "$config ($how): the run started"
    else
      [ "$status" -eq 0 ] || { cat "$OUT/mi.out"; fail "$config ($how) exited $status"; }
      grep -q "^stress: configuration $config;" "$OUT/mi.out" || fail "$config ($how) ran another configuration"
    fi
  done
done
passed=$((passed + 1))

echo "stress_test: $passed passed, 0 failed"
