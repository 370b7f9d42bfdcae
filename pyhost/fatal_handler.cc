#include "pyhost/fatal_handler.h"

#include <Python.h>

#include "alloc/fatal.h"

// faulthandler's dumper, exported by libpython3.11 but declared only in
// CPython's internal headers (Include/internal/pycore_traceback.h). It reads
// frames without allocating; CPython's own fatal_error() calls it.
extern "C" const char* _Py_DumpTracebackThreads(int fd,
                                                PyInterpreterState* interp,
                                                PyThreadState* current_tstate);

namespace interpheap::pyhost {

void CPythonFatalHandler(const char* function, const char* message) {
  constexpr int kStderr = 2;
  alloc::WriteFully(kStderr, "Fatal Python error: ");
  if (function != nullptr && function[0] != '\0') {
    alloc::WriteFully(kStderr, function);
    alloc::WriteFully(kStderr, ": ");
  }
  alloc::WriteFully(kStderr, message);
  alloc::WriteFully(kStderr, "\nPython runtime state: ");
  if (_Py_IsFinalizing()) {
    alloc::WriteFully(kStderr, "finalizing");
  } else if (Py_IsInitialized()) {
    alloc::WriteFully(kStderr, "initialized");
  } else {
    alloc::WriteFully(kStderr, "initializing");
  }
  alloc::WriteFully(kStderr, "\n\n");
  // The thread's Python state, if it has one (no GIL needed to read it).
  PyThreadState* tstate = _PyThreadState_UncheckedGet();
  if (tstate != nullptr) {
    _Py_DumpTracebackThreads(kStderr, PyThreadState_GetInterpreter(tstate),
                             tstate);
    alloc::WriteFully(kStderr, "\n");
  }
}

}  // namespace interpheap::pyhost
