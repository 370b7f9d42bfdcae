#!/usr/bin/env bash
# bench/python_programs.sh: `./bazelw run -c opt //bench:python_programs`,
# Python programs on pyhost against the same libpython on obmalloc; runs
# python_programs.py (Python 3 standard library) over the built binaries.
set -euo pipefail

if [[ -n "${RUNFILES_DIR:-}" && -d "${RUNFILES_DIR}/interpheap" ]]; then
  root="${RUNFILES_DIR}/interpheap"
elif [[ -d "$0.runfiles/interpheap" ]]; then
  root="$0.runfiles/interpheap"
else
  root="${PWD}"
fi
python="$(command -v python3 || echo /usr/bin/python3)"
exec "${python}" "${root}/bench/python_programs.py" \
  --bin_dir="${root}/bench" --pyhost="${root}/pyhost/pyhost" \
  --scripts_dir="${root}/bench/python" "$@"
