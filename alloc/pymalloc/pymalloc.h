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
// list holds freed blocks, and `next_offset` marks the first never-used one.
//
// Pool states and transitions:
//   used:  some blocks allocated, some free. Linked in used_pools_[class]
//          (a circular doubly-linked list with a sentinel), so allocation
//          finds it in O(1).
//   full:  every block allocated. In no list. Freeing a block makes it used
//          again, linked at the front of its class list.
//   empty: no block allocated. In its arena's free_pools list (singly
//          linked, LIFO). Allocating takes it again; if it last held the
//          same size class its free list is reused as is.
//   used -> full   (last free block allocated)     full -> used  (one freed)
//   used -> empty  (last allocated block freed)    empty -> used (reused)
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
//   blocks_in_pools_ == sum of ref_count over carved pools of every arena
//   a pool's ref_count == 0  <=>  it is in its arena's free_pools list
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
  FreeBlock* free_list;           // freed blocks, LIFO; nullptr when none
  PoolHeader* next;               // used_pools_ list, or the arena's free_pools
  PoolHeader* prev;               // used_pools_ list only
  std::uint32_t ref_count;        // blocks allocated from this pool
  std::uint32_t next_offset;      // first never-used block
  std::uint32_t max_next_offset;  // kPoolSize - block size
  std::uint32_t arena_index;      // index of the arena in arenas_
  // Written when the pool takes a size class, while no block of it is live;
  // alone in its 8-byte word so a cross-heap realloc may read it while the
  // owner updates the fields above.
  std::uint32_t size_class;
  std::uint32_t unused;
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

  // The same, without the lock: exact when the heap is quiescent, a close
  // estimate while its interpreter runs. For global counts.
  std::int64_t AllocatedBlocksRelaxed() const;

  // Arenas this heap holds now, readable from any thread (for progress
  // displays; exact when the heap is quiescent).
  std::size_t arenas_current_relaxed() const {
    return arenas_current_for_readers_.load(std::memory_order_relaxed);
  }

  // Remote frees received so far (blocks handed back by other heaps).
  std::int64_t remote_frees() const {
    return remote_frees_.load(std::memory_order_relaxed);
  }

  // Frees the blocks other heaps handed back.
  void DrainRemoteFrees() ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

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
  // the raw domain, full or empty pools, new pools and arenas, blocks of
  // other heaps, and the checkers' bookkeeping (alloc/external/memcheck.h).
  ABSL_ATTRIBUTE_NOINLINE void* MallocSlow(std::size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // `owner` is ArenaMap's answer for p: this heap (under the checkers),
  // another heap, or nullptr.
  ABSL_ATTRIBUTE_NOINLINE void FreeSlow(void* p, Heap* owner)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);

  // Takes a block from `pool`, a used pool of `size_class`: carves the next
  // block when the free list runs out, unlinks the pool when it is full.
  // kMayBeWatched: the checkers (alloc/external/memcheck.h) may be watching,
  // so the link word is opened for them around each access; the inline fast
  // paths (taken only when they are not) use the false instance.
  template <bool kMayBeWatched>
  void* PopBlock(PoolHeader* pool, int size_class)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
  // Gives `p`, one of this heap's pool blocks, back to its pool: a full
  // pool goes back to the front of its class list, an emptied one to its
  // arena (PoolBecameEmpty).
  template <bool kMayBeWatched>
  void PushBlock(void* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
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
  void PoolBecameEmpty(PoolHeader* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(*guard_);
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

  // The owning interpreter's lock; OrphanLock() once the heap is an orphan
  // (switched by Retire(), which holds both: the heap is quiescent).
  sync::Mutex* guard_;
  const std::int64_t owner_id_;
  const std::uint64_t serial_;
  const std::uint64_t cycle_;

  // used_pools_[c]: sentinel of the circular list of used pools of class c.
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

  // Written only under the guard (plain load + store, no read-modify-write
  // needed); read relaxed by AllocatedBlocksRelaxed() from any thread.
  std::atomic<std::int64_t> blocks_in_pools_{0};
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
// a block from a used pool, a block back into its pool. New pools and
// arenas, the raw domain, other heaps' blocks and emptied pools are the
// out-of-line slow paths'.
template <bool kMayBeWatched>
inline void* Heap::PopBlock(PoolHeader* pool, int size_class) {
  FreeBlock* block = pool->free_list;
  ++pool->ref_count;
  FreeBlock* next = ReadLink<kMayBeWatched>(block);
  if (ABSL_PREDICT_FALSE(next == nullptr)) {
    if (pool->next_offset <= pool->max_next_offset) {
      // Carve the next never-used block.
      next = reinterpret_cast<FreeBlock*>(reinterpret_cast<char*>(pool) +
                                          pool->next_offset);
      pool->next_offset += static_cast<std::uint32_t>(BlockSizeOf(size_class));
      WriteLink<kMayBeWatched>(next, nullptr);
    } else {
      // Full: unlink from the used list.
      pool->prev->next = pool->next;
      pool->next->prev = pool->prev;
    }
  }
  pool->free_list = next;
  GuardedAdd(blocks_in_pools_, 1);
  return block;
}

inline void* Heap::Malloc(std::size_t n) {
  if (ABSL_PREDICT_TRUE(n - 1 < kSmallRequestThreshold &&
                        !memcheck::FastPathsOff())) {
    const int size_class = SizeClassOf(n);
    PoolHeader* pool = used_pools_[size_class].next;
    if (ABSL_PREDICT_TRUE(pool != &used_pools_[size_class])) {
      return PopBlock<false>(pool, size_class);
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
  --pool->ref_count;
  GuardedAdd(blocks_in_pools_, -1);
  if (ABSL_PREDICT_FALSE(last_free == nullptr)) {
    // It was full: back at the front of its class list. (A pool of 31 or
    // more blocks cannot go from full to empty in one free.)
    PoolHeader& sentinel = used_pools_[pool->size_class];
    pool->next = sentinel.next;
    pool->prev = &sentinel;
    sentinel.next->prev = pool;
    sentinel.next = pool;
    return;
  }
  if (ABSL_PREDICT_FALSE(pool->ref_count == 0)) PoolBecameEmpty(pool);
}

inline void Heap::Free(void* p) {
  Heap* owner = ArenaMap::Global().Owner(p);  // nullptr for nullptr
  if (ABSL_PREDICT_TRUE(owner == this && !memcheck::FastPathsOff())) {
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
