# tests/pyhost/regrtest_set.sh, sourced by cpython_regrtest.sh (3.11) and
# cpython_regrtest_version.sh (3.12, 3.13): the regression set every pyhost
# runs under pymalloc_debug, and the test methods left out in Bazel's
# sandbox. Before sourcing, STR_MODULE names the str test module
# (test_unicode up to 3.12; 3.13 renamed it test_str).
#
# Every module here passes; README's "CPython host" section lists them.
# Not run: test_embed (needs CPython's _testembed program, which no build
# here ships: it would only skip). test_capi is added by the 3.12/3.13
# script (Debian's 3.11 test suite does not ship it).
REGRTEST_MODULES=(
  test_dict test_list test_set "${STR_MODULE:-test_unicode}" test_bytes
  test_gc test_tracemalloc test_sys
  test_array test_ast test_bigmem test_builtin test_class test_collections
  test_compile test_copy test_coroutines test_ctypes test_decimal
  test_deque test_descr test_exceptions test_float test_format test_frame
  test_fstring test_functools test_generators test_grammar test_heapq
  test_int test_io test_itertools test_json test_long test_marshal
  test_memoryview test_mmap test_os test_pickle test_queue test_re
  test_sort test_string test_struct test_subprocess test_sys_settrace
  test_thread test_threading test_threading_local test_tuple test_weakref
)

# Test methods that fail only inside Bazel's sandbox (they pass when the
# launcher runs these modules outside it), for reasons unrelated to the
# allocator: the sandbox maps only root into its user namespace, so
# chown/setuid/setgid to another id fail with EINVAL, and /usr is read-only,
# where test_unpickle_module_race writes its helper modules.
SANDBOX_EXCLUSIONS=(
  -i test.test_os.ChownFileTests.test_chown_with_root
  -i test.test_subprocess.POSIXProcessTestCase.test_user
  -i test.test_subprocess.POSIXProcessTestCase.test_group
  -i '*.test_unpickle_module_race'
)

# A home of the test's own: Bazel leaves HOME empty, and test_site's
# setUpModule creates the user site directory below it (an error there
# fails no test of its own: regrtest says "ran no tests").
export HOME="${TEST_TMPDIR:-$(mktemp -d)}/home"
mkdir -p "${HOME}"

# run_regrtest LAUNCHER ARGS...: runs regrtest, and fails when it fails or
# when a module ran no tests (regrtest reports that as a success, and it is
# what an error in a module's setUpModule looks like).
run_regrtest() {
  local log
  log="$(mktemp)"
  "$@" 2>&1 | tee "${log}"
  local status="${PIPESTATUS[0]}"
  if grep " ran no tests" "${log}" >"${log}.none"; then
    echo "FAIL: a test module ran no tests:"
    cat "${log}.none"
    status=1
  fi
  rm -f "${log}" "${log}.none"
  return "${status}"
}
