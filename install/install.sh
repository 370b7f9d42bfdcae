#!/usr/bin/env bash
# install/install.sh PREFIX: installs interpheap under PREFIX:
#   PREFIX/lib/libinterpheap.so.VERSION, .so.0 and .so (symlinks)
#   PREFIX/lib/libinterpheap.a
#   PREFIX/include/interpheap/interpheap.h, allocator.h
#   PREFIX/lib/pkgconfig/interpheap.pc
#   PREFIX/lib/cmake/interpheap/interpheapConfig.cmake (+ ConfigVersion)
# Run it as `./bazelw run //install -- PREFIX`; a relative PREFIX is taken
# from the directory bazel was called in. Exit status 2 for a bad call.
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: ./bazelw run //install -- PREFIX" >&2
  exit 2
fi
prefix="$1"
if [[ "${prefix}" != /* ]]; then
  prefix="${BUILD_WORKING_DIRECTORY:-${PWD}}/${prefix}"
fi

# The built files: from the runfiles tree under `bazel run` or a test.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for candidate in "${RUNFILES_DIR:-}/interpheap" "$0.runfiles/interpheap" \
                 "${TEST_SRCDIR:-}/interpheap" "${here}/.."; do
  if [[ -f "${candidate}/install/libinterpheap.so" ]]; then
    root="${candidate}"
    break
  fi
done
if [[ -z "${root:-}" ]]; then
  echo "install: libinterpheap.so not found; run through ./bazelw run //install" >&2
  exit 1
fi

header="${root}/api/interpheap.h"
version="$(sed -n 's/^#define IH_VERSION_STRING "\(.*\)"$/\1/p' "${header}")"
if [[ -z "${version}" ]]; then
  echo "install: no IH_VERSION_STRING in ${header}" >&2
  exit 1
fi

mkdir -p "${prefix}/lib/pkgconfig" "${prefix}/lib/cmake/interpheap" \
         "${prefix}/include/interpheap"
install -m 0755 "${root}/install/libinterpheap.so" \
  "${prefix}/lib/libinterpheap.so.${version}"
ln -sf "libinterpheap.so.${version}" "${prefix}/lib/libinterpheap.so.0"
ln -sf "libinterpheap.so.0" "${prefix}/lib/libinterpheap.so"
install -m 0644 "${root}/install/libinterpheap.a" "${prefix}/lib/libinterpheap.a"
install -m 0644 "${header}" "${prefix}/include/interpheap/interpheap.h"
install -m 0644 "${root}/alloc/allocator.h" \
  "${prefix}/include/interpheap/allocator.h"
sed -e "s|@PREFIX@|${prefix}|g" -e "s|@VERSION@|${version}|g" \
  "${root}/install/interpheap.pc.in" >"${prefix}/lib/pkgconfig/interpheap.pc"
sed -e "s|@VERSION@|${version}|g" "${root}/install/interpheapConfig.cmake.in" \
  >"${prefix}/lib/cmake/interpheap/interpheapConfig.cmake"
cat >"${prefix}/lib/cmake/interpheap/interpheapConfigVersion.cmake" <<CMAKE
# Compatible when the major versions agree and the installed one is newer.
set(PACKAGE_VERSION "${version}")
if(PACKAGE_FIND_VERSION_MAJOR STREQUAL "${version%%.*}" AND
   NOT PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
CMAKE
echo "installed interpheap ${version} under ${prefix}"
