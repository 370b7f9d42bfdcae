// pyhost/interpheap_module.h: the built-in module `_interpheap`, so Python
// code can see which allocator it runs on.
//
//   _interpheap.configuration_name()   "pymalloc_debug", ... (None: custom)
//   _interpheap.allocated_blocks()     live blocks of the host heap
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

// Adds `_interpheap` to CPython's built-in modules, reporting on `host`, the
// host-locked interpreter that serves CPython's mem and obj domains.
// Requires: before Py_InitializeFromConfig.
void RegisterInterpheapModule(ih_interp_t* host);

// Replaces sys.getallocatedblocks and sys._debugmallocstats, which read
// CPython's obmalloc directly and so know nothing of any custom allocator,
// with `_interpheap`'s versions reporting the host heap, in the main
// interpreter and in every subinterpreter (all use the host heap, as all
// use obmalloc's one state in CPython 3.11). False with a Python exception
// set on failure.
// Requires: CPython initialized, the GIL held; called once.
bool InstallSysFunctions();

}  // namespace interpheap::pyhost

#endif  // INTERPHEAP_PYHOST_INTERPHEAP_MODULE_H_
