// pyhost/fatal_handler.h: interpheap's fatal errors in CPython's words.
//
// Installed as interpheap's fatal handler (alloc/fatal.h), it prints what
// CPython's Py_FatalError prints, then returns and interpheap aborts:
//
//   Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte
//   Python runtime state: initialized
//
//   Current thread 0x00007f... (most recent call first):
//     File "<string>", line 1 in <module>
//
// It never allocates: lines are written with write(2) and the traceback
// comes from faulthandler's allocation-free dumper.

#ifndef INTERPHEAP_PYHOST_FATAL_HANDLER_H_
#define INTERPHEAP_PYHOST_FATAL_HANDLER_H_

namespace interpheap::pyhost {

// Async-signal-safe, allocation-free; any thread.
void CPythonFatalHandler(const char* function, const char* message);

}  // namespace interpheap::pyhost

#endif  // INTERPHEAP_PYHOST_FATAL_HANDLER_H_
