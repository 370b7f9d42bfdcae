// alloc/fatal.h: fatal errors that must not allocate, through a pluggable
// handler.
//
// An allocator that finds misuse (a mem/obj call without the lock, a
// corrupted block, a cross-interpreter free under debug hooks) cannot report
// it through anything that might allocate. FatalError hands the function
// name and the message to the installed handler, then aborts (also when the
// handler returns). The default handler writes
//   interpheap: fatal error: <function>: <message>
// to stderr with write(2). A CPython host installs one that prints
// CPython's "Fatal Python error: <function>: <message>" lines instead.

#ifndef INTERPHEAP_ALLOC_FATAL_H_
#define INTERPHEAP_ALLOC_FATAL_H_

#include <cstddef>

namespace interpheap::alloc {

using FatalHandler = void (*)(const char* function, const char* message);

// Installs `handler` (nullptr: the default). Thread-safe. Returns the
// previous handler.
FatalHandler SetFatalHandler(FatalHandler handler) noexcept;

[[noreturn]] void FatalError(const char* function, const char* message);

// Writes `text` to `fd` with write(2), retrying short writes. For fatal
// paths: no allocation, no stdio.
void WriteFully(int fd, const char* text, std::size_t length) noexcept;
void WriteFully(int fd, const char* text) noexcept;

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_FATAL_H_
