/* pyhost/cpython_internal.c: the one read of CPython's internal state that
 * pyhost needs, kept in C and in this file: whether an interpreter shares
 * the main interpreter's obmalloc state (Py_RTFLAGS_USE_MAIN_OBMALLOC, set
 * by PyInterpreterConfig.use_main_obmalloc). 3.12 exports
 * _PyInterpreterState_HasFeature; 3.13 keeps the flags in the internal
 * header only. Built for CPython 3.12 and later. */

#define Py_BUILD_CORE 1
#include <Python.h>

#include "internal/pycore_interp.h"

int interpheap_pyhost_uses_main_obmalloc(PyInterpreterState* interp) {
  return (interp->feature_flags & Py_RTFLAGS_USE_MAIN_OBMALLOC) != 0;
}
