#include "pyhost/fatal_handler.h"

#include <Python.h>

#include "alloc/fatal.h"
#include "pyhost/cpython_compat.h"

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
  if (compat::IsFinalizing()) {
    alloc::WriteFully(kStderr, "finalizing");
  } else if (Py_IsInitialized()) {
    alloc::WriteFully(kStderr, "initialized");
  } else {
    alloc::WriteFully(kStderr, "initializing");
  }
  alloc::WriteFully(kStderr, "\n\n");
  // The thread's Python state, if it has one (no GIL needed to read it).
  // (3.13 exports no allocation-free dumper: the fatal lines stay, the
  // traceback goes.)
  PyThreadState* tstate = compat::CurrentThreadState();
  if (tstate != nullptr && compat::DumpTracebackThreads(kStderr, tstate)) {
    alloc::WriteFully(kStderr, "\n");
  }
}

}  // namespace interpheap::pyhost
