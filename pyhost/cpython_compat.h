// pyhost/cpython_compat.h: the seam between pyhost and the CPython version
// it is built against (3.11, 3.12, 3.13). Everything version-specific that
// pyhost uses is here; the rest of pyhost is one implementation.
//
//                          3.11             3.12              3.13
//   current thread state   _PyThreadState_UncheckedGet
//   PyThreadState_GetUnchecked finalizing             _Py_IsFinalizing
//   Py_IsFinalizing traceback dump         _Py_DumpTracebackThreads (none
//   exported) own GIL / obmalloc     no               per interpreter (PEP 684)

#ifndef INTERPHEAP_PYHOST_CPYTHON_COMPAT_H_
#define INTERPHEAP_PYHOST_CPYTHON_COMPAT_H_

#include <Python.h>

#include <cstdio>

#if PY_VERSION_HEX < 0x030D0000
// Exported by libpython 3.11 and 3.12 but declared only in CPython's
// internal headers (pycore_traceback.h).
extern "C" const char* _Py_DumpTracebackThreads(int fd,
                                                PyInterpreterState* interp,
                                                PyThreadState* current_tstate);
#endif

#if PY_VERSION_HEX >= 0x030C0000
// Exported by libpython 3.12 and 3.13, declared in the internal
// pycore_pymem.h only (3.11 declares it in cpython/pymem.h).
extern "C" const char* _PyMem_GetCurrentAllocatorName(void);

// pyhost/cpython_internal.c: reads the interpreter's feature flags from
// CPython's internal headers (3.13 no longer exports a function for it).
extern "C" int interpheap_pyhost_uses_main_obmalloc(PyInterpreterState* interp);
#endif

namespace interpheap::pyhost::compat {

// CPython interpreters may have their own GIL and obmalloc state.
inline constexpr bool kPerInterpreterGil = PY_VERSION_HEX >= 0x030C0000;

// The calling thread's attached thread state, or nullptr; no GIL needed.
inline PyThreadState* CurrentThreadState() {
#if PY_VERSION_HEX >= 0x030D0000
  return PyThreadState_GetUnchecked();
#else
  return _PyThreadState_UncheckedGet();
#endif
}

inline bool IsFinalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// True when -E or -I told CPython to ignore PYTHON* environment variables.
// Read after pre-initialization, which sets the legacy global from the
// command line (deprecated since 3.12, still maintained through 3.13).
inline bool IgnoreEnvironment() {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  return Py_IgnoreEnvironmentFlag != 0;
#pragma GCC diagnostic pop
}

// Writes the Python traceback of every thread to `fd` without allocating
// (CPython's fatal_error does the same); false where the version exports no
// such function.
inline bool DumpTracebackThreads(int fd, PyThreadState* tstate) {
#if PY_VERSION_HEX < 0x030D0000
  _Py_DumpTracebackThreads(fd, PyThreadState_GetInterpreter(tstate), tstate);
  return true;
#else
  (void)fd;
  (void)tstate;
  return false;
#endif
}

// True when `interp` shares the main interpreter's obmalloc state (always
// before 3.12; with use_main_obmalloc = 1 after).
inline bool UsesMainObmalloc(PyInterpreterState* interp) {
#if PY_VERSION_HEX >= 0x030C0000
  return interpheap_pyhost_uses_main_obmalloc(interp) != 0;
#else
  (void)interp;
  return true;
#endif
}

}  // namespace interpheap::pyhost::compat

#endif  // INTERPHEAP_PYHOST_CPYTHON_COMPAT_H_
