#!/usr/bin/env bash
# bench/run.sh: `./bazelw run -c opt //bench`, the
# one command of the side-by-side allocator benchmarks; runs
# run_benchmarks.py (Python 3 standard library) over the bench_* binaries.
set -euo pipefail

if [[ -n "${RUNFILES_DIR:-}" && -d "${RUNFILES_DIR}/interpheap" ]]; then
  root="${RUNFILES_DIR}/interpheap"
elif [[ -d "$0.runfiles/interpheap" ]]; then
  root="$0.runfiles/interpheap"
else
  root="${PWD}"
fi
python="$(command -v python3 || echo /usr/bin/python3)"
exec "${python}" "${root}/bench/run_benchmarks.py" \
  --bin_dir="${root}/bench" "$@"
