#!/usr/bin/env bash
# tests/bench/smoke_test.sh: runs the benchmark runner in a very quick
# mode and checks that the Markdown and JSON name every allocator and
# workload and that every run verified its data. Timing is never asserted.
set -euo pipefail

root="${TEST_SRCDIR}/interpheap"
out="${TEST_TMPDIR}/bench"
python="$(command -v python3 || echo /usr/bin/python3)"
"${python}" "${root}/bench/run_benchmarks.py" \
  --bin_dir="${root}/bench" --out_dir="${out}" --quick --scale=0.1 \
  --jobs=1 >"${TEST_TMPDIR}/runner.log" 2>&1 || {
  cat "${TEST_TMPDIR}/runner.log"
  echo "FAIL: the runner failed"
  exit 1
}

"${python}" - "${out}" <<'PY'
import json, os, sys
out = sys.argv[1]
md = open(os.path.join(out, "bench_results.md")).read()
doc = json.load(open(os.path.join(out, "bench_results.json")))
allocators = ["glibc", "mimalloc", "jemalloc", "tcmalloc", "cpython",
              "interpheap", "cpython_debug", "interpheap_debug"]
workloads = ["churn", "lifo", "fifo", "stack", "realloc_grow", "large",
             "threads_1", "threads_2", "prodcons"]
errors = []
for w in workloads:
    if w not in doc["summary"]:
        errors.append(f"workload {w} missing from the JSON")
    if f"| {w} |" not in md:
        errors.append(f"workload {w} missing from the Markdown")
for a in allocators:
    if not any(a in per for per in doc["summary"].values()):
        errors.append(f"allocator {a} missing from the JSON")
    if a not in md:
        errors.append(f"allocator {a} missing from the Markdown")
for w, per in doc["summary"].items():
    for a in ["glibc", "mimalloc", "jemalloc", "tcmalloc", "cpython",
              "interpheap"]:
        if a not in per:
            errors.append(f"{w}/{a} not run")
if not doc["verified"] or not all(r["verified"] for r in doc["runs"]):
    errors.append("a run failed data verification")
if "instructions_per_op" not in doc["summary"]["churn"]["interpheap"]:
    errors.append("no callgrind count for churn/interpheap")
if not doc["targets"]:
    errors.append("no targets evaluated")
for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
PY
echo PASS
