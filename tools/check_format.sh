#!/usr/bin/env bash
# tools/check_format.sh: fails when a tracked C or C++ file differs from
# what clang-format makes of it with the root .clang-format. Prints the
# files and the first lines of each difference.
#   tools/check_format.sh          # check
#   tools/check_format.sh --fix    # rewrite the files in place
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

clang_format="$(command -v clang-format-14 || command -v clang-format || true)"
if [[ -z "${clang_format}" ]]; then
  echo "check_format: clang-format not found (Debian package clang-format)" >&2
  exit 1
fi

mapfile -t files < <(git ls-files '*.h' '*.cc' '*.c')
if [[ "${1:-}" == "--fix" ]]; then
  "${clang_format}" -i "${files[@]}"
  exit 0
fi

bad=0
for f in "${files[@]}"; do
  if ! diff -q "${f}" <("${clang_format}" "${f}") >/dev/null; then
    echo "check_format: ${f} is not clang-formatted:"
    diff -u "${f}" <("${clang_format}" "${f}") | head -20 || true
    bad=$((bad + 1))
  fi
done
if ((bad > 0)); then
  echo "check_format: ${bad} file(s) need tools/check_format.sh --fix" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
