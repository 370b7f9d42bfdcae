"""Compiler options shared by every interpheap target.

Usage: `copts = IH_COPTS` on libraries and binaries, `copts = IH_TEST_COPTS`
on tests and benchmarks. Bazel 4.2.3 native cc_* rules; load this file with
`load("//:copts.bzl", "IH_COPTS")`.
"""

# All warnings are errors (tcmalloc's pattern).
IH_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
]

# Same for tests: Debian's GoogleTest, Abseil and benchmark headers live in
# /usr/include (a system directory), so their warnings, including gtest's
# -Wsign-compare on EXPECT_EQ(v.size(), 1), are not reported (gcc 12, clang 14).
IH_TEST_COPTS = IH_COPTS
