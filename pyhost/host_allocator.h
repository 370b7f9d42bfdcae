// pyhost/host_allocator.h: interpheap as CPython's allocator for the raw,
// mem and obj domains, with CPython's GIL as the lock of the host heap.
//
// The mapping. CPython runs many threads, serialized by the GIL; interpheap
// serves mem/obj from the heap of the calling thread's interpreter, guarded
// by that interpreter's lock. The host uses ONE interpheap interpreter for
// every CPython thread and every CPython (sub)interpreter (CPython 3.11 has
// one GIL and one obmalloc state for all of them): a host-locked interpreter
// (interp::LockKind::kHost) with its own heap, whose lock is the GIL.
//
//   PyMem_RawMalloc   ->  interpheap raw domain (thread-safe, no lock)
//   PyMem_Malloc      ->  interpheap mem/obj domain on the host heap: the
//   PyObject_Malloc       domain call and nothing else
//
// CPython calls mem/obj only with the GIL held, which is the host heap's
// lock, so interpheap takes no lock. The thread's current heap is set once
// per thread: the first mem/obj call of a thread (a `threading` thread,
// a C thread that took the GIL) finds it unset and sets it (one compare per
// call). The debug hooks' "called without holding the GIL" check asks the
// host heap's lock, that is PyGILState_Check(), as CPython's own hooks do.

#ifndef INTERPHEAP_PYHOST_HOST_ALLOCATOR_H_
#define INTERPHEAP_PYHOST_HOST_ALLOCATOR_H_

#include <Python.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "interp/interpreter.h"

namespace interpheap::pyhost {

// Creates the host interpreter: own heap, host-locked by CPython's GIL.
// Requires: interpheap is initialized; called once.
absl::StatusOr<interp::Interpreter*> CreateHostInterpreter();

// Installs the three domains with PyMem_SetAllocator, serving mem and obj
// from `host`'s heap as above.
// Requires: CPython is pre-initialized and not initialized (the replace
// window); `host` comes from CreateHostInterpreter() and stays alive for the
// rest of the process.
void InstallCPythonAllocators(interp::Interpreter* host);

// The interpreter InstallCPythonAllocators serves from; nullptr before.
interp::Interpreter* HostInterpreter();

// The interpheap interpreter serving the calling thread's CPython
// interpreter (CPython 3.12+; before, and without a thread state, the host
// interpreter). Requires: the calling thread holds that interpreter's GIL.
interp::Interpreter* CurrentHostInterpreter();

// Blocks of the heap serving CPython interpreter `interp` that were freed
// under another interpreter (its remote-free count).
long long RemoteFreesOf(PyInterpreterState* interp);

// CPython interpreters known to the map now (main's included), and those
// retired so far (3.12+; 0 before).
std::size_t LiveInterpreters();
std::uint64_t RetiredInterpreters();

}  // namespace interpheap::pyhost

#endif  // INTERPHEAP_PYHOST_HOST_ALLOCATOR_H_
