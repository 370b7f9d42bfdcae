#!/usr/bin/env bash
# bench/own_gil_scaling.sh: `./bazelw run -c opt //bench:own_gil_scaling`;
# runs own_gil_scaling.py with the launchers and the stock interpreters the
# build found (see bench/BUILD).
set -euo pipefail
if [[ -n "${RUNFILES_DIR:-}" && -d "${RUNFILES_DIR}/interpheap" ]]; then
  root="${RUNFILES_DIR}/interpheap"
elif [[ -d "$0.runfiles/interpheap" ]]; then
  root="$0.runfiles/interpheap"
else
  root="${PWD}"
fi
pythons="$1"
shift
exec python3 "${root}/bench/own_gil_scaling.py" --root="${root}" \
  --pythons="${pythons}" "$@"
