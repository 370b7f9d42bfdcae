// pyhost/host_allocator.h: interpheap as CPython's allocator for the raw,
// mem and obj domains, and CPython's GIL as the debug hooks' lock.
//
// The mapping. CPython runs many threads, serialized by the GIL; interpheap
// serves mem/obj from the heap of the calling thread's interpreter, guarded
// by that interpreter's lock. The host uses ONE interpheap interpreter, the
// main one, with its own lock and heap, for every CPython thread and every
// CPython (sub)interpreter:
//
//   PyMem_RawMalloc   ->  interpheap raw domain (thread-safe, no lock)
//   PyMem_Malloc      ->  take main's lock; the thread's current heap is
//   PyObject_Malloc       main's heap; interpheap mem/obj domain; restore
//                         the current heap; release the lock
//
// CPython calls mem/obj only with the GIL held, so main's lock is always
// free when taken (one uncontended compare-and-swap each way): it makes
// interpheap's "heap touched under its guard" rule literally true for every
// thread, without hooking GIL hand-offs, and keeps the heap consistent even
// for a caller that breaks CPython's rule. No thread holds main's lock
// outside these calls. The debug hooks' "called without holding the GIL"
// check asks PyGILState_Check(), as CPython's own hooks do.

#ifndef INTERPHEAP_PYHOST_HOST_ALLOCATOR_H_
#define INTERPHEAP_PYHOST_HOST_ALLOCATOR_H_

#include "interp/interpreter.h"

namespace interpheap::pyhost {

// Installs the three domains with PyMem_SetAllocator, serving mem and obj
// from `main`'s heap as above, and PyGILState_Check as the debug hooks'
// lock predicate.
// Requires: CPython is pre-initialized and not initialized (the replace
// window), interpheap is initialized and `main` is its main interpreter,
// alive for the rest of the process.
void InstallCPythonAllocators(interp::Interpreter* main);

// The interpreter InstallCPythonAllocators serves from; nullptr before.
interp::Interpreter* HostInterpreter();

}  // namespace interpheap::pyhost

#endif  // INTERPHEAP_PYHOST_HOST_ALLOCATOR_H_
