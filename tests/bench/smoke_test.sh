#!/usr/bin/env bash
# tests/bench/smoke_test.sh: runs the benchmark runner in a very quick
# mode and checks that the Markdown and JSON name every allocator and
# workload and that every run verified its data; that the SVG chart has a
# bar per (workload, allocator) and no whiskers or verdicts from a single
# repetition; that --render_only rewrites the chart from the JSON; and that
# every bench_* binary refuses malformed flags with status 2. Timing is
# never asserted.
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
import json, os, re, sys
from xml.etree import ElementTree
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
# Quick mode: one repetition, so no min-max and no met/missed verdict.
if re.search(r"\d \[\d", md):
    errors.append("quick Markdown shows a min-max from one repetition")
if re.search(r"\| (met|\*\*missed\*\*) \|", md):
    errors.append("quick Markdown calls a target met or missed")
if any("met" in t for t in doc["targets"]):
    errors.append("quick JSON calls a target met or missed")
# The chart: well-formed, one bar per (workload, allocator), no whiskers.
svg_path = os.path.join(out, "bench_results.svg")
svg = ElementTree.parse(svg_path).getroot()
ns = "{http://www.w3.org/2000/svg}"
bars = [r for r in svg.iter(ns + "rect") if r.get("class") == "bar"]
want = sum(len(per) for per in doc["summary"].values())
if len(bars) != want:
    errors.append(f"{len(bars)} bars in the SVG, want {want}")
for bar in bars:
    if not float(bar.get("height")) > 0:
        errors.append("a bar of zero height: " + bar.find(ns + "title").text)
titles = " ".join(bar.find(ns + "title").text for bar in bars)
for w in workloads:
    if f"{w} / interpheap:" not in titles:
        errors.append(f"no interpheap bar for {w}")
if any(p.get("class") == "whisker" for p in svg.iter(ns + "path")):
    errors.append("whiskers drawn from a single repetition")
for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
PY

# --render_only: the chart again from the JSON alone, nothing run.
svg="${out}/bench_results.svg"
cp "${svg}" "${TEST_TMPDIR}/first.svg"
rm "${svg}"
"${python}" "${root}/bench/run_benchmarks.py" --out_dir="${out}" \
  --bin_dir=/nonexistent --render_only >"${TEST_TMPDIR}/render.log" 2>&1 || {
  cat "${TEST_TMPDIR}/render.log"
  echo "FAIL: --render_only failed"
  exit 1
}
cmp -s "${svg}" "${TEST_TMPDIR}/first.svg" ||
  { echo "FAIL: --render_only wrote a different chart"; exit 1; }

# Malformed flags: status 2 and a message naming the flag and value.
for binary in glibc mimalloc jemalloc tcmalloc cpython interpheap; do
  for flag in --ops=abc --ops=-1 --threads=two --seed=1x --ops; do
    set +e
    "${root}/bench/bench_${binary}" --workload=churn "${flag}" \
      >"${TEST_TMPDIR}/flag.out" 2>&1
    status=$?
    set -e
    if [[ "${status}" -ne 2 ]] || ! grep -qF -- "${flag}" "${TEST_TMPDIR}/flag.out"; then
      echo "FAIL: bench_${binary} ${flag} exited ${status}: $(cat "${TEST_TMPDIR}/flag.out")"
      exit 1
    fi
  done
done
echo PASS
