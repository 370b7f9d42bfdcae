#include "pyhost/interpheap_module.h"

#include <Python.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "alloc/pymalloc/pymalloc.h"
#include "api/interpheap.h"
#include "pyhost/cpython_compat.h"
#include "pyhost/cross_interpreter_free.h"
#include "pyhost/host_allocator.h"

namespace interpheap::pyhost {
namespace {

// Runs `fn` attached to the interpheap interpreter of the calling thread's
// CPython interpreter (host-locked by its GIL). Attaching to it takes no
// lock (the caller holds the GIL, its lock), so `fn` may allocate.
template <typename Fn>
bool WithHostAttached(Fn fn, ih_status_t* status) {
  // The C API's handle of an interpreter is its InterpreterHandle value
  // (api/interpheap.cc).
  ih_interp_t* const host_interp = reinterpret_cast<ih_interp_t*>(
      static_cast<std::uintptr_t>(CurrentHostInterpreter()->handle().value));
  if (ih_thread_current() == host_interp) {
    fn();
    return true;
  }
  if (ih_thread_attach(host_interp, status) != IH_OK) return false;
  fn();
  return ih_thread_detach(status) == IH_OK;
}

PyObject* ConfigurationName(PyObject*, PyObject*) {
  const char* name = ih_current_configuration_name();
  if (name == nullptr) Py_RETURN_NONE;
  return PyUnicode_FromString(name);
}

PyObject* AllocatedBlocks(PyObject*, PyObject*) {
  ih_status_t status;
  std::int64_t blocks = -1;
  const bool ok =
      WithHostAttached([&] { blocks = ih_allocated_blocks(&status); }, &status);
  if (!ok || blocks < 0) {
    PyErr_SetString(PyExc_RuntimeError, status.message);
    return nullptr;
  }
  return PyLong_FromLongLong(blocks);
}

PyObject* GlobalAllocatedBlocks(PyObject*, PyObject*) {
  return PyLong_FromLongLong(ih_global_allocated_blocks());
}

PyObject* Stats(PyObject*, PyObject*) {
  // The table is written to a pipe while attached, then read into a str.
  int fds[2];
  if (pipe(fds) != 0) return PyErr_SetFromErrno(PyExc_OSError);
  ih_status_t status;
  int written = IH_OK;
  const bool ok = WithHostAttached(
      [&] { written = ih_write_stats(fds[1], /*json=*/0, &status); }, &status);
  close(fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  if (!ok || written != IH_OK) {
    PyErr_SetString(PyExc_RuntimeError, status.message);
    return nullptr;
  }
  return PyUnicode_FromStringAndSize(text.data(),
                                     static_cast<Py_ssize_t>(text.size()));
}

PyObject* GetAllocatedBlocks(PyObject*, PyObject*) {
  ih_status_t status;
  std::int64_t blocks = -1;
  if (!WithHostAttached([&] { blocks = ih_allocated_blocks(&status); },
                        &status)) {
    blocks = -1;
  }
  // 0 when interpheap cannot count (mimalloc), as CPython without pymalloc.
  return PyLong_FromLongLong(blocks < 0 ? 0 : blocks);
}

// CPython's own sys._debugmallocstats, kept by InstallSysFunctions: with a
// custom allocator its obmalloc part prints nothing, and the rest prints
// the free-list lines (no longer exported as a function in 3.13).
PyCFunction cpython_debugmallocstats = nullptr;

PyObject* DebugMallocStats(PyObject* self, PyObject* args) {
  // sys._debugmallocstats(): this interpreter's heap table where CPython
  // prints obmalloc's, then CPython's free-list lines.
  std::fflush(stderr);
  ih_status_t status;
  int written = IH_OK;
  if (WithHostAttached(
          [&] { written = ih_write_stats(STDERR_FILENO, 0, &status); },
          &status) &&
      written == IH_OK) {
    std::fputc('\n', stderr);
  }
  if (cpython_debugmallocstats == nullptr) Py_RETURN_NONE;
  return cpython_debugmallocstats(self, args);
}

PyObject* InterpreterId(PyObject*, PyObject*) {
  return PyLong_FromLongLong(CurrentHostInterpreter()->id());
}

PyObject* RemoteFrees(PyObject*, PyObject*) {
  return PyLong_FromLongLong(CurrentHostInterpreter()->heap().remote_frees());
}

PyObject* Interpreters(PyObject*, PyObject*) {
  return Py_BuildValue("(nK)", static_cast<Py_ssize_t>(LiveInterpreters()),
                       static_cast<unsigned long long>(RetiredInterpreters()));
}

// _interpheap.arena_bytes(): (mapped, decommitted) bytes of every heap's
// arenas, retired heaps' included (alloc::GlobalArenaBytes).
PyObject* ArenaBytes(PyObject*, PyObject*) {
  const alloc::ArenaBytes bytes = alloc::GlobalArenaBytes();
  return Py_BuildValue("(LL)", static_cast<long long>(bytes.mapped),
                       static_cast<long long>(bytes.decommitted));
}

#if PY_VERSION_HEX >= 0x030C0000
// _interpheap.cross_interpreter_free(objects): the sequence of
// pyhost/cross_interpreter_free.h; returns how many of the new
// interpreter's blocks came home through its remote-free list.
PyObject* CrossInterpreterFree(PyObject*, PyObject* arg) {
  const long objects = PyLong_AsLong(arg);
  if (objects < 0 || objects > 10000000) {
    if (!PyErr_Occurred()) {
      PyErr_SetString(PyExc_ValueError, "objects must be in 0..10000000");
    }
    return nullptr;
  }
  struct Counts {
    long long before = 0;
    long long after = 0;
  } counts;
  const int ran = RunCrossInterpreterFree(
      static_cast<int>(objects),
      [](PyInterpreterState* sub, void* ctx) {
        static_cast<Counts*>(ctx)->before = RemoteFreesOf(sub);
      },
      [](PyInterpreterState* sub, void* ctx) {
        static_cast<Counts*>(ctx)->after = RemoteFreesOf(sub);
      },
      &counts);
  if (ran != 0) return nullptr;
  return PyLong_FromLongLong(counts.after - counts.before);
}
#endif

PyObject* BufferOverflow(PyObject*, PyObject*) {
  // CPython's _testcapi.pymem_buffer_overflow: the debug hooks must catch
  // the write past the end when the block is freed.
  char* buffer = static_cast<char*>(PyMem_Malloc(16));
  if (buffer == nullptr) return PyErr_NoMemory();
  volatile char* tail = buffer + 16;
  *tail = 'x';
  PyMem_Free(buffer);
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"configuration_name", ConfigurationName, METH_NOARGS,
     "The interpheap configuration in use (None: a custom hook on top)."},
    {"allocated_blocks", AllocatedBlocks, METH_NOARGS,
     "Blocks allocated and not freed through the host heap."},
    {"global_allocated_blocks", GlobalAllocatedBlocks, METH_NOARGS,
     "Every heap's live blocks plus leaked ones."},
    {"stats", Stats, METH_NOARGS,
     "The host heap's pymalloc stats table (CPython's format)."},
    {"getallocatedblocks", GetAllocatedBlocks, METH_NOARGS,
     "sys.getallocatedblocks() on interpheap: allocated_blocks(), or 0 "
     "when the configuration cannot count."},
    {"debugmallocstats", DebugMallocStats, METH_NOARGS,
     "sys._debugmallocstats() on interpheap: the stats table, then "
     "CPython's free lists, on stderr."},
    {"interpreter_id", InterpreterId, METH_NOARGS,
     "The interpheap interpreter serving this CPython interpreter."},
    {"remote_frees", RemoteFrees, METH_NOARGS,
     "Blocks of this interpreter's heap freed under another interpreter."},
    {"arena_bytes", ArenaBytes, METH_NOARGS,
     "(mapped, decommitted) bytes of every heap's arenas."},
    {"interpreters", Interpreters, METH_NOARGS,
     "(live, retired) CPython interpreters known to the host."},
#if PY_VERSION_HEX >= 0x030C0000
    {"cross_interpreter_free", CrossInterpreterFree, METH_O,
     "Frees a list made by an own-GIL interpreter under this one; returns "
     "the blocks routed home."},
#endif
    {"buffer_overflow", BufferOverflow, METH_NOARGS,
     "Writes past a PyMem_Malloc(16) block and frees it."},
    {nullptr, nullptr, 0, nullptr},
};

// Multi-phase initialization, so that every interpreter imports its own
// module object; the module has no state, so it declares (3.12+) that it
// runs in interpreters with their own GIL.
PyModuleDef_Slot slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, nullptr},
};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_interpheap",
    "interpheap, the allocator this Python runs on (pyhost).",
    0,
    methods,
    slots,
    nullptr,
    nullptr,
    nullptr,
};

PyObject* InitModule() { return PyModuleDef_Init(&module_def); }

}  // namespace

void RegisterInterpheapModule() {
  PyImport_AppendInittab("_interpheap", &InitModule);
}

bool InstallSysFunctions() {
  // Each interpreter's sys module builds its functions from one static
  // PyMethodDef table in libpython (sysmodule.c's sys_methods), and a
  // METH_NOARGS builtin calls its entry's ml_meth at every call. Pointing
  // the two entries at our functions therefore covers the main
  // interpreter's sys and every subinterpreter's, including those created
  // later (setting a sys attribute would reach the main one only).
  struct Patch {
    const char* sys_name;
    PyCFunction replacement;
  };
  for (const Patch& patch : {Patch{"getallocatedblocks", GetAllocatedBlocks},
                             Patch{"_debugmallocstats", DebugMallocStats}}) {
    PyObject* function = PySys_GetObject(patch.sys_name);  // borrowed
    if (function == nullptr || !PyCFunction_Check(function)) {
      PyErr_Format(PyExc_RuntimeError, "pyhost: sys.%s is not a builtin",
                   patch.sys_name);
      return false;
    }
    PyMethodDef* def = reinterpret_cast<PyCFunctionObject*>(function)->m_ml;
    if (def->ml_flags != METH_NOARGS) {
      PyErr_Format(PyExc_RuntimeError,
                   "pyhost: sys.%s does not take METH_NOARGS", patch.sys_name);
      return false;
    }
    if (patch.replacement == DebugMallocStats) {
      cpython_debugmallocstats = def->ml_meth;
    }
    def->ml_meth = patch.replacement;
  }
  return true;
}

}  // namespace interpheap::pyhost
