// alloc/pymalloc/pymalloc.h: the small-object allocator behind the mem and obj
// domains, one Heap per interpreter.
//
// Layers, top to bottom:
//
//   mem / obj domain   ih_mem_malloc(n), ih_obj_malloc(n)    (alloc/domain.h)
//        |
//   pymalloc           the calling thread's current Heap: n in 1..512
//        |             from a pool of n's size class; 0, > 512 and
//        |             out-of-memory go to the raw domain
//   arena allocator    1 MiB arenas, mmap by default
//   (alloc/pymalloc/arena_allocator.h)
//        |
//   the OS
//
// Size classes: 32 of them, 16 bytes apart (16-byte alignment):
//
//   request (bytes)   block size   size class
//        1 - 16            16            0
//       17 - 32            32            1
//       33 - 48            48            2
//          ...            ...          ...
//      497 - 512          512           31
//
// A pool is 16 KiB of same-size blocks behind a 48-byte PoolHeader; an
// arena is 1 MiB carved lazily into 64 pools (63 when the arena's base is
// not 16 KiB aligned). Within a pool, blocks are carved lazily too: the free
// list holds freed blocks and carved ones (up to kCarveBatch at a time, in
// address order, when the list is empty), and `next_offset` marks the first
// never-used one.
//
// Pool states and transitions:
//   used:  some blocks allocated, some free. Linked in used_pools_[class]
//          (a circular doubly-linked list with a sentinel), so allocation
//          finds it in O(1). current_[class] points at the first one.
//   full:  every block allocated. In no list. Freeing a block makes it used
//          again, linked at the back of its class list (CPython: the
//          front), so it gathers free blocks before it serves again.
//   empty: no block allocated. In its arena's free_pools list (singly
//          linked, LIFO). Allocating takes it again; if it last held the
//          same size class its free list is reused as is.
//   used -> full   (last free block allocated)     full -> used  (one freed)
//   used -> empty  (last allocated block freed)    empty -> used (reused)
//
// The fast paths (inline Malloc and Free) do one test each: Malloc pops
// current_[class]'s free list unless it is empty; Free pushes onto the
// block's pool unless ArenaMap::Owner(p) is not fast_owner_ (another heap,
// a raw block, or checked mode). The transitions are the slow paths'. A
// used pool whose free list runs dry stays first in its list: the next
// allocation carves more blocks or finds it full and unlinks it; a free
// into a pool whose free list was empty or that it empties calls
// PoolFreeTransition(). Under the checkers (checked mode, chosen once per
// heap), current_ points at the classes' sentinels (empty free lists) and
// fast_owner_ at no heap, so every call takes the slow paths, which tell
// the checkers: no flag is tested on the fast paths.
//
// Counting. No operation counts blocks heap-wide: each pool's ref_count is
// the one count, and a heap's pool blocks are their sum over the carved
// pools, as CPython's _Py_GetAllocatedBlocks() (the guard holder sums
// directly). Threads without the guard (GlobalAllocatedBlocks(),
// Runtime::InterpreterAllocatedBlocks()) sum under the ownership map's
// lock, which the guard holder also takes whenever it adds, moves (arenas_
// grows) or returns arena records: so the arenas read stay mapped. ref_count
// is a relaxed atomic written by the guard holder only; carve_address is
// release-stored after each new pool header. A retired heap (an orphan)
// counts instead (orphan_pool_blocks_), so that each block coming home does
// not sum its pools.
//
// Arenas: usable_arenas_ lists the arenas with at least one free pool,
// ordered by ascending free-pool count, so the fullest arena serves first
// and nearly empty ones drain. last_with_free_[k] points at the rightmost
// arena with k free pools, which keeps the order in O(1) per free. An arena
// whose pools are all free is returned through the arena allocator, unless
// it is the last one in usable_arenas_ (kept to avoid thrashing).
//
// Ownership is process-wide (alloc/pymalloc/arena_map.h): every arena is
// registered with its heap. Freeing or reallocating a block of another heap
// (another interpreter's) never touches that heap's pools: the block is pushed
// on the owner's lock-free remote-free list, which the owner drains under its
// own lock (on its allocation slow path, before Runtime's stats, at retire).
//
// Synchronization (other files point here). Each rule names the test that
// parks a thread in its window.
//
//   Who may touch a heap. Its structure (pools, arenas, free lists, the
//   guarded fields) only under its guard: the lock of the interpreter(s)
//   using it, held by the attached thread; an orphan's guard is
//   OrphanLock(). Any other thread reaches a heap only through
//   PushRemoteFree() (a block of it freed or reallocated elsewhere) and the
//   relaxed counters. (tests/interp/lifetime_test: *Destroy*)
//
//   The remote-free protocol. A freeing thread holds a live block `p` of
//   heap H, so H cannot be freed before p is published. It (1) raises
//   remote_pending_ and remote_frees_, (2) raises the in-flight count in
//   push_state_, (3) publishes p with a release CAS on remote_free_head_,
//   (4) leaves: lowers the in-flight count with a CAS that fails if H has
//   been orphaned meanwhile. After a successful (4) it touches nothing of H.
//   Counters come before publication so that a heap retired in between
//   counts p as freed, not leaked (HeapLifetimeTest.
//   RemoteFreeParkedBeforePublishingIsNotALeak parks at step 2), and the
//   in-flight count keeps H alive from (3) to (4) (HeapLifetimeTest.
//   RemoteFreeParkedAfterPublishingOutlivesOwnerDestroy parks at step 3;
//   it was a heap-use-after-free under ASan). The owner drains with an
//   acquire exchange under its guard.
//
//   How long a heap lives. Retire() (interpreter destroyed) takes the
//   orphan lock, switches the guard to it, sets the orphan bit, drains, and
//   frees the heap at once if no pool block is live and no push is in
//   flight. Otherwise the heap is an orphan: still registered (counted in
//   GlobalAllocatedBlocks() and LeakedBlocks(), reachable for
//   LeakSanitizer), its arenas mapped. A pusher that finds the orphan bit
//   when it leaves drains the orphan under the orphan lock and frees it if
//   its last block just came home and no other push is in flight: exactly
//   one thread frees it, and only under the orphan lock. (HeapLifetimeTest.
//   LeakedBlocksFreedLaterKeepCountsExactAndFreeArenas.)
//
//   Counts without the guard. AllocatedBlocksRelaxed() sums pool counts
//   under the ownership map's lock (see "Counting" above): the guard
//   holder takes that lock to add, move or return arena records, so the
//   walk never reads an unmapped pool header. Lock order: the map's lock
//   before the registry's (GlobalAllocatedBlocks() takes both).
//   (CApiHeapTest.ProcessWideCallsWhileInterpretersRun,
//   PymallocTest.CountsSummedWhileTheOwnerReturnsAnArena.)
//
//   What an orphan keeps committed. An orphan never allocates again, so
//   Retire() gives back to the OS (madvise MADV_DONTNEED, under the orphan
//   lock) its empty pools (unlisted; headers then read as zeros), its
//   never-carved pools, and every page of a used pool but the header's
//   that holds no live block; a pool a later free empties goes back too
//   (PoolBecameEmpty). A leaked block's pages and pool header stay, so it
//   keeps its contents and can still come home. The price: the free lists
//   of an orphan's used pools may run into given-back pages, so they are
//   never walked again (an orphan only pushes onto them). Nothing is given
//   back while the heap is live, nor adopted by a later heap.
//   (HeapLifetimeTest.OrphanCommitsOnlyPoolsWithLeakedBlocks;
//   LifetimeTest.LeakingCyclesKeepCommittedArenaBytesBounded.)
//
//   Inspection never changes structure. Counts subtract pending remote
//   frees instead of draining; Stats() and Validate() only read; the
//   NewArenaObserver runs before any structure change. (HeapLifetimeTest.
//   StatsGatheredBeforeNewArenaChangeNothing hands a block back from inside
//   the observer.)
//
//   Lock order (README "Lock order"): interpreter lock (at most one per
//   thread: destroy takes none) -> runtime lock -> allocator table lock ->
//   orphan lock -> arena allocator lock -> arena map lock -> heap registry
//   lock -> tracemalloc's table lock. (LifetimeTest.
//   EveryDestroySequenceFromEveryAttachmentWorks.)
//
//   Hooks and their layers (alloc/allocator_table.h, "Slots and
//   readers"). A domain call copies its top layer and validates the copy
//   (generation, then still the top), so an unwrapped layer's slot can be
//   reused at once; a library hook reads what it wraps through a HookLink
//   (slot + generation), never through five words a re-wrap rewrites. An
//   unwrapped hook's ctx may be freed once every thread that may have been
//   inside it has returned from that call; the table never waits.
//   (AllocatorTableTest.CallHoldingAReusedSlotStartsAgainFromTheTop,
//   HookRewrappedWhileAThreadIsInsideItReadsAWholeLayer,
//   HookWhoseWrappedLayerWasReusedForwardsToTheTop park a thread there.)
//
//   Fork. alloc/fork.h takes every lock of the order above but interpreter
//   locks before fork() and releases them in parent and child
//   (tests/alloc/fork_test).
//
// Files: pymalloc.cc (allocation, free, realloc, pools and arenas, retire),
// remote_free.cc (the remote-free protocol), heap_inspection.cc (counts,
// stats numbers, Validate; never changes structure), heap_registry.h (live
// heaps and the global counts), raw_block_map.h (the raw fallback blocks
// counted), pymalloc_allocator.h (the mem/obj entry points, and the C
// library's for mem/obj), stats.h (the stats table and
// INTERPHEAP_MALLOCSTATS).
//
// Invariants (checked by Heap::Validate()):
//   a carved pool's ref_count + free-list length + never-carved blocks ==
//     its class's blocks per pool
//   a pool's ref_count == 0  <=>  it is in its arena's free_pools list
//   a pool with ref_count > 0 is linked in used_pools_[its class] with a
//     non-empty free list or with blocks left to carve, or is unlinked and
//     full; used_pools_[c] holds exactly the linked pools of class c, and
//     current_[c] is its first pool (its sentinel in checked mode); the
//     sentinels' free lists are empty
//   arena.free_pool_count == pools in free_pools + uncarved pools
//   usable_arenas_ is ascending by free_pool_count, and last_with_free_[k]
//     is its rightmost arena with k free pools (nullptr when there is none)
//   usable_arenas_ holds exactly the arenas with free_pool_count > 0

#ifndef INTERPHEAP_ALLOC_PYMALLOC_PYMALLOC_H_
#define INTERPHEAP_ALLOC_PYMALLOC_PYMALLOC_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "alloc/allocator.h"
#include "alloc/external/memcheck.h"
#include "alloc/pymalloc/arena_allocator.h"
#include "alloc/pymalloc/arena_map.h"
#include "alloc/pymalloc/heap_registry.h"
#include "sync/mutex.h"

namespace interpheap::alloc {

inline constexpr std::size_t kAlignment = 16;
inline constexpr int kAlignmentShift = 4;
inline constexpr std::size_t kSmallRequestThreshold = 512;
inline constexpr int kSizeClassCount =
    static_cast<int>(kSmallRequestThreshold / kAlignment);
inline constexpr int kPoolBits = 14;
inline constexpr std::size_t kPoolSize = std::size_t{1} << kPoolBits;
inline constexpr std::size_t kPoolOverhead = 48;
inline constexpr int kPoolsPerArena = static_cast<int>(kArenaSize / kPoolSize);
inline constexpr int kInitialArenaObjects = 16;

static_assert(kSizeClassCount == 32);
static_assert(kPoolsPerArena == 64);
static_assert(kPoolOverhead % kAlignment == 0);

// The size class of a request of 1..512 bytes.
constexpr int SizeClassOf(std::size_t n) {
  return static_cast<int>((n - 1) >> kAlignmentShift);
}
// The block size of a size class.
constexpr std::size_t BlockSizeOf(int size_class) {
  return static_cast<std::size_t>(size_class + 1) << kAlignmentShift;
}
// Blocks per pool of a size class: 1021 for 16 bytes, 31 for 512.
constexpr std::size_t BlocksPerPool(int size_class) {
  return (kPoolSize - kPoolOverhead) / BlockSizeOf(size_class);
}
static_assert(BlocksPerPool(0) == 1021);
static_assert(BlocksPerPool(31) == 31);

// A free block's first word links it to the next free block.
struct FreeBlock {
  FreeBlock* next;
};

// The header at the start of every pool.
struct PoolHeader {
  FreeBlock* free_list;  // freed or carved blocks, LIFO; nullptr when none
  PoolHeader* next;      // used_pools_ list, or the arena's free_pools
  PoolHeader* prev;      // used_pools_ list only
  // Blocks allocated from this pool. Written only by the heap's guard
  // holder (a relaxed load and store, no read-modify-write); read relaxed
  // by AllocatedBlocksRelaxed() from any thread (see "Counting").
  std::atomic<std::uint32_t> ref_count;
  std::uint32_t next_offset;      // first never-used block
  std::uint32_t max_next_offset;  // kPoolSize - block size
  std::uint32_t arena_index;      // index of the arena in arenas_
  // Written when the pool takes a size class, while no block of it is live;
  // a field of its own (a memory location apart from the others), so a
  // cross-heap realloc may read it while the owner updates the others.
  std::uint32_t size_class;
  std::uint16_t linked;  // 1 while in used_pools_[size_class]
  // Pages of a retired heap's used pool given back to the OS (whole pages
  // holding no live block: Heap::DecommitFreePools); 0 otherwise.
  std::uint16_t decommitted_pages;
};
static_assert(sizeof(PoolHeader) <= kPoolOverhead);

// One arena's bookkeeping.
struct ArenaObject {
  std::uintptr_t address;        // 0: this slot has no arena
  std::uintptr_t carve_address;  // the next never-used pool
  std::uint32_t free_pool_count;
  std::uint32_t total_pool_count;
  PoolHeader* free_pools;    // emptied pools, LIFO
  ArenaObject* next;         // usable_arenas_ or unused slot list
  ArenaObject* prev;         // usable_arenas_ only
  ArenaAllocator allocator;  // what gave this arena (and takes it back)
  // Under valgrind or ASan only (alloc/external/memcheck.h): the size requested
  // for each live block, indexed by (block - address) / 16, so that realloc
  // copies only bytes the caller may have written.
  std::uint16_t* requested_sizes;
  // Empty pools of an orphan given back to the OS (Heap::DecommitEmptyPool):
  // in no list, their headers read as zeros; counted in free_pool_count.
  std::uint32_t decommitted_pools;
  // Bytes of this arena given back to the OS (those pools, never-carved
  // pools, free pages of used pools), for GlobalArenaBytes().
  std::uint64_t decommitted_bytes;
};

// Numbers for the stats table (alloc/pymalloc/stats.h).
struct HeapStats {
  std::size_t pools[kSizeClassCount] = {};
  std::size_t blocks_in_use[kSizeClassCount] = {};
  std::size_t blocks_available[kSizeClassCount] = {};
  std::size_t free_pools = 0;
  std::size_t arena_alignment_bytes = 0;
  std::size_t arenas_allocated_total = 0;
  std::size_t arenas_current = 0;
  std::size_t arenas_highwater = 0;
  std::size_t map_leaf_count = 0;
};

// The pymalloc state of one interpreter (or of main, shared by interpreters
// configured with the main heap).
//
// Thread-compatible; guarded by the owning interpreter's lock (`guard`),
// except the remote-free list and the counters that other threads read,
// which are atomics.
class Heap {
 public:
  // `guard` is the lock of every interpreter using this heap. `owner_id` is
  // the owning interpreter's id, for diagnostics. A heap is never deleted
  // directly: Retire() ends it (see "Synchronization").
  Heap(sync::Mutex* guard, std::int64_t owner_id);
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  sync::Mutex& guard() const ABSL_LOCK_RETURNED(*guard_) { return *guard_; }
  std::int64_t owner_id() const { return owner_id_; }
  // Unique in the process (never reused, unlike the heap's address).
  std::uint64_t serial() const { return serial_; }
  // The runtime cycle the heap was made in (RuntimeCycle()): every cycle's
  // main interpreter is 0, so diagnostics name the cycle of a block that
  // outlived its runtime.
  std::uint64_t cycle() const { return cycle_; }

  // pymalloc's four operations on this heap. n in 1..512 is served from the
  // pools; 0, > 512 and pool exhaustion go to the raw domain (counted as
  // raw blocks). A block of another heap is handed back to it (remote free)
  // and never reaches the raw domain. Realloc keeps the block when the new
  // size stays in its class and above 3/4 of it.
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline void* Malloc(std::size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  void* Calloc(std::size_t nelem, std::size_t elsize)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  void* Realloc(void* p, std::size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Free(void* p)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // Blocks allocated through this heap and not freed: pool blocks plus raw
  // fallback blocks; blocks handed back but not drained yet count as freed.
  // Never changes the heap's structure. Pool blocks are
  // exact wherever they are freed; a raw fallback block (0 or > 512 bytes)
  // has no owner record, so it is counted by the interpreter that frees it,
  // as CPython does: when such blocks cross interpreters the per-heap
  // numbers shift between heaps while their sum (GlobalAllocatedBlocks)
  // stays exact. Raw fallback blocks are recorded
  // (alloc/pymalloc/raw_block_map.h): a pointer pymalloc never counted
  // (ih_mem_free(malloc(16))) is passed to the raw domain uncounted, so no
  // count goes negative.
  std::int64_t AllocatedBlocks() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // Pool blocks only: exact per heap.
  std::int64_t PoolBlocks() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // The same, without the heap's lock: exact when the heap is quiescent, a
  // close estimate while its interpreter runs. For global counts. Sums the
  // pools' counts under the ownership map's lock (see "Counting").
  std::int64_t AllocatedBlocksRelaxed() const
      ABSL_LOCKS_EXCLUDED(ArenaMap::Global().lock());
  // The same, for a caller that already holds the ownership map's lock
  // (GlobalAllocatedBlocks(): the map's lock comes before the registry's).
  std::int64_t AllocatedBlocksMapLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(ArenaMap::Global().lock());

  // Arenas this heap holds now, readable from any thread (for progress
  // displays; exact when the heap is quiescent).
  std::size_t arenas_current_relaxed() const {
    return arenas_current_for_readers_.load(std::memory_order_relaxed);
  }

  // Remote frees received so far (blocks handed back by other heaps).
  std::int64_t remote_frees() const {
    return remote_frees_.load(std::memory_order_relaxed);
  }

  // Frees the blocks other heaps handed back; returns how many.
  std::int64_t DrainRemoteFrees() ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // What Retire() found.
  struct RetireResult {
    // Pool blocks live when the heap was retired (a free in flight at that
    // moment is not one): they are added to LeakedBlocks() until they come
    // home. 0 with no free in flight: the heap was freed at once.
    std::int64_t leaked_blocks;
  };
  // Ends the heap when its interpreter is destroyed, instead of `delete`:
  // drains its remote frees and moves its raw fallback count to the global
  // count. With no live pool block and no remote free in flight the heap is
  // freed now, its arenas returned through their arena allocators.
  // Otherwise it becomes an orphan, guarded by the orphan lock from now on:
  // its arenas stay mapped (leaked pointers remain valid), blocks freed into
  // it later are drained at once by the freeing thread, and the thread that
  // brings its last block home frees it. `heap` must not be used after.
  // Requires: the heap is quiescent: no thread has it as its current heap,
  // and the caller synchronized with the last one that had (it read the
  // interpreter's attached-thread count, acquire, after that thread's
  // detach).
  [[nodiscard]] static RetireResult Retire(Heap* heap)
      ABSL_LOCKS_EXCLUDED(OrphanLock());

  // The lock of every orphaned heap (see Retire()). Lock order: after any
  // interpreter lock, before the arena map's and the heap registry's.
  static sync::Mutex& OrphanLock();

  // True once the heap is retired with live blocks or a free in flight.
  bool orphaned() const {
    return (push_state_.load(std::memory_order_acquire) & kOrphaned) != 0;
  }

  // The stats table's numbers. Reads only: never drains or changes the
  // heap's structure, so it is safe from a NewArenaObserver. Blocks handed
  // back but not drained yet still count as in use (drain first, as
  // Runtime::CurrentHeapStats() does, for exact numbers).
  HeapStats Stats() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // Checks the invariants in the file comment; the first violation found.
  absl::Status Validate() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // Hands `p`, a block of this heap, back from another thread or heap.
  // Lock-free, any thread, unless the heap is an orphan: then the calling
  // thread also drains it under OrphanLock() and frees it if `p` was its
  // last block. The remote-free protocol is in "Synchronization".
  void PushRemoteFree(void* p) ABSL_LOCKS_EXCLUDED(OrphanLock());

  // Test-only seam: where PushRemoteFree can park a thread.
  enum class RemoteFreeStep {
    kCounted,    // counters raised, the block not yet published
    kPublished,  // the block is on the list; the push is still in flight
  };
  using RemoteFreeSeam = void (*)(RemoteFreeStep step, void* block);
  // nullptr (the default) in production; tests set it to park a thread.
  static void SetRemoteFreeSeamForTesting(RemoteFreeSeam seam);

  // Test-only seam: AllocatedBlocksRelaxed() (and the global counts) call
  // it for each arena they are about to read, holding the map's lock;
  // nullptr (the default) in production.
  using CountSeam = void (*)(std::uintptr_t arena_address);
  static void SetCountSeamForTesting(CountSeam seam);

 private:
  friend void RegisterHeap(Heap* heap);
  friend void UnregisterHeap(Heap* heap);
  friend std::int64_t GlobalAllocatedBlocks();
  friend std::int64_t LeakedBlocks();
  friend std::int64_t GlobalRemoteFrees();
  friend void ForEachOrphan(absl::FunctionRef<void(Heap&)> visit);

  ~Heap();

  // push_state_: bit 0 is set by Retire() when the heap becomes an orphan;
  // the rest counts remote frees in flight, kPushInFlight each.
  static constexpr std::uint64_t kOrphaned = 1;
  static constexpr std::uint64_t kPushInFlight = 2;

  // The end of a remote free: leaves the in-flight count. An orphan's
  // pusher leaves under OrphanLock() and reclaims the orphan if empty.
  void LeaveRemoteFree() ABSL_LOCKS_EXCLUDED(OrphanLock());
  // Drains an orphan, and frees it when no pool block is live and no push
  // is in flight. Returns true if it freed the heap.
  static bool ReclaimIfEmptyLocked(Heap* heap)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(OrphanLock());
  // Returns every arena through its arena allocator.
  void ReleaseAllArenas() ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // Everything Malloc's and Free's inline fast paths leave out: sizes for
  // the raw domain, a class whose current pool has no free block (carving,
  // full pools, new pools and arenas), blocks of other heaps, and the
  // checkers' bookkeeping (alloc/external/memcheck.h).
  ABSL_ATTRIBUTE_NOINLINE void* MallocSlow(std::size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // `owner` is ArenaMap's answer for p: this heap (under the checkers),
  // another heap, or nullptr.
  ABSL_ATTRIBUTE_NOINLINE void FreeSlow(void* p, Heap* owner)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // A free found its pool's free list empty (the pool was full, or its
  // free list ran dry while it stayed linked) or emptied the pool: the
  // pool state transitions CPython makes on free.
  ABSL_ATTRIBUTE_NOINLINE void PoolFreeTransition(PoolHeader* pool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // Takes the first block of `pool`'s free list, which is not empty.
  // kMayBeWatched: the checkers (alloc/external/memcheck.h) may be
  // watching, so the link word is opened for them around each access.
  template <bool kMayBeWatched>
  static void* PopBlock(PoolHeader* pool);
  // Gives `p`, one of this heap's pool blocks, back to its pool
  // (PoolFreeTransition when the pool changes state).
  template <bool kMayBeWatched>
  void PushBlock(void* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Carves up to kCarveBatch never-used blocks of `pool` onto its (empty)
  // free list; false if the pool has none left (it is full).
  bool CarveBlocks(PoolHeader* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Links `pool` at the front of its class's used list / unlinks it; both
  // keep current_ in step.
  void LinkFront(PoolHeader* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  void LinkBack(PoolHeader* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Links `pool` into its class's used list between two neighbours.
  void LinkBetween(PoolHeader* pool, PoolHeader* prev, PoolHeader* next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  void Unlink(PoolHeader* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // current_[c] after used_pools_[c] changed: its first pool, or its
  // sentinel (whose free list is always empty) in checked mode.
  void UpdateCurrent(int size_class) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Sum of the carved pools' counts. The guard holder's walk (no lock
  // needed: only it changes the arenas) and the readers' (the map's lock
  // keeps arenas from being added, moved or returned during the walk).
  std::int64_t SumPoolCounts() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  std::int64_t SumPoolCountsMapLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(ArenaMap::Global().lock());
  static void AddToCount(PoolHeader* pool, std::uint32_t delta) {
    pool->ref_count.store(
        pool->ref_count.load(std::memory_order_relaxed) + delta,
        std::memory_order_relaxed);
  }
  // A free block's link word, opened for the checkers only while pymalloc
  // reads or writes it.
  template <bool kMayBeWatched>
  static FreeBlock* ReadLink(FreeBlock* block) {
    if (kMayBeWatched && memcheck::Watching()) memcheck::OpenLink(block);
    FreeBlock* next = block->next;
    if (kMayBeWatched && memcheck::Watching()) memcheck::CloseLink(block);
    return next;
  }
  template <bool kMayBeWatched>
  static void WriteLink(FreeBlock* block, FreeBlock* next) {
    if (kMayBeWatched && memcheck::Watching()) memcheck::OpenLink(block);
    block->next = next;
    if (kMayBeWatched && memcheck::Watching()) memcheck::CloseLink(block);
  }
  // Adds to a counter that only the guard holder writes: the guard
  // serializes writers, so a plain load and store suffice (no
  // read-modify-write); readers on other threads load relaxed.
  static void GuardedAdd(std::atomic<std::int64_t>& counter,
                         std::int64_t delta) {
    counter.store(counter.load(std::memory_order_relaxed) + delta,
                  std::memory_order_relaxed);
  }

  void* AllocateFromNewPool(int size_class)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  ArenaObject* NewArena() ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Doubles arenas_ (the arena records move: under the map's lock).
  bool GrowArenaSlotsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(ArenaMap::Global().lock());
  void PoolBecameEmpty(PoolHeader* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // An orphan's empty pool: its pages go back to the OS (madvise
  // MADV_DONTNEED) and it joins no list, since an orphan never allocates
  // again. False (nothing changed) if the OS refused.
  bool DecommitEmptyPool(ArenaObject& arena, PoolHeader* pool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Retire() of a heap left as an orphan: decommits every listed free pool,
  // the never-carved ones, and the pages of used pools that hold no live
  // block (their free lists are never walked again: an orphan only takes
  // blocks back).
  void DecommitFreePools() ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  void DecommitFreePages(ArenaObject& arena, PoolHeader* pool)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  void* RawFallbackMalloc(std::size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Records and counts `p`, a block the raw domain just gave (nullptr
  // passes through); frees it and returns nullptr if it cannot be recorded.
  void* CountRawBlock(void* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Memcheck bookkeeping of a block handed out (see ArenaObject).
  void AnnounceAllocated(void* block, std::size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  std::size_t RequestedSize(const void* block)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  void SetRequestedSize(void* block, std::size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  void ReleaseArenaMemory(ArenaObject& arena)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  static PoolHeader* PoolOf(const void* p) {
    return reinterpret_cast<PoolHeader*>(reinterpret_cast<std::uintptr_t>(p) &
                                         ~(kPoolSize - 1));
  }
  static constexpr std::uint32_t kCarveBatch = 8;

  // The fast paths' fields first, on the heap's first lines.
  //
  // current_[c]: the pool class c allocates from: the first pool of
  // used_pools_[c], or the class's sentinel (an empty free list) when there
  // is none or in checked mode; so the inline Malloc tests one pointer.
  PoolHeader* current_[kSizeClassCount] ABSL_GUARDED_BY(*guard_);
  // What ArenaMap::Owner() returns for this heap's blocks when the inline
  // Free may take them: `this`, or in checked mode (the checkers watch, or
  // pools are bypassed) an address no arena has, so every free goes to
  // FreeSlow with no flag tested.
  const Heap* fast_owner_;
  // The owning interpreter's lock; OrphanLock() once the heap is an orphan
  // (switched by Retire(), which holds both: the heap is quiescent).
  sync::Mutex* guard_;
  const std::int64_t owner_id_;
  const std::uint64_t serial_;
  const std::uint64_t cycle_;
  // True unless memcheck::FastPathsOff() when the heap was made.
  const bool fast_paths_;

  // used_pools_[c]: sentinel of the circular list of used pools of class c.
  // The sentinels' free lists stay empty (current_ may point at them).
  PoolHeader used_pools_[kSizeClassCount] ABSL_GUARDED_BY(*guard_);
  ArenaObject* arenas_ ABSL_GUARDED_BY(*guard_) = nullptr;
  std::uint32_t arena_slots_ ABSL_GUARDED_BY(*guard_) = 0;
  ArenaObject* unused_arena_slots_ ABSL_GUARDED_BY(*guard_) = nullptr;
  ArenaObject* usable_arenas_ ABSL_GUARDED_BY(*guard_) = nullptr;
  ArenaObject* last_with_free_[kPoolsPerArena + 1] ABSL_GUARDED_BY(
      *guard_) = {};
  std::size_t arenas_current_ ABSL_GUARDED_BY(*guard_) = 0;
  std::size_t arenas_allocated_total_ ABSL_GUARDED_BY(*guard_) = 0;
  std::size_t arenas_highwater_ ABSL_GUARDED_BY(*guard_) = 0;

  // An orphan's live pool blocks (set by Retire(), lowered as they come
  // home), so that each free into an orphan does not sum its pools.
  std::int64_t orphan_pool_blocks_ ABSL_GUARDED_BY(*guard_) = 0;
  // Written only under the guard (plain load + store, no read-modify-write
  // needed); read relaxed by AllocatedBlocksRelaxed() from any thread.
  std::atomic<std::int64_t> raw_blocks_{0};
  // A copy of arenas_current_ for readers without the guard.
  std::atomic<std::size_t> arenas_current_for_readers_{0};

  // Other heaps' threads push here; on its own cache line so that pushes do
  // not slow the owner's hot fields.
  alignas(64) std::atomic<FreeBlock*> remote_free_head_{nullptr};
  // Raised by a pusher before it publishes its block (so that a heap
  // retired meanwhile counts it as freed, not leaked), lowered by the drain.
  std::atomic<std::int64_t> remote_pending_{0};
  std::atomic<std::int64_t> remote_frees_{0};
  // kOrphaned | in-flight pushes * kPushInFlight (see Retire()).
  std::atomic<std::uint64_t> push_state_{0};

  // Links of the heap registry (alloc/pymalloc/heap_registry.cc), guarded
  // by its lock.
  Heap* registry_prev_ = nullptr;
  Heap* registry_next_ = nullptr;
};

// The common paths, inline so that the allocator entry points hold them:
// a block from the class's current pool, a block back into its pool. One
// test each (plus the ownership compare on free); carving, full, refilled
// and emptied pools, new pools and arenas, the raw domain, other heaps'
// blocks and the checkers are the out-of-line slow paths'.
template <bool kMayBeWatched>
inline void* Heap::PopBlock(PoolHeader* pool) {
  FreeBlock* block = pool->free_list;
  pool->free_list = ReadLink<kMayBeWatched>(block);
  AddToCount(pool, 1);
  return block;
}

inline void* Heap::Malloc(std::size_t n) {
  if (ABSL_PREDICT_TRUE(n - 1 < kSmallRequestThreshold)) {
    PoolHeader* pool = current_[SizeClassOf(n)];
    if (ABSL_PREDICT_TRUE(pool->free_list != nullptr)) {
      return PopBlock<false>(pool);
    }
  }
  return MallocSlow(n);
}

template <bool kMayBeWatched>
inline void Heap::PushBlock(void* p) {
  PoolHeader* pool = PoolOf(p);
  auto* block = static_cast<FreeBlock*>(p);
  FreeBlock* last_free = pool->free_list;
  WriteLink<kMayBeWatched>(block, last_free);
  pool->free_list = block;
  const std::uint32_t count =
      pool->ref_count.load(std::memory_order_relaxed) - 1;
  pool->ref_count.store(count, std::memory_order_relaxed);
  if (ABSL_PREDICT_FALSE(last_free == nullptr || count == 0)) {
    PoolFreeTransition(pool);
  }
}

inline void Heap::Free(void* p) {
  Heap* owner = ArenaMap::Global().Owner(p);  // nullptr for nullptr
  if (ABSL_PREDICT_TRUE(owner == fast_owner_)) {
    PushBlock<false>(p);
    return;
  }
  FreeSlow(p, owner);
}

// The calling thread's heap, set by interp's attach/detach; nullptr when
// the thread is not attached.
namespace internal {
// GNU __thread rather than thread_local: a constant-initialized pointer
// needs no TLS wrapper call, so the accessors inline everywhere.
extern __thread Heap* current_heap;
}  // namespace internal
inline Heap* CurrentHeap() noexcept { return internal::current_heap; }
inline void SetCurrentHeap(Heap* heap) noexcept {
  internal::current_heap = heap;
}

// True if `p` lies in an arena of any heap (any interpreter's, orphans
// included): CPython's address_in_range, O(1) and lock-free, reading only
// the ownership map. A live block of the mem/obj domains is pymalloc's
// exactly when this is true (blocks of 0 or > 512 bytes came from raw).
inline bool InAnyHeapArena(const void* p) noexcept {
  return ArenaMap::Global().Owner(p) != nullptr;
}

// The arena memory of every heap, orphans included: `mapped` bytes of
// arenas held now, of which `decommitted` are empty pools of orphans given
// back to the OS. mapped - decommitted bounds what the arenas commit.
struct ArenaBytes {
  std::int64_t mapped;
  std::int64_t decommitted;
};
ArenaBytes GlobalArenaBytes();

// Runtime cycles: interp's Runtime::Initialize starts one (the first is 1;
// 0 before any). Every heap records the cycle it was made in.
void BeginRuntimeCycle();
std::uint64_t RuntimeCycle();

// ---- Pool blocks reaching an allocator other than pymalloc ----
//
// After the configuration changed (ih_runtime_reset, a later cycle on
// `malloc` or `mimalloc`, a replaced base), a pool block made earlier can
// reach the C library's or mimalloc's free or realloc through the mem or
// obj domain. Those allocators ask the ownership map first (one O(1)
// lookup, ForeignPoolBlockOwner) and hand such a block here instead of to
// their own free.

// The heap whose arena holds `p`, or nullptr (the common case: not a pool
// block).
inline Heap* ForeignPoolBlockOwner(const void* p) {
  return ArenaMap::Global().Owner(p);
}

// True if `p`, a pointer inside one of `owner`'s arenas, is the start of a
// block of its pool (*block_size then holds the block size). Reads only
// the pool header, which a pool block's owner writes while none of its
// blocks is live.
bool IsPoolBlockStart(const Heap* owner, const void* p,
                      std::size_t* block_size);

// The block size of `p`, a pointer inside one of `owner`'s arenas; dies
// through FatalError(function, ...) when p is not a block's start (an
// interior pointer, or a block of the debug hooks, whose header sits
// before it, freed after they were removed).
std::size_t CheckedPoolBlockSize(const Heap* owner, const void* p,
                                 const char* function);

// Frees `p`, a pool block of `owner` (checked by CheckedPoolBlockSize):
// into the calling thread's current heap when that is the owner (the caller
// holds its guard: the mem/obj contract), otherwise through the owner's
// remote-free list, from any thread (an orphan is freed when its last block
// comes home).
void FreePoolBlock(Heap* owner, void* p);

// Realloc of `p`, a pool block of `owner`, by another allocator: `fresh`
// (n bytes from that allocator, or nullptr) receives min(block size, n)
// bytes and p is freed (FreePoolBlock); nullptr when fresh is nullptr (p
// stays valid). `block_size` is CheckedPoolBlockSize's answer.
void* MovePoolBlock(Heap* owner, void* p, std::size_t block_size, void* fresh,
                    std::size_t n);

// Called before a heap maps a new arena, from its allocation slow path
// while the heap's structure is consistent (never from inside a structure
// change), with the heap's guard held; nullptr (the default) for none. The
// INTERPHEAP_MALLOCSTATS printer (alloc/pymalloc/stats.h) is one.
using NewArenaObserver = void (*)(Heap& heap);
void SetNewArenaObserver(NewArenaObserver observer);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_PYMALLOC_H_
