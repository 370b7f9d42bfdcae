// tests/pyhost/cross_free_stock.cc: the cross-interpreter free of
// pyhost/cross_interpreter_free.h on stock CPython (obmalloc, the same
// libpython the pyhost launcher embeds). CPython 3.12 and 3.13 abort here;
// own_gil_test.sh asserts that they still do (so the pyhost run of the
// same sequence proves something) and that pyhost does not.

#include <Python.h>

#include <cstdio>

#include "pyhost/cross_interpreter_free.h"

int main() {
  Py_Initialize();
  std::fprintf(stderr, "cross_free_stock: releasing under main\n");
  if (interpheap::pyhost::RunCrossInterpreterFree(1000, nullptr, nullptr,
                                                  nullptr) != 0) {
    PyErr_Print();
    return 2;
  }
  std::fprintf(stderr, "cross_free_stock: survived\n");
  return Py_FinalizeEx() == 0 ? 0 : 1;
}
