// pyhost/thread_state_slot.h: the calling thread's current CPython thread
// state, read without a call into libpython (CPython 3.12+).
//
// Every mem/obj call must know the calling thread's interpreter, which only
// CPython's thread-local "current thread state" variable (_Py_tss_tstate)
// says. libpython does not export it: PyThreadState_GetUnchecked() (3.13,
// _PyThreadState_UncheckedGet() in 3.12) reads it for us, at the price of a
// call through the PLT and a __tls_get_addr() call per allocation (about 18
// instructions, a third of pymalloc's whole fast path). The getter's body
// is the general-dynamic TLS sequence the x86-64 ABI fixes
// (`66 48 8d 3d <tls_index>`, `66 66 48 e8 <__tls_get_addr>`), so its
// tls_index locates the variable: once per thread, __tls_get_addr() of that
// index gives the variable's address, and from then on the thread reads it
// with one load.
//
// Checked, never assumed: a thread's slot is used only after it read the
// same non-null thread state as the getter; one mismatch, an unrecognized
// getter (another dialect, another architecture) or a missing libpython
// turns the direct read off for the process, and every call goes through
// the getter as before.

#ifndef INTERPHEAP_PYHOST_THREAD_STATE_SLOT_H_
#define INTERPHEAP_PYHOST_THREAD_STATE_SLOT_H_

#include <Python.h>

namespace interpheap::pyhost {

// Locates the getter's tls_index. Call once, before any mem/obj call of
// another thread (InstallCPythonAllocators does). False if the direct read
// is not available (every lookup then calls the getter).
bool LocateThreadStateSlot();

// The address of the calling thread's current-thread-state variable, if
// the direct read is available and agrees with `current`, the getter's
// answer on this thread (not nullptr); otherwise nullptr, and on a
// disagreement the direct read is off for every thread from now on.
PyThreadState* const* ThreadStateSlotOfThisThread(PyThreadState* current);

}  // namespace interpheap::pyhost

#endif  // INTERPHEAP_PYHOST_THREAD_STATE_SLOT_H_
