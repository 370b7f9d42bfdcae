#!/usr/bin/env bash
# tests/pyhost/cpython_regrtest_version.sh VERSION: CPython VERSION's own
# tests (3.12, 3.13: pyenv builds ship the whole test package, test_capi
# included) through pyhostVERSION:
#   1. the interpreter tests (test_interpreters, the low-level module tests,
#      the subinterpreter tests of test_capi and test_threading) under
#      `default` and under `pymalloc_debug`;
#   2. the regression set of cpython_regrtest.sh plus test_capi, under
#      `pymalloc_debug`.
# Skips (exit 0, saying why) where the machine has no such CPython.
set -uo pipefail

version="$1"
pyhost="${TEST_SRCDIR}/interpheap/pyhost/pyhost${version}"
out="${TEST_TMPDIR:-$(mktemp -d)}"
cd "${out}" || exit 1
unset PYTHONMALLOC PYTHONDEVMODE PYTHONHOME INTERPHEAP_MALLOC
unset INTERPHEAP_CROSS_INTERPRETER_FREE
export TMPDIR="${out}"

if ! "${pyhost}" -c pass 2>"${out}/absent.txt"; then
  if grep -q "not built" "${out}/absent.txt"; then
    echo "SKIPPED: $(cat "${out}/absent.txt")"
    exit 0
  fi
  cat "${out}/absent.txt"
  exit 1
fi

if [[ "${version}" == 3.12 ]]; then
  INTERP_MODULES=(test_interpreters test__xxsubinterpreters
                  test__xxinterpchannels)
  STR_MODULE=test_unicode
else
  INTERP_MODULES=(test_interpreters test__interpreters test__interpchannels)
  STR_MODULE=test_str  # 3.13 renamed test_unicode
fi

# The regression set and the sandbox exclusions.
source "${TEST_SRCDIR}/interpheap/tests/pyhost/regrtest_set.sh"

status=0
for config in default pymalloc_debug; do
  echo "=== ${config}: interpreter tests"
  INTERPHEAP_MALLOC="${config}" run_regrtest "${pyhost}" -m test -j2 --timeout=900 \
    "${INTERP_MODULES[@]}" || status=1
  INTERPHEAP_MALLOC="${config}" run_regrtest "${pyhost}" -m test -j2 --timeout=900 \
    -m '*nterp*' test_capi test_threading || status=1
done

echo "=== pymalloc_debug: the regression set"
MODULES=("${REGRTEST_MODULES[@]}" test_capi)
INTERPHEAP_MALLOC=pymalloc_debug run_regrtest "${pyhost}" -m test -j2 --timeout=900 \
  "${SANDBOX_EXCLUSIONS[@]}" "${MODULES[@]}" || status=1
exit "${status}"
