#!/usr/bin/env bash
# tests/install/install_test.sh: installs interpheap into a temporary prefix
# with install/install.sh (what `./bazelw run //install -- PREFIX` runs),
# then builds the examples/ programs as a project without Bazel would:
#   1. cc + pkg-config against the shared library,
#   2. cc + pkg-config --static against libinterpheap.a,
#   3. CMake find_package(interpheap), C and C++,
# and runs each. Also checks the shared library's interface: a soname, only
# ih_* exported, self-contained headers.
set -euo pipefail

root="${TEST_SRCDIR}/interpheap"
prefix="${TEST_TMPDIR}/prefix"
work="${TEST_TMPDIR}/work"
mkdir -p "${work}"
fail() {
  echo "FAIL: $*"
  exit 1
}

"${root}/install/install.sh" "${prefix}" || fail "install.sh exited $?"
if "${root}/install/install.sh" >/dev/null 2>&1; then
  fail "install.sh without PREFIX succeeded"
fi

for f in lib/libinterpheap.so lib/libinterpheap.so.0 lib/libinterpheap.a \
         include/interpheap/interpheap.h include/interpheap/allocator.h \
         lib/pkgconfig/interpheap.pc \
         lib/cmake/interpheap/interpheapConfig.cmake \
         lib/cmake/interpheap/interpheapConfigVersion.cmake; do
  [[ -e "${prefix}/${f}" ]] || fail "${f} not installed"
done

so="${prefix}/lib/libinterpheap.so"
soname="$(readelf -d "${so}" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[[ "${soname}" == "libinterpheap.so.0" ]] || fail "soname is '${soname}'"
# Defined global or weak dynamic symbols other than ih_* (the version node
# INTERPHEAP_0 aside). Local TLS entries are not exported.
others="$(readelf --dyn-syms -W "${so}" |
  awk '$7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") && $7 != "ABS" &&
       $8 !~ /^ih_/ {print $8}')"
[[ -z "${others}" ]] || fail "exports beyond ih_*: ${others}"
readelf --dyn-syms -W "${so}" >"${work}/dynsyms.txt"
grep -q " FUNC  *GLOBAL .* ih_obj_malloc@" "${work}/dynsyms.txt" ||
  fail "ih_obj_malloc not exported"
# Every function the installed header declares is exported.
sed -nE 's/^(const )?[a-z_0-9]+\*? ?\*?(ih_[a-z0-9_]+)\(.*/\2/p' \
  "${prefix}/include/interpheap/interpheap.h" | sort -u >"${work}/declared.txt"
[[ "$(wc -l <"${work}/declared.txt")" -gt 60 ]] ||
  fail "too few declarations found in interpheap.h"
while read -r name; do
  grep -q " FUNC  *GLOBAL .* ${name}@" "${work}/dynsyms.txt" ||
    fail "${name} is declared in interpheap.h but not exported"
done <"${work}/declared.txt"

# Headers compile alone, as C11 and C++17, with only -I PREFIX/include.
echo '#include <interpheap/interpheap.h>' >"${work}/alone.c"
cc -std=c11 -Wall -Werror -I"${prefix}/include" -c "${work}/alone.c" \
  -o "${work}/alone.o" || fail "header not self-contained (C)"
c++ -std=c++17 -Wall -Werror -I"${prefix}/include" -x c++ -c \
  "${work}/alone.c" -o "${work}/alone_cc.o" || fail "header (C++)"

export PKG_CONFIG_PATH="${prefix}/lib/pkgconfig"
export LD_LIBRARY_PATH="${prefix}/lib"
examples="${root}/examples"

echo "--- cc \$(pkg-config --cflags --libs interpheap)"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror "${examples}/hello.c" \
  $(pkg-config --cflags --libs interpheap) -o "${work}/hello_shared"
"${work}/hello_shared" | tee "${work}/shared.out"
grep -q "hello: interpheap .* ok" "${work}/shared.out" || fail "shared run"
# (ldd to a file: grep -q closing the pipe early would fail the pipeline.)
ldd "${work}/hello_shared" >"${work}/ldd_shared.txt"
grep -q "libinterpheap.so.0 => ${prefix}/lib" "${work}/ldd_shared.txt" ||
  fail "not linked against the installed libinterpheap.so.0"

echo "--- cc libinterpheap.a \$(pkg-config --static --libs interpheap)"
static_libs="$(pkg-config --static --libs interpheap | sed 's/-linterpheap//')"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror "${examples}/hello.c" \
  $(pkg-config --cflags interpheap) "${prefix}/lib/libinterpheap.a" \
  ${static_libs} -o "${work}/hello_static"
ldd "${work}/hello_static" >"${work}/ldd_static.txt"
if grep -q libinterpheap "${work}/ldd_static.txt"; then
  fail "the static build still needs libinterpheap.so"
fi
env -u LD_LIBRARY_PATH "${work}/hello_static" | tee "${work}/static.out"
grep -q "hello: interpheap .* ok" "${work}/static.out" || fail "static run"

echo "--- cmake find_package(interpheap)"
cmake -S "${examples}" -B "${work}/cmake" -DCMAKE_PREFIX_PATH="${prefix}" \
  >"${work}/cmake.log" 2>&1 || { cat "${work}/cmake.log"; fail "cmake"; }
cmake --build "${work}/cmake" >>"${work}/cmake.log" 2>&1 ||
  { cat "${work}/cmake.log"; fail "cmake --build"; }
"${work}/cmake/hello" >"${work}/cmake_hello.out"
grep -q "hello: interpheap .* ok" "${work}/cmake_hello.out" || fail "cmake hello"
"${work}/cmake/hello_cc" | tee "${work}/cc.out"
grep -q "hello_cc: interpheap .* ok" "${work}/cc.out" || fail "cmake hello_cc"

echo "PASS: installed, and built with pkg-config (shared, static) and CMake"
