#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh: builds the libFuzzer target with --config=fuzz and
# runs it for a bounded number of inputs over a copy of the seed corpus and
# every kept regression input. Fails on any crash (a model mismatch, a
# sanitizer report, a fatal error of the library, a leak, a timeout or
# running out of memory); prints libFuzzer's coverage and feature counts at
# the end. CI's fuzz step (.ci/run) runs it as is.
#
#   tests/fuzz/run_fuzz.sh                       # 20000 inputs, at most 180 s
#   FUZZ_RUNS=200000 FUZZ_MAX_TIME=1800 tests/fuzz/run_fuzz.sh
#   FUZZ_KEEP=/tmp/fuzz tests/fuzz/run_fuzz.sh   # keep the grown corpus
#
# A crash input is written to the work directory (printed); reproduce it
# with `bazel-out/k8-fastbuild-fuzz/bin/tests/fuzz/interpheap_fuzz FILE`
# (INTERPHEAP_FUZZ_TRACE=1 prints every operation), then keep it in
# tests/fuzz/regressions/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

runs="${FUZZ_RUNS:-20000}"
max_time="${FUZZ_MAX_TIME:-180}"
work="${FUZZ_KEEP:-}"
if [[ -z "${work}" ]]; then
  work="$(mktemp -d /tmp/interpheap_fuzz.XXXXXX)"
  trap 'rm -rf "${work}"' EXIT
fi
mkdir -p "${work}/corpus"

./bazelw build --config=fuzz //tests/fuzz:interpheap_fuzz
fuzzer="$(./bazelw info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz/interpheap_fuzz"

# The seeds and the regression inputs (not the README) seed the run.
find tests/fuzz/corpus tests/fuzz/regressions -type f ! -name '*.md' \
  -exec cp {} "${work}/corpus/" \;
seeds="$(find "${work}/corpus" -type f | wc -l)"

echo "run_fuzz: ${runs} inputs (at most ${max_time} s) from ${seeds} seeds"
start="$(date +%s)"
status=0
# The target's own stderr (leak reports of interpreters destroyed while
# tracing, its op trace on a failure) goes to the log with libFuzzer's.
"${fuzzer}" -runs="${runs}" -max_total_time="${max_time}" -max_len=1024 \
  -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="${work}/" "${work}/corpus" >"${work}/fuzz.log" 2>&1 ||
  status=$?
seconds=$(($(date +%s) - start))

# libFuzzer's progress lines: the first, the last and the final stats.
grep -E '^#[0-9]+[[:space:]]+INITED' "${work}/fuzz.log" || true
grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse)' "${work}/fuzz.log" | tail -n 1 || true
grep -E '^stat::' "${work}/fuzz.log" || true

if ((status != 0)); then
  echo "run_fuzz: FAILED (exit ${status}) after ${seconds} s; the log's end:" >&2
  tail -n 80 "${work}/fuzz.log" >&2
  ls "${work}"/crash-* "${work}"/leak-* "${work}"/timeout-* "${work}"/oom-* \
    2>/dev/null | sed 's/^/run_fuzz: input kept: /' >&2 || true
  if [[ -z "${FUZZ_KEEP:-}" ]]; then
    # Keep the inputs past the trap's clean-up.
    keep="$(mktemp -d /tmp/interpheap_fuzz_crash.XXXXXX)"
    cp "${work}"/crash-* "${work}"/leak-* "${work}"/timeout-* \
      "${work}"/oom-* "${keep}/" 2>/dev/null || true
    echo "run_fuzz: copied to ${keep}" >&2
  fi
  exit 1
fi

done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "${work}/fuzz.log" | tail -n 1)"
if [[ -z "${done_line}" ]]; then
  echo "run_fuzz: libFuzzer exited 0 without its DONE line" >&2
  tail -n 40 "${work}/fuzz.log" >&2
  exit 1
fi
executed="$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"${done_line}")"
cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"${done_line}")"
ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"${done_line}")"
corp="$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"${done_line}")"
echo "run_fuzz: ${executed} inputs in ${seconds} s, no crash: ${cov} coverage points, ${ft} features, corpus ${corp} inputs"
