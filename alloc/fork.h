// alloc/fork.h: making fork() safe while other threads allocate.
//
// A child of fork() has one thread, a copy of the forking one. A lock that
// another thread held at the fork stays locked in the child forever, and
// the child's first allocation that needs it blocks forever. As jemalloc
// does, every lock the allocation paths take registers here: a
// pthread_atfork prepare handler takes them all, in rank order (which is
// the lock order), and the parent and child handlers release them, so the
// child starts with every such lock free and every structure consistent.
// Interpreter locks are not among them (the child keeps its own attachment;
// an interpreter another thread was attached to stays locked in the child,
// as a GIL would).

#ifndef INTERPHEAP_ALLOC_FORK_H_
#define INTERPHEAP_ALLOC_FORK_H_

#include "sync/mutex.h"

namespace interpheap::alloc {

// Ranks: lower ranks are taken first before fork. They follow the lock order
// (README "Lock order"): the runtime lock, the allocator table's, pymalloc's
// orphan lock, the arena allocator's, the arena map's, the heap registry's,
// then leaf locks such as tracemalloc's table lock.
enum class ForkRank {
  kRuntime = 0,
  kAllocatorTable = 10,
  kOrphans = 20,
  kArenaAllocator = 30,
  kArenaMap = 40,
  kHeapRegistry = 50,
  kTracemalloc = 60,
  // The debug hooks' block set: 16 shard locks, leaves (nothing is taken
  // while one is held).
  kDebugBlockSet = 70,
  // pymalloc's map of counted raw fallback blocks
  // (alloc/pymalloc/raw_block_map.h): its node-creation lock, a leaf.
  kRawBlockMap = 80,
};

// Registers `mu` for the fork handlers (installed with the first
// registration). Returns true, so a file can register a global lock from a
// namespace-scope initializer. At most 128 locks; more is a fatal error.
// Requires: `mu` lives for the rest of the process.
bool RegisterForkLock(sync::Mutex* mu, ForkRank rank);

// Test-only seam: called at the start of the prepare handler, before any
// lock is taken; nullptr (the default) for none.
void SetForkPrepareSeamForTesting(void (*seam)());

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_FORK_H_
