#!/usr/bin/env bash
# bench/run_python.sh SCRIPT [ARGS...]: the one wrapper of the benchmark
# runners written in Python (standard library only):
#   ./bazelw run -c opt //bench                      bench/run_benchmarks.py
#   ./bazelw run -c opt //bench:python_programs      bench/python_programs.py
#   ./bazelw run -c opt //bench:own_gil_scaling      bench/own_gil_scaling.py
# It finds the runfiles root and runs python3 ROOT/SCRIPT ARGS...; each
# script finds the binaries it measures next to itself in the runfiles.
set -euo pipefail

if [[ -n "${RUNFILES_DIR:-}" && -d "${RUNFILES_DIR}/interpheap" ]]; then
  root="${RUNFILES_DIR}/interpheap"
elif [[ -d "$0.runfiles/interpheap" ]]; then
  root="$0.runfiles/interpheap"
else
  root="${PWD}"
fi
script="$1"
shift
python="$(command -v python3 || echo /usr/bin/python3)"
exec "${python}" "${root}/${script}" "$@"
