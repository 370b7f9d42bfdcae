#!/usr/bin/env bash
# INTERPHEAP_MALLOCSTATS through the C API: the stats table before the first
# arena and the exit table at finalization, under pymalloc and under the
# debug hooks over pymalloc alike (CPython prints its exit table under
# PYTHONMALLOC=pymalloc_debug too); no table where obj is not pymalloc, and
# none without the variable.
set -uo pipefail

PROGRAM="${TEST_SRCDIR}/interpheap/tests/api/malloc_stats_cycle"
OUT="${TEST_TMPDIR:-$(mktemp -d)}"
checks=0
fail() { echo "FAIL: $*"; exit 1; }

# cycle CONFIGURATION [ENV...]: runs one cycle; stderr in CONFIGURATION.err.
cycle() {
  local config="$1"
  shift
  env "$@" "$PROGRAM" "$config" >"$OUT/$config.out" 2>"$OUT/$config.err"
  local status=$?
  [ "$status" -eq 0 ] || { cat "$OUT/$config.err"; fail "$config: exit status $status"; }
}
# tables CONFIGURATION: how many stats tables the last cycle printed.
tables() {
  grep -c '^Small block threshold = 512, in 32 size classes\.$' "$OUT/$1.err"
}

for config in pymalloc pymalloc_debug default debug; do
  cycle "$config" INTERPHEAP_MALLOCSTATS=1
  n=$(tables "$config")
  [ "$n" -eq 2 ] || { cat "$OUT/$config.err"; fail "$config: $n tables, expected 2 (first arena, exit)"; }
  # Each table names the interpreter whose heap it shows (main: 0).
  titles=$(grep -E '^interpheap: heap of interpreter [0-9]+ \(' "$OUT/$config.err" | tr '\n' '|')
  [ "$titles" = "interpheap: heap of interpreter 0 (new arena)|interpheap: heap of interpreter 0 (exit)|" ] ||
    { cat "$OUT/$config.err"; fail "$config: table titles were '$titles'"; }
  # The exit table is the last one: one arena, kept, no block in use.
  last=$(awk '/^Small block threshold/ { table = "" } { table = table $0 "\n" } END { printf "%s", table }' "$OUT/$config.err")
  grep -q '^# arenas allocated total           =                    1$' <<<"$last" ||
    { echo "$last"; fail "$config: the exit table does not show the arena"; }
  grep -q '^# bytes in allocated blocks        =                    0$' <<<"$last" ||
    { echo "$last"; fail "$config: the exit table shows blocks in use"; }
  checks=$((checks + 1))
  echo "ok: $config prints the first-arena table and the exit table"
done

for config in malloc malloc_debug; do
  cycle "$config" INTERPHEAP_MALLOCSTATS=1
  n=$(tables "$config")
  [ "$n" -eq 0 ] || { cat "$OUT/$config.err"; fail "$config: $n tables, expected none (obj is not pymalloc)"; }
  checks=$((checks + 1))
  echo "ok: $config prints no table"
done

for config in pymalloc pymalloc_debug; do
  cycle "$config" INTERPHEAP_MALLOCSTATS=
  n=$(tables "$config")
  [ "$n" -eq 0 ] || fail "$config: $n tables with INTERPHEAP_MALLOCSTATS empty"
  checks=$((checks + 1))
  echo "ok: $config prints no table without the variable"
done

echo "PASS: $checks checks"
