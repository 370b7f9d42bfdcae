// alloc/hooks/debug_hooks.h: CPython's debug hooks on the three domains.
//
// A debug hook wraps a domain's allocator and decorates every block. With
// S = 8 (sizeof(size_t)) and N the requested size, it asks the wrapped
// allocator for N + 3S bytes (N + 4S with serial numbers) at q and returns
// p = q + 2S:
//
//   q[0:S]        N, big-endian
//   q[S]          API id: 'r' raw, 'm' mem, 'o' obj
//   q[S+1:2S]     7 x 0xFD (forbidden bytes)
//   p[0:N]        0xCD after malloc (clean bytes); zeros after calloc
//   p[N:N+S]      8 x 0xFD
//   p[N+S:N+2S]   serial number, big-endian (only with serial numbers)
//
// Every block handed out is recorded (alloc/hooks/debug_block_set.h), so
// free and realloc first check that the pointer is a live block: a double
// free, a realloc of a freed block and an interior, misaligned or foreign
// pointer each die with their own message before any byte at p is read.
// Free then checks the block (API id, then the leading pads, then the
// trailing pads), fills all of it with 0xDD (dead bytes) and frees q. Realloc
// checks, marks the old decorations and up to 64 bytes at each end dead (saving
// them), reallocates, rewrites the decorations, restores the saved bytes and
// fills growth with 0xCD; on failure the old block stays valid.
//
// The mem and obj hooks also check, before anything else, that the calling
// thread holds its current interpreter's lock ("called without holding the
// GIL"), and on free/realloc that the block's owning interpreter is the
// current one (naming the runtime cycle of a block that outlived its own). The
// raw hook checks neither. Every failure prints CPython's diagnostic dump and
// calls FatalError (alloc/fatal.h) with CPython's function names and messages.

#ifndef INTERPHEAP_ALLOC_HOOKS_DEBUG_HOOKS_H_
#define INTERPHEAP_ALLOC_HOOKS_DEBUG_HOOKS_H_

#include <cstddef>
#include <cstdint>

#include "alloc/allocator.h"
#include "alloc/allocator_table.h"

namespace interpheap::alloc {

inline constexpr unsigned char kCleanByte = 0xCD;
inline constexpr unsigned char kDeadByte = 0xDD;
inline constexpr unsigned char kForbiddenByte = 0xFD;

struct DebugHookOptions {
  // Adds the serial-number word to every block (CPython's
  // PYMEM_DEBUG_SERIALNO) and prints "The block was made by call #N" in
  // dumps.
  bool serial_numbers = false;
};

// The hook allocator of `domain` and the storage for what it wraps. Wrap
// it with AllocatorTable::Wrap(domain, DebugHook(domain),
// DebugHookLink(domain)); Runtime::SetupDebugHooks does that for every
// domain that has no debug hook yet.
ih_allocator_t DebugHook(Domain domain);
HookLink* DebugHookLink(Domain domain);

// The same hook for a caller that knows, for the whole call, that the layer
// below the hook of `domain` is pymalloc (mem/obj; raw: DebugHook()): its
// malloc and free call the current heap's inline paths without asking the
// link first. Never installed in the table. pyhost calls it when the
// domain's top word is one it validated as the debug hook over pymalloc
// (a hook layer's word fixes the layer below it: AllocatorTable interns a
// layer with what it wraps).
ih_allocator_t DebugHookOverPymalloc(Domain domain);

// What the mem/obj debug hooks do with a pool block freed or reallocated
// under an interpreter other than the one whose heap owns it (the block
// itself is always routed home, in every configuration):
//   kFatal:  the CPython-format dump and a fatal error naming both
//            interpreters (the library's default);
//   kReport: one line on stderr naming both interpreters, for the first
//            such free of the process; every one is counted
//            (CrossInterpreterFrees()). CPython hosts default to this so
//            that CPython's own interpreter tests, which free objects across
//            interpreters on purpose, run.
enum class CrossInterpreterFreePolicy { kFatal, kReport };
void SetCrossInterpreterFreePolicy(CrossInterpreterFreePolicy policy);
CrossInterpreterFreePolicy GetCrossInterpreterFreePolicy();
// Cross-interpreter frees the debug hooks have seen under kReport.
std::int64_t CrossInterpreterFrees();

// True if `allocator` is one of the debug hooks.
bool IsDebugHook(const ih_allocator_t& allocator);

// Serial numbers on or off for blocks allocated from now on. Only valid
// while no debug-hook block is live (Runtime checks).
void SetDebugHookOptions(const DebugHookOptions& options);
DebugHookOptions GetDebugHookOptions();

// Writes CPython's dump of the debug block at `p` to `fd`
// (_PyObject_DebugDumpAddress), including the tracemalloc section. Does not
// allocate. A pointer that is not a live block of the hooks is not read:
// the dump says so in one line.
void DumpDebugBlock(int fd, const void* p);

// Whether the hook of `domain` passes a pointer it never handed out down to
// the allocator it wraps (true when it was wrapped over a domain that may
// hold blocks without a debug header: Runtime::SetupDebugHooks) or dies
// with "pointer not allocated by the debug hooks" (false: the *_debug
// configurations, whose hooks see every block).
void SetPassUnknownPointersDown(Domain domain, bool pass);

// Forgets the blocks the hooks freed (remembered to name a double free).
// Runtime::SetupDebugHooks calls it before the hooks go on over blocks they
// never made: the allocator below may have handed such an address out since
// the hooks freed a block there in an earlier debug period (before a
// Reset), and that block must be passed down, not called a double free.
void ForgetFreedDebugBlocks();

// The predicate the mem/obj hooks use for "the calling thread holds its
// interpreter's lock". The default asks the current heap's lock; a CPython
// host installs one that asks PyGILState_Check(). nullptr restores the
// default.
using LockHeldPredicate = bool (*)();
void SetLockHeldPredicate(LockHeldPredicate predicate);

// The default predicate: the current heap's lock is held by this thread.
bool DefaultLockHeld();

// Test-only seam: `pause` (nullptr: none) runs inside every lock check,
// after the predicate was loaded and before it is called, so a test can
// park a thread there while another changes the predicate.
void SetLockCheckPauseForTesting(void (*pause)());

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_DEBUG_HOOKS_H_
