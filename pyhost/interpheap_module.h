// pyhost/interpheap_module.h: the built-in module `_interpheap`, so Python
// code can see which allocator it runs on.
//
//   _interpheap.configuration_name()   "pymalloc_debug", ... (None: custom)
//   _interpheap.allocated_blocks()     live blocks of this interpreter's heap
//   _interpheap.interpreter_id()       the interpheap interpreter serving
//                                      this CPython interpreter (0: main)
//   _interpheap.remote_frees()         blocks of this interpreter's heap
//                                      freed under another interpreter
//   _interpheap.interpreters()         (live, retired) CPython interpreters
//                                      known to the host (3.12+)
//   _interpheap.global_allocated_blocks()
//   _interpheap.stats()                the pymalloc stats table, as text
//   _interpheap.getallocatedblocks()   installed as sys.getallocatedblocks
//   _interpheap.debugmallocstats()     installed as sys._debugmallocstats
//   _interpheap.buffer_overflow()      writes one byte past a 16-byte
//                                      PyMem_Malloc block, then frees it
//                                      (for tests of the debug hooks)

#ifndef INTERPHEAP_PYHOST_INTERPHEAP_MODULE_H_
#define INTERPHEAP_PYHOST_INTERPHEAP_MODULE_H_

#include "api/interpheap.h"

namespace interpheap::pyhost {

// Adds `_interpheap` to CPython's built-in modules, reporting on the
// interpheap interpreter that serves the calling CPython interpreter
// (pyhost/host_allocator.h). Requires: before Py_InitializeFromConfig.
void RegisterInterpheapModule();

// Replaces sys.getallocatedblocks and sys._debugmallocstats, which read
// CPython's obmalloc directly and so know nothing of any custom allocator,
// with `_interpheap`'s versions reporting the calling interpreter's heap, in
// the main interpreter and in every subinterpreter (3.11: all share the host
// heap, as all share obmalloc's one state; 3.12+: each interpreter with its
// own obmalloc state has its own heap). False with a Python exception set
// on failure.
// Requires: CPython initialized, the GIL held; called once.
bool InstallSysFunctions();

}  // namespace interpheap::pyhost

#endif  // INTERPHEAP_PYHOST_INTERPHEAP_MODULE_H_
