// pyhost/cross_interpreter_free.h: the free that crashes CPython's obmalloc
// with interpreters of their own (gh-111751 and relatives), as one
// deterministic C API sequence: an interpreter with its own GIL and
// obmalloc state makes a list of `objects` ints, the calling interpreter
// becomes current again, and the list is released there. CPython 3.12 and
// 3.13 on obmalloc abort ("free(): invalid pointer" or munmap_chunk());
// pyhost routes every block home through the owner heap's remote-free
// list. Used by `_interpheap.cross_interpreter_free()` and by the stock
// binary tests/pyhost/cross_free_stock.cc, so both run the same steps.

#ifndef INTERPHEAP_PYHOST_CROSS_INTERPRETER_FREE_H_
#define INTERPHEAP_PYHOST_CROSS_INTERPRETER_FREE_H_

#include <Python.h>

#if PY_VERSION_HEX >= 0x030C0000

namespace interpheap::pyhost {

// Runs the sequence from a thread holding the GIL of its current
// interpreter. `before_release(sub)` runs in the caller's interpreter just
// before the list is released, `after_release(sub)` just after (both may be
// nullptr); `sub` is the new interpreter, still alive. Returns 0, or -1 with
// a Python exception set when the interpreter cannot be created.
inline int RunCrossInterpreterFree(
    int objects, void (*before_release)(PyInterpreterState* sub, void* ctx),
    void (*after_release)(PyInterpreterState* sub, void* ctx), void* ctx) {
  PyThreadState* const caller = PyThreadState_Get();
  PyInterpreterConfig config = {};
  config.use_main_obmalloc = 0;
  config.allow_fork = 0;
  config.allow_exec = 0;
  config.allow_threads = 1;
  config.allow_daemon_threads = 0;
  config.check_multi_interp_extensions = 1;
  config.gil = PyInterpreterConfig_OWN_GIL;
  PyThreadState* sub = nullptr;
  const PyStatus status = Py_NewInterpreterFromConfig(&sub, &config);
  if (PyStatus_Exception(status)) {
    PyThreadState_Swap(caller);
    PyErr_SetString(PyExc_RuntimeError,
                    "cannot create an interpreter with its own GIL");
    return -1;
  }
  // In the new interpreter: its own heap (pyhost) or obmalloc state.
  PyObject* list = PyList_New(0);
  for (int i = 0; list != nullptr && i < objects; ++i) {
    PyObject* value = PyLong_FromLong(1000003L * i);  // not a cached small int
    if (value == nullptr || PyList_Append(list, value) != 0) Py_CLEAR(list);
    Py_XDECREF(value);
  }
  PyInterpreterState* const sub_interp = PyThreadState_GetInterpreter(sub);
  // Back in the caller's interpreter: the list and its items are released
  // while another interpreter is current.
  PyThreadState_Swap(caller);
  if (before_release != nullptr) before_release(sub_interp, ctx);
  Py_XDECREF(list);
  if (after_release != nullptr) after_release(sub_interp, ctx);
  PyThreadState_Swap(sub);
  Py_EndInterpreter(sub);
  PyThreadState_Swap(caller);
  return 0;
}

}  // namespace interpheap::pyhost

#endif  // PY_VERSION_HEX >= 0x030C0000

#endif  // INTERPHEAP_PYHOST_CROSS_INTERPRETER_FREE_H_
