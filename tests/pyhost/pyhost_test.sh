#!/usr/bin/env bash
# The launcher as a user runs it: python3's command line (-c, a script, -m,
# exit codes), sys.executable and subprocesses on interpheap, PYTHONMALLOC
# and INTERPHEAP_MALLOC mapped to interpheap's configurations (-E, -X dev),
# many Python threads on the one host heap, and interpheap's fatal errors in
# CPython's words (the lines CPython's own test_capi expects).
set -uo pipefail

PYHOST="${TEST_SRCDIR}/interpheap/pyhost/pyhost"
OUT="${TEST_TMPDIR:-$(mktemp -d)}"
cd "$OUT" || exit 1
unset PYTHONMALLOC INTERPHEAP_MALLOC PYTHONDEVMODE PYTHONHOME
checks=0
fail() { echo "FAIL: $*"; exit 1; }
pass() { checks=$((checks + 1)); echo "ok: $*"; }

# run NAME EXPECTED_STATUS ARGS...: runs the launcher, output in NAME.out.
run() {
  local name="$1" expected="$2"
  shift 2
  "$PYHOST" "$@" >"$OUT/$name.out" 2>&1
  local status=$?
  if [ "$status" -ne "$expected" ]; then
    cat "$OUT/$name.out"
    fail "$name: exit status $status, expected $expected"
  fi
}
expect() {  # expect NAME REGEX: NAME.out has a line matching REGEX
  grep -Eq -- "$2" "$OUT/$1.out" || { cat "$OUT/$1.out"; fail "$1: no '$2'"; }
}

# 1. -c, with python3's exit status.
run c 0 -c 'import sys, _interpheap; print("hello", _interpheap.configuration_name())'
expect c '^hello pymalloc$'
run exit 3 -c 'raise SystemExit(3)'
run exception 1 -c 'raise ValueError("boom")'
expect exception '^ValueError: boom$'
pass "-c runs on interpheap's default configuration; exit statuses as python3"

# 2. A script with arguments, and -m with PYTHONPATH honored.
printf 'import sys\nprint("argv", sys.argv[1:])\n' >"$OUT/script.py"
run script 0 "$OUT/script.py" a -b
expect script "^argv \\['a', '-b'\\]$"
mkdir -p "$OUT/mods"
printf 'import sys\nprint("module", __name__, sys.argv[1:])\n' >"$OUT/mods/hello_mod.py"
PYTHONPATH="$OUT/mods" run module 0 -m hello_mod x
expect module "^module __main__ \\['x'\\]$"
run version 0 --version
expect version '^Python 3\.11\.'
pass "a script, -m and --version as python3"

# 3. sys.executable is the launcher; a child inherits the configuration.
INTERPHEAP_MALLOC=malloc_debug run child 0 -c '
import os, subprocess, sys
assert os.path.samefile(sys.executable, "/proc/self/exe"), sys.executable
out = subprocess.check_output([sys.executable, "-c",
    "import _interpheap; print(_interpheap.configuration_name())"], text=True)
print("child", out.strip())'
expect child '^child malloc_debug$'
pass "sys.executable is the launcher and its children run on interpheap"

# 4. PYTHONMALLOC maps to interpheap's configuration of that name, and stays
#    in the environment for children; INTERPHEAP_MALLOC wins; -E ignores
#    PYTHONMALLOC; -X dev asks for interpheap's debug hooks.
NAME='import _interpheap, os; print("name", _interpheap.configuration_name(), os.environ.get("PYTHONMALLOC"))'
for m in malloc malloc_debug pymalloc pymalloc_debug mimalloc mimalloc_debug; do
  PYTHONMALLOC=$m run "env_$m" 0 -c "$NAME"
  expect "env_$m" "^name $m $m$"
done
PYTHONMALLOC=debug run env_debug 0 -c "$NAME"
expect env_debug '^name pymalloc_debug debug$'
PYTHONMALLOC=malloc INTERPHEAP_MALLOC=pymalloc_debug run both 0 -c "$NAME"
expect both '^name pymalloc_debug malloc$'
PYTHONMALLOC=malloc_debug run ignore_env 0 -E -c "$NAME"
expect ignore_env '^name pymalloc '
run dev 0 -X dev -c "$NAME"
expect dev '^name pymalloc_debug None$'
PYTHONMALLOC=bogus run bogus 1 -c pass
expect bogus "^Fatal Python error: pyhost: interpheap: unknown allocator configuration 'bogus'"
pass "PYTHONMALLOC / INTERPHEAP_MALLOC / -E / -X dev choose interpheap's configuration"

# 5. Many Python threads share the one host heap under the GIL, with the
#    debug hooks checking every call; blocks come back to their heap.
INTERPHEAP_MALLOC=pymalloc_debug run threads 0 -c '
import threading, _interpheap
def work(seed):
    for i in range(300):
        d = {str(k): [k] * (k % 7) for k in range(seed, seed + 50)}
        s = "".join(d) * 3
        del d, s
before = _interpheap.allocated_blocks()
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
del ts, t
after = _interpheap.allocated_blocks()
print("blocks", before, after)
assert abs(after - before) < 1000, (before, after)
assert "Small block threshold = 512" in _interpheap.stats()'
expect threads '^blocks '
pass "8 threads on the host heap under pymalloc_debug"

# 6. CPython's tracemalloc wraps the host allocators (above interpheap, so
#    interpheap's configuration is unchanged).
INTERPHEAP_MALLOC=pymalloc run tracemalloc 0 -X tracemalloc -c '
import tracemalloc, _interpheap
x = [bytes(100) for _ in range(1000)]
size, peak = tracemalloc.get_traced_memory()
assert size > 100000, size
print("traced", size, _interpheap.configuration_name())'
expect tracemalloc '^traced [0-9]+ pymalloc$'
pass "tracemalloc traces over interpheap"

# 7. Fatal errors print CPython's lines (test_capi's expectations), then
#    abort (134: SIGABRT).
for m in debug malloc_debug pymalloc_debug; do
  PYTHONMALLOC=$m run "overflow_$m" 134 -c 'import _interpheap; _interpheap.buffer_overflow()'
  expect "overflow_$m" "^Debug memory block at address p=0x[0-9a-f]+: API 'm'$"
  expect "overflow_$m" '^        at tail\+0: 0x78 \*\*\* OUCH$'
  expect "overflow_$m" '^Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte$'
  expect "overflow_$m" '^Python runtime state: initialized$'
  expect "overflow_$m" '^  File "<string>", line 1 in <module>$'
done
PYTHONMALLOC=debug run misuse 134 -c 'import _testcapi; _testcapi.pymem_api_misuse()'
expect misuse "^Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API 'm', verified using API 'r'$"
for f in pymem_malloc_without_gil pyobject_malloc_without_gil; do
  PYTHONMALLOC=debug run "$f" 134 -c "import _testcapi; _testcapi.$f()"
  expect "$f" '^Fatal Python error: _PyMem_DebugMalloc: Python memory allocator called without holding the GIL$'
done
pass "buffer overflow, API misuse and GIL-less calls are fatal in CPython's words"

# 8. _PyObject_IsFreed sees interpheap's debug bytes (test_capi's checks).
for m in debug malloc_debug pymalloc_debug; do
  for f in null uninitialized forbidden_bytes freed; do
    PYTHONMALLOC=$m run "is_freed_${m}_$f" 0 -c "
import gc, os, _testcapi
gc.disable()
try:
    _testcapi.check_pyobject_${f}_is_freed()
    os._exit(0)
except _testcapi.error:
    os._exit(1)"
  done
done
pass "freed, uninitialized and forbidden bytes are recognized as freed"

# 9. sys.executable as python3 sets it: a symlink stays the symlink (a link
#    named python3 reports itself, not its target), so a venv made with
#    symlinks runs with the venv's prefix, and children of sys.executable
#    still run on interpheap.
mkdir -p "$OUT/links"
ln -sf "$PYHOST" "$OUT/links/python3"
INTERPHEAP_MALLOC=pymalloc_debug "$OUT/links/python3" -c '
import os, subprocess, sys
print("exe", sys.executable)
out = subprocess.check_output([sys.executable, "-c",
    "import _interpheap; print(_interpheap.configuration_name())"], text=True)
print("child", out.strip())' >"$OUT/link.out" 2>&1 || { cat "$OUT/link.out"; fail "link"; }
expect link "^exe $OUT/links/python3$"
expect link '^child pymalloc_debug$'
"$OUT/links/python3" -m venv --without-pip --symlinks "$OUT/venv" >"$OUT/venv_create.out" 2>&1 ||
  { cat "$OUT/venv_create.out"; fail "venv creation"; }
"$OUT/venv/bin/python" -c '
import sys, sysconfig
print("prefix", sys.prefix)
print("base", sys.base_prefix)
print("scheme", sysconfig.get_default_scheme())
print("exe", sys.executable)' >"$OUT/venv.out" 2>&1 || { cat "$OUT/venv.out"; fail "venv"; }
expect venv "^prefix $OUT/venv$"
expect venv '^base /usr$'
expect venv '^scheme venv$'
expect venv "^exe $OUT/venv/bin/python$"
pass "sys.executable keeps symlinks: a link named python3, a venv with symlinks"

# 10. sys.getallocatedblocks() counts the host heap in every interpreter:
#     in a subinterpreter as in main (CPython 3.11: one obmalloc state).
run subinterp 0 -c '
import sys, _testcapi, _interpheap
keep = [object() for _ in range(5000)]
main = sys.getallocatedblocks()
r = _testcapi.run_in_subinterp(
    "import sys, _interpheap\n"
    "open(\"sub.txt\", \"w\").write(\"%d %d\" % (sys.getallocatedblocks(),"
    " _interpheap.allocated_blocks()))")
sub, direct = map(int, open("sub.txt").read().split())
print("blocks", main, sub, direct)
assert r == 0, r
assert sub > 5000 and abs(sub - main) < main // 2, (main, sub)
assert abs(sub - direct) < 100, (sub, direct)'
expect subinterp '^blocks [0-9]+ [0-9]+ [0-9]+$'
pass "sys.getallocatedblocks() in a subinterpreter reports the host heap"

# 11. Start-up links no Abseil or libstdc++ shared object (about 60 of them
#     cost 12 M instructions of `pyhost -c pass` at load time).
#     A sanitizer build (--config=ubsan) brings its runtime, which needs
#     libstdc++: there only Abseil is checked.
ldd "$PYHOST" >"$OUT/ldd.all"
unwanted='libabsl_|libstdc\+\+'
if grep -qE 'libubsan|libasan|libtsan' "$OUT/ldd.all"; then
  unwanted='libabsl_'
fi
if grep -E "$unwanted" "$OUT/ldd.all" >"$OUT/ldd.out"; then
  cat "$OUT/ldd.out"
  fail "pyhost loads Abseil or libstdc++ shared objects"
fi
pass "no Abseil or libstdc++ shared objects at start-up"

echo "pyhost_test: $checks passed, 0 failed"
