// bench/bench_cpython.cc: the side-by-side benchmarks' CPython peer:
// obmalloc through an embedded libpython3.11 (Debian's python3.11-dev),
// PyObject_Malloc/Free/Realloc called with the GIL held. `--malloc` takes
// PYTHONMALLOC's names (pymalloc, the default; pymalloc_debug or debug for
// CPython's debug hooks; malloc; malloc_debug), applied via PyPreConfig.
// Worker threads take the GIL for each batch of ops, so threads are
// serialized by it.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdlib>
#include <string>

#include "bench/bench_workloads.h"

namespace {

// Held by the main thread between Setup and Teardown (GIL released).
PyThreadState* main_state = nullptr;

// Each worker's thread state while it does not hold the GIL.
thread_local PyThreadState* saved_state = nullptr;
thread_local PyGILState_STATE gil_state;

void ThreadBegin(int) {
  gil_state = PyGILState_Ensure();
  saved_state = PyEval_SaveThread();
}

void ThreadEnd(int) {
  PyEval_RestoreThread(saved_state);
  PyGILState_Release(gil_state);
}

void Enter() { PyEval_RestoreThread(saved_state); }
void Leave() { saved_state = PyEval_SaveThread(); }

bool Setup(const std::string& config, int, const std::string&,
           std::string* error) {
  PyPreConfig pre;
  PyPreConfig_InitIsolatedConfig(&pre);
  if (config.empty() || config == "pymalloc") {
    pre.allocator = PYMEM_ALLOCATOR_PYMALLOC;
  } else if (config == "pymalloc_debug" || config == "debug") {
    pre.allocator = PYMEM_ALLOCATOR_PYMALLOC_DEBUG;
  } else if (config == "malloc") {
    pre.allocator = PYMEM_ALLOCATOR_MALLOC;
  } else if (config == "malloc_debug") {
    pre.allocator = PYMEM_ALLOCATOR_MALLOC_DEBUG;
  } else {
    *error = "unknown --malloc '" + config +
             "' (pymalloc, pymalloc_debug, debug, malloc, malloc_debug)";
    return false;
  }
  PyStatus status = Py_PreInitialize(&pre);
  if (PyStatus_Exception(status)) {
    *error = status.err_msg != nullptr ? status.err_msg : "Py_PreInitialize";
    return false;
  }
  PyConfig py;
  PyConfig_InitIsolatedConfig(&py);
  py.install_signal_handlers = 0;
  status = Py_InitializeFromConfig(&py);
  PyConfig_Clear(&py);
  if (PyStatus_Exception(status)) {
    *error = status.err_msg != nullptr ? status.err_msg : "Py_Initialize";
    return false;
  }
  main_state = PyEval_SaveThread();
  return true;
}

void Teardown() {
  PyEval_RestoreThread(main_state);
  if (Py_FinalizeEx() != 0) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  interpheap::bench::BenchAllocator allocator = {"cpython",
                                                 PyObject_Malloc,
                                                 PyObject_Free,
                                                 PyObject_Realloc,
                                                 ThreadBegin,
                                                 ThreadEnd,
                                                 Enter,
                                                 Leave,
                                                 "serialized by the GIL"};
  return interpheap::bench::BenchMain(argc, argv, &allocator,
                                      {Setup, Teardown});
}
