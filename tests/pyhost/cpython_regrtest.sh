#!/usr/bin/env bash
# CPython's own regression tests (Debian's libpython3.11-testsuite) run by the
# launcher with interpheap's debug hooks on every domain. regrtest's -j
# workers are subprocesses of sys.executable, so they run on the launcher
# too; the first check proves that for this environment.
set -uo pipefail

PYHOST="${TEST_SRCDIR}/interpheap/pyhost/pyhost"
OUT="${TEST_TMPDIR:-$(mktemp -d)}"
cd "$OUT" || exit 1
unset PYTHONMALLOC PYTHONDEVMODE PYTHONHOME
export INTERPHEAP_MALLOC=pymalloc_debug
export TMPDIR="$OUT"

"$PYHOST" -c '
import subprocess, sys
out = subprocess.check_output([sys.executable, "-c",
    "import _interpheap; print(_interpheap.configuration_name())"], text=True)
assert out.strip() == "pymalloc_debug", out' || {
  echo "FAIL: a sys.executable child does not run on pymalloc_debug"
  exit 1
}

# The regression set and the sandbox exclusions.
source "${TEST_SRCDIR}/interpheap/tests/pyhost/regrtest_set.sh"
# 3.11 only: test_site, test_venv and test_cppext (symlinked executables,
# see regrtest_set.sh) run here. test_cppext.test_build_cpp03 fails on
# Debian's own python3.11 as well (the C++03 extension builds, then its
# import fails with ModuleNotFoundError); test_build_cpp11 runs.
MODULES=("${REGRTEST_MODULES[@]}" test_site test_venv test_cppext)
SANDBOX_EXCLUSIONS+=(-i test.test_cppext.TestCPPExt.test_build_cpp03)

run_regrtest "$PYHOST" -m test -j2 --timeout=900 "${SANDBOX_EXCLUSIONS[@]}" \
    "${MODULES[@]}"
