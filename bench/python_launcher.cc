// bench/python_launcher.cc: the baseline of the Python-program benchmarks.
//
// python3 in one line: Py_BytesMain on the same libpython3.11.so that pyhost
// embeds, so the two differ only in the allocator (CPython's obmalloc here,
// or its debug hooks with PYTHONMALLOC=debug) and in what pyhost adds.
// Debian's /usr/bin/python3.11 is linked statically and is not a fair
// baseline (it is itself 1.2-1.5x faster than the shared library).

#include <Python.h>

int main(int argc, char** argv) { return Py_BytesMain(argc, argv); }
