#include "alloc/pymalloc/pymalloc.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/base/optimization.h"
#include "alloc/domain.h"
#include "alloc/external/memcheck.h"
#include "alloc/fatal.h"
#include "alloc/pymalloc/heap_registry.h"
#include "alloc/pymalloc/raw_block_map.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

// GlobalArenaBytes(): changed under the heaps' guards, read anywhere.
ABSL_CONST_INIT std::atomic<std::int64_t> arena_bytes_mapped{0};
ABSL_CONST_INIT std::atomic<std::int64_t> arena_bytes_decommitted{0};

std::uint64_t NextHeapSerial() {
  ABSL_CONST_INIT static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

ABSL_CONST_INIT std::atomic<NewArenaObserver> new_arena_observer{nullptr};
ABSL_CONST_INIT std::atomic<std::uint64_t> runtime_cycle{0};

constexpr std::size_t kRequestedTableBytes =
    (kArenaSize >> kAlignmentShift) * sizeof(std::uint16_t);

// fast_owner_ of a heap in checked mode: an address no arena holds.
ABSL_CONST_INIT const char never_an_owner = 0;

// carve_address is read by AllocatedBlocksRelaxed() on other threads (an
// acquire load): the guard holder publishes each carved pool's header with
// a release store.
void StoreCarveAddress(ArenaObject& arena, std::uintptr_t address) {
  __atomic_store_n(&arena.carve_address, address, __ATOMIC_RELEASE);
}

}  // namespace

namespace internal {
__thread Heap* current_heap = nullptr;
}  // namespace internal

void SetNewArenaObserver(NewArenaObserver observer) {
  new_arena_observer.store(observer, std::memory_order_release);
}

void BeginRuntimeCycle() {
  runtime_cycle.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t RuntimeCycle() {
  return runtime_cycle.load(std::memory_order_relaxed);
}

namespace {
bool FastPathsOn() {
  memcheck::Init();
  return !memcheck::FastPathsOff();
}
}  // namespace

Heap::Heap(sync::Mutex* guard, std::int64_t owner_id)
    : fast_owner_(nullptr),
      guard_(guard),
      owner_id_(owner_id),
      serial_(NextHeapSerial()),
      cycle_(RuntimeCycle()),
      fast_paths_(FastPathsOn()) {
  fast_owner_ =
      fast_paths_ ? this : reinterpret_cast<const Heap*>(&never_an_owner);
  for (int c = 0; c < kSizeClassCount; ++c) {
    PoolHeader& sentinel = used_pools_[c];
    sentinel.free_list = nullptr;
    sentinel.next = &sentinel;
    sentinel.prev = &sentinel;
    sentinel.ref_count.store(0, std::memory_order_relaxed);
    sentinel.next_offset = 0;
    sentinel.max_next_offset = 0;
    sentinel.arena_index = 0;
    sentinel.size_class = static_cast<std::uint32_t>(c);
    sentinel.linked = 0;
    current_[c] = &sentinel;
  }
  RegisterHeap(this);
}

Heap::~Heap() {
  UnregisterHeap(this);
  std::free(arenas_);
}

// ---- Allocation ----

void* Heap::MallocSlow(std::size_t n) {
  if (n - 1 >= kSmallRequestThreshold || memcheck::BypassingPools()) {
    // n == 0 wraps around to SIZE_MAX: both go to the raw domain.
    return RawFallbackMalloc(n);
  }
  const int size_class = SizeClassOf(n);
  PoolHeader* const sentinel = &used_pools_[size_class];
  bool drained = false;
  for (;;) {
    PoolHeader* pool = sentinel->next;
    if (pool == sentinel) {
      if (drained || remote_pending_.load(std::memory_order_relaxed) == 0) {
        break;
      }
      // Blocks handed back by other heaps may refill a pool of this class.
      DrainRemoteFrees();
      drained = true;
      continue;
    }
    if (pool->free_list != nullptr || CarveBlocks(pool)) {
      // Under the checkers, refilled by a free or the drain, or carved.
      void* block = PopBlock<true>(pool);
      if (memcheck::Watching()) AnnounceAllocated(block, n);
      return block;
    }
    // Full: CPython unlinks it when its last block goes; here the next
    // allocation does.
    Unlink(pool);
  }
  if (usable_arenas_ == nullptr) {
    // A new arena is next. The observer runs here, before any structure
    // changes, rather than inside NewArena.
    if (NewArenaObserver observer =
            new_arena_observer.load(std::memory_order_acquire)) {
      observer(*this);
    }
  }
  void* block = AllocateFromNewPool(size_class);
  if (block == nullptr) return RawFallbackMalloc(n);
  if (memcheck::Watching()) AnnounceAllocated(block, n);
  return block;
}

bool Heap::CarveBlocks(PoolHeader* pool) {
  const auto block_size = static_cast<std::uint32_t>(
      BlockSizeOf(static_cast<int>(pool->size_class)));
  std::uint32_t offset = pool->next_offset;
  if (offset > pool->max_next_offset) return false;
  // The batch is carved in address order and goes behind nothing (the
  // free list is empty), so blocks come out in the order CPython's
  // one-at-a-time carving gives.
  char* const base = reinterpret_cast<char*>(pool);
  FreeBlock* first = reinterpret_cast<FreeBlock*>(base + offset);
  FreeBlock* last = first;
  offset += block_size;
  for (std::uint32_t k = 1; k < kCarveBatch && offset <= pool->max_next_offset;
       ++k) {
    auto* block = reinterpret_cast<FreeBlock*>(base + offset);
    WriteLink<true>(last, block);
    last = block;
    offset += block_size;
  }
  WriteLink<true>(last, nullptr);
  pool->next_offset = offset;
  pool->free_list = first;
  return true;
}

void Heap::UpdateCurrent(int size_class) {
  current_[size_class] =
      fast_paths_ ? used_pools_[size_class].next : &used_pools_[size_class];
}

void Heap::LinkFront(PoolHeader* pool) {
  PoolHeader& sentinel = used_pools_[pool->size_class];
  LinkBetween(pool, &sentinel, sentinel.next);
}

void Heap::LinkBack(PoolHeader* pool) {
  PoolHeader& sentinel = used_pools_[pool->size_class];
  LinkBetween(pool, sentinel.prev, &sentinel);
}

void Heap::LinkBetween(PoolHeader* pool, PoolHeader* prev, PoolHeader* next) {
  pool->prev = prev;
  pool->next = next;
  prev->next = pool;
  next->prev = pool;
  pool->linked = 1;
  UpdateCurrent(static_cast<int>(pool->size_class));
}

void Heap::Unlink(PoolHeader* pool) {
  pool->prev->next = pool->next;
  pool->next->prev = pool->prev;
  pool->linked = 0;
  UpdateCurrent(static_cast<int>(pool->size_class));
}

void Heap::SetRequestedSize(void* block, std::size_t n) {
  ArenaObject& arena = arenas_[PoolOf(block)->arena_index];
  if (arena.requested_sizes != nullptr) {
    arena.requested_sizes[(reinterpret_cast<std::uintptr_t>(block) -
                           arena.address) >>
                          kAlignmentShift] = static_cast<std::uint16_t>(n);
  }
}

void Heap::AnnounceAllocated(void* block, std::size_t n) {
  SetRequestedSize(block, n);
  memcheck::BlockAllocated(block, n, false);
}

std::size_t Heap::RequestedSize(const void* block) {
  const ArenaObject& arena = arenas_[PoolOf(block)->arena_index];
  if (arena.requested_sizes == nullptr) {
    return BlockSizeOf(static_cast<int>(PoolOf(block)->size_class));
  }
  return arena.requested_sizes[(reinterpret_cast<std::uintptr_t>(block) -
                                arena.address) >>
                               kAlignmentShift];
}

void Heap::ReleaseArenaMemory(ArenaObject& arena) {
  const std::uintptr_t address = arena.address;
  {
    // Under the map's lock: a count summed under it either finished before
    // or sees the arena gone (it never reads an unmapped pool header).
    sync::MutexLock lock(&ArenaMap::Global().lock());
    ArenaMap::Global().UnregisterLocked(address);
    arena.address = 0;
  }
  arena_bytes_mapped.fetch_sub(kArenaSize, std::memory_order_relaxed);
  arena_bytes_decommitted.fetch_sub(
      static_cast<std::int64_t>(arena.decommitted_bytes),
      std::memory_order_relaxed);
  arena.decommitted_pools = 0;
  arena.decommitted_bytes = 0;
  if (memcheck::Watching()) {
    memcheck::ArenaReleased(reinterpret_cast<void*>(address), kArenaSize);
  }
  arena.allocator.free(arena.allocator.ctx, reinterpret_cast<void*>(address),
                       kArenaSize);
  if (arena.requested_sizes != nullptr) {
    munmap(arena.requested_sizes, kRequestedTableBytes);
    arena.requested_sizes = nullptr;
  }
}

void* Heap::RawFallbackMalloc(std::size_t n) {
  return CountRawBlock(alloc::Malloc(Domain::kRaw, n));
}

void* Heap::CountRawBlock(void* p) {
  if (p == nullptr) return nullptr;
  switch (RawBlockMap::Global().Add(p)) {
    case RawBlockMap::AddResult::kAdded:
      GuardedAdd(raw_blocks_, 1);
      return p;
    case RawBlockMap::AddResult::kAlreadyRecorded:
      return p;  // the count its stale record holds is this block's
    case RawBlockMap::AddResult::kNoMemory:
      break;
  }
  // Not recorded, it could not be counted exactly: out of memory.
  alloc::Free(Domain::kRaw, p);
  return nullptr;
}

void* Heap::AllocateFromNewPool(int size_class) {
  if (usable_arenas_ == nullptr) {
    usable_arenas_ = NewArena();
    if (usable_arenas_ == nullptr) return nullptr;
    usable_arenas_->next = nullptr;
    usable_arenas_->prev = nullptr;
    last_with_free_[usable_arenas_->free_pool_count] = usable_arenas_;
  }
  ArenaObject* arena = usable_arenas_;
  // The arena loses a free pool; it stays the leftmost, so the order holds.
  if (last_with_free_[arena->free_pool_count] == arena) {
    last_with_free_[arena->free_pool_count] = nullptr;
  }
  if (arena->free_pool_count > 1) {
    last_with_free_[arena->free_pool_count - 1] = arena;
  }

  PoolHeader* pool = arena->free_pools;
  if (pool != nullptr) {
    arena->free_pools = pool->next;
  } else {
    pool = reinterpret_cast<PoolHeader*>(arena->carve_address);
    if (memcheck::Watching()) memcheck::PoolHeaderCarved(pool, kPoolOverhead);
    pool->arena_index = static_cast<std::uint32_t>(arena - arenas_);
    pool->size_class = UINT32_MAX;  // never used: no free list to reuse
    pool->ref_count.store(0, std::memory_order_relaxed);
    pool->linked = 0;
    pool->decommitted_pages = 0;
    // Publishes the header to counts summed on other threads.
    StoreCarveAddress(*arena, arena->carve_address + kPoolSize);
  }
  if (--arena->free_pool_count == 0) {
    // Wholly allocated: leaves usable_arenas_.
    usable_arenas_ = arena->next;
    if (usable_arenas_ != nullptr) usable_arenas_->prev = nullptr;
  }

  pool->ref_count.store(1, std::memory_order_relaxed);
  if (pool->size_class == static_cast<std::uint32_t>(size_class)) {
    // It last held this class: its free list is ready, and holds at least
    // the two blocks carved when the pool was first initialized.
    LinkFront(pool);
    FreeBlock* block = pool->free_list;
    pool->free_list = ReadLink<true>(block);
    return block;
  }
  const auto block_size = static_cast<std::uint32_t>(BlockSizeOf(size_class));
  pool->size_class = static_cast<std::uint32_t>(size_class);
  // Linked at the front of the class's used list.
  LinkFront(pool);
  char* first = reinterpret_cast<char*>(pool) + kPoolOverhead;
  pool->next_offset =
      static_cast<std::uint32_t>(kPoolOverhead) + 2 * block_size;
  pool->max_next_offset = static_cast<std::uint32_t>(kPoolSize) - block_size;
  pool->free_list = reinterpret_cast<FreeBlock*>(first + block_size);
  WriteLink<true>(pool->free_list, nullptr);
  return first;
}

ArenaObject* Heap::NewArena() {
  const ArenaAllocator allocator = GetArenaAllocator();
  void* address = allocator.alloc(allocator.ctx, kArenaSize);
  if (address == nullptr) return nullptr;
  ArenaObject* arena;
  {
    // The arena records change under the map's lock (see
    // AllocatedBlocksRelaxed()).
    sync::MutexLock lock(&ArenaMap::Global().lock());
    if (unused_arena_slots_ == nullptr && !GrowArenaSlotsLocked()) {
      arena = nullptr;
    } else if (!ArenaMap::Global().RegisterLocked(
                   reinterpret_cast<std::uintptr_t>(address), this)) {
      arena = nullptr;
    } else {
      arena = unused_arena_slots_;
      unused_arena_slots_ = arena->next;
      arena->address = reinterpret_cast<std::uintptr_t>(address);
      arena->allocator = allocator;
      arena->free_pools = nullptr;
      std::uintptr_t carve = arena->address;
      arena->free_pool_count = kPoolsPerArena;
      if (const std::uintptr_t excess = arena->address & (kPoolSize - 1);
          excess != 0) {
        --arena->free_pool_count;
        carve += kPoolSize - excess;
      }
      StoreCarveAddress(*arena, carve);
      arena->total_pool_count = arena->free_pool_count;
      arena->requested_sizes = nullptr;
      arena->decommitted_pools = 0;
      arena->decommitted_bytes = 0;
    }
  }
  if (arena == nullptr) {
    allocator.free(allocator.ctx, address, kArenaSize);
    return nullptr;
  }
  arena_bytes_mapped.fetch_add(kArenaSize, std::memory_order_relaxed);
  if (memcheck::Watching()) {
    memcheck::ArenaCreated(address, kArenaSize);
    void* table = mmap(nullptr, kRequestedTableBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (table != MAP_FAILED) {
      arena->requested_sizes = static_cast<std::uint16_t*>(table);
    }
  }
  ++arenas_current_;
  arenas_current_for_readers_.store(arenas_current_, std::memory_order_relaxed);
  ++arenas_allocated_total_;
  if (arenas_current_ > arenas_highwater_) arenas_highwater_ = arenas_current_;
  return arena;
}

bool Heap::GrowArenaSlotsLocked() {
  // Double the slots. Pools refer to arenas by index, and this runs only
  // when no arena has a free pool (usable_arenas_ and last_with_free_ are
  // empty), so no pointer into the old array survives the move.
  const std::uint32_t slots =
      arena_slots_ == 0 ? kInitialArenaObjects : arena_slots_ * 2;
  if (slots <= arena_slots_) return false;
  // Straight from the C library, not through the raw domain: hooks on raw
  // (debug, tracing, fault injection) must not see pymalloc's bookkeeping.
  auto* grown = static_cast<ArenaObject*>(
      std::realloc(arenas_, sizeof(ArenaObject) * std::size_t{slots}));
  if (grown == nullptr) return false;
  arenas_ = grown;
  for (std::uint32_t i = arena_slots_; i < slots; ++i) {
    arenas_[i] = ArenaObject{};
    arenas_[i].next = i + 1 < slots ? &arenas_[i + 1] : nullptr;
  }
  unused_arena_slots_ = &arenas_[arena_slots_];
  arena_slots_ = slots;
  return true;
}

void* Heap::Calloc(std::size_t nelem, std::size_t elsize) {
  const std::size_t n = nelem * elsize;  // the domain checked overflow
  if (n - 1 >= kSmallRequestThreshold) {
    return CountRawBlock(alloc::Calloc(Domain::kRaw, nelem, elsize));
  }
  void* p = Malloc(n);
  if (p != nullptr) std::memset(p, 0, n);
  return p;
}

// ---- Free ----

void Heap::FreeSlow(void* p, Heap* owner) {
  if (p == nullptr) return;
  if (owner == this) {
    // Here under the checkers only: the fast path took every other case.
    if (memcheck::Watching()) {
      memcheck::BlockFreed(
          p, BlockSizeOf(static_cast<int>(PoolOf(p)->size_class)));
    }
    PushBlock<true>(p);
    return;
  }
  if (owner != nullptr && owner != this) {
    owner->PushRemoteFree(p);
    return;
  }
  // A raw fallback block is uncounted before it is freed (its address may
  // come back at once); a pointer pymalloc never counted is only passed on.
  if (RawBlockMap::Global().Remove(p)) GuardedAdd(raw_blocks_, -1);
  alloc::Free(Domain::kRaw, p);
}

void Heap::PoolFreeTransition(PoolHeader* pool) {
  if (pool->ref_count.load(std::memory_order_relaxed) == 0) {
    // Emptied. (A full pool, unlinked, holds 31 blocks or more: one free
    // cannot empty it, so an emptied pool is linked.)
    PoolBecameEmpty(pool);
    return;
  }
  // The free list was empty. Linked, the pool's free list had run dry
  // (the next allocation would have carved or unlinked it): it stays where
  // it is. Unlinked, the pool was full: it goes to the back of its class
  // list (CPython puts it at the front), so the class keeps allocating
  // from its current pool, and a refilled pool gathers more free blocks
  // before it serves again instead of going full after one allocation.
  if (pool->linked == 0) LinkBack(pool);
}

void Heap::PoolBecameEmpty(PoolHeader* pool) {
  Unlink(pool);
  ArenaObject* arena = &arenas_[pool->arena_index];
  if (!orphaned() || !DecommitEmptyPool(*arena, pool)) {
    pool->next = arena->free_pools;
    arena->free_pools = pool;
  }

  std::uint32_t free_count = arena->free_pool_count;
  ArenaObject* rightmost_old = last_with_free_[free_count];
  if (rightmost_old == arena) {
    ArenaObject* left = arena->prev;
    last_with_free_[free_count] =
        (left != nullptr && left->free_pool_count == free_count) ? left
                                                                 : nullptr;
  }
  arena->free_pool_count = ++free_count;

  if (free_count == arena->total_pool_count && arena->next != nullptr) {
    // Wholly free and not the last usable arena: give it back.
    if (arena->prev == nullptr) {
      usable_arenas_ = arena->next;
    } else {
      arena->prev->next = arena->next;
    }
    arena->next->prev = arena->prev;
    if (last_with_free_[free_count] == arena) {
      last_with_free_[free_count] = nullptr;
    }
    ReleaseArenaMemory(*arena);
    arena->next = unused_arena_slots_;
    unused_arena_slots_ = arena;
    --arenas_current_;
    arenas_current_for_readers_.store(arenas_current_,
                                      std::memory_order_relaxed);
    return;
  }

  if (free_count == 1) {
    // It had no free pool, so it was not in usable_arenas_: put it first.
    arena->next = usable_arenas_;
    arena->prev = nullptr;
    if (usable_arenas_ != nullptr) usable_arenas_->prev = arena;
    usable_arenas_ = arena;
    if (last_with_free_[1] == nullptr) last_with_free_[1] = arena;
    return;
  }

  if (last_with_free_[free_count] == nullptr) {
    last_with_free_[free_count] = arena;
  }
  if (arena == rightmost_old) return;  // still in order

  // Slide right, after the rightmost arena that had the old count.
  if (arena->prev != nullptr) {
    arena->prev->next = arena->next;
  } else {
    usable_arenas_ = arena->next;
  }
  arena->next->prev = arena->prev;
  arena->prev = rightmost_old;
  arena->next = rightmost_old->next;
  if (arena->next != nullptr) arena->next->prev = arena;
  rightmost_old->next = arena;
}

// ---- Realloc ----

void* Heap::Realloc(void* p, std::size_t n) {
  if (p == nullptr) return Malloc(n);
  Heap* owner = ArenaMap::Global().Owner(p);
  if (owner == nullptr) {
    // Not a pool block: it came from the raw domain and stays there. A raw
    // fallback block stays counted at its new address; a pointer pymalloc
    // never counted is resized uncounted.
    if (!RawBlockMap::Global().Remove(p)) {
      return alloc::Realloc(Domain::kRaw, p, n);
    }
    void* resized = alloc::Realloc(Domain::kRaw, p, n);
    if (RawBlockMap::Global().Add(resized == nullptr ? p : resized) !=
        RawBlockMap::AddResult::kAdded) {
      // Not recorded (or the address held a stale record, which keeps the
      // count): the block is counted no more.
      GuardedAdd(raw_blocks_, -1);
    }
    return resized;
  }
  std::size_t keep = BlockSizeOf(static_cast<int>(PoolOf(p)->size_class));
  const std::size_t block_size = keep;
  if (owner == this && n <= keep && !memcheck::BypassingPools()) {
    // Shrinking or the same class: stay unless less than 3/4 would be used.
    if (4 * n > 3 * keep) {
      if (memcheck::Watching()) {
        memcheck::BlockResized(p, block_size, n, std::min(n, RequestedSize(p)));
        SetRequestedSize(p, n);
      }
      return p;
    }
  }
  if (n < keep) keep = n;
  void* moved = Malloc(n);
  if (moved == nullptr) return nullptr;
  if (memcheck::Watching()) {
    // The bytes beyond what was requested are off limits to the checkers:
    // copy only what the caller may have written. (A block of another heap
    // has no table here: its whole block is opened instead.)
    if (owner == this) {
      keep = std::min(keep, RequestedSize(p));
    } else {
      memcheck::OpenForCopy(p, keep);
    }
  }
  std::memcpy(moved, p, keep);
  if (owner == this) {
    if (memcheck::Watching()) memcheck::BlockFreed(p, block_size);
    PushBlock<true>(p);
  } else {
    owner->PushRemoteFree(p);
  }
  return moved;
}

// ---- Pool blocks reaching another allocator ----

bool IsPoolBlockStart(const Heap* owner, const void* p,
                      std::size_t* block_size) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  const auto* pool =
      reinterpret_cast<const PoolHeader*>(address & ~(kPoolSize - 1));
  // The pool header is read only inside an arena of the same heap (an
  // unaligned arena's head lies in a 16 KiB window that starts before it).
  if (ArenaMap::Global().Owner(pool) != owner) return false;
  const std::uint32_t size_class = pool->size_class;
  const std::uintptr_t first =
      reinterpret_cast<std::uintptr_t>(pool) + kPoolOverhead;
  if (size_class >= static_cast<std::uint32_t>(kSizeClassCount) ||
      address < first ||
      (address - first) % BlockSizeOf(static_cast<int>(size_class)) != 0) {
    return false;
  }
  *block_size = BlockSizeOf(static_cast<int>(size_class));
  return true;
}

std::size_t CheckedPoolBlockSize(const Heap* owner, const void* p,
                                 const char* function) {
  std::size_t block_size;
  if (ABSL_PREDICT_TRUE(IsPoolBlockStart(owner, p, &block_size))) {
    return block_size;
  }
  FatalError(function,
             "pointer inside a pymalloc arena but not a block's start (an "
             "interior pointer, or a block of the debug hooks freed after "
             "they were removed)");
}

void FreePoolBlock(Heap* owner, void* p) {
  if (owner == CurrentHeap()) {
    owner->guard().AssumeHeld();  // the mem/obj contract
    owner->Free(p);
    return;
  }
  owner->PushRemoteFree(p);
}

void* MovePoolBlock(Heap* owner, void* p, std::size_t block_size, void* fresh,
                    std::size_t n) {
  if (fresh == nullptr) return nullptr;
  const std::size_t keep = std::min(block_size, n);
  // The checkers keep the bytes past a block's requested size closed, and
  // the requested size is the owner's to know: the whole block is opened.
  if (memcheck::Watching()) memcheck::OpenForCopy(p, block_size);
  std::memcpy(fresh, p, keep);
  FreePoolBlock(owner, p);
  return fresh;
}

// ---- The end of a heap (the rest is in remote_free.cc) ----

namespace {

// The unit of DecommitFreePools' page-level pass; nothing smaller than a
// pool is decommitted where the OS pages are larger.
constexpr std::size_t kDecommitPage = 4096;

void AddDecommitted(ArenaObject& arena, std::size_t bytes) {
  arena.decommitted_bytes += bytes;
  arena_bytes_decommitted.fetch_add(static_cast<std::int64_t>(bytes),
                                    std::memory_order_relaxed);
}

}  // namespace

bool Heap::DecommitEmptyPool(ArenaObject& arena, PoolHeader* pool) {
  // Pages already given back at Retire() are not counted twice.
  const std::size_t already = pool->decommitted_pages * kDecommitPage;
  if (madvise(pool, kPoolSize, MADV_DONTNEED) != 0) return false;
  ++arena.decommitted_pools;
  AddDecommitted(arena, kPoolSize - already);
  return true;
}

void Heap::DecommitFreePools() {
  const bool pages = sysconf(_SC_PAGESIZE) == kDecommitPage;
  for (std::uint32_t i = 0; i < arena_slots_; ++i) {
    ArenaObject& arena = arenas_[i];
    if (arena.address == 0) continue;
    PoolHeader* kept = nullptr;
    PoolHeader* pool = arena.free_pools;
    while (pool != nullptr) {
      PoolHeader* next = pool->next;
      if (!DecommitEmptyPool(arena, pool)) {
        pool->next = kept;
        kept = pool;
      }
      pool = next;
    }
    arena.free_pools = kept;
    // The never-carved pools too, which a custom arena allocator may have
    // handed out touched (they stay uncarved: the checkers keep them closed).
    std::uintptr_t end = arena.carve_address;
    while (end + kPoolSize <= arena.address + kArenaSize) end += kPoolSize;
    if (end != arena.carve_address &&
        madvise(reinterpret_cast<void*>(arena.carve_address),
                end - arena.carve_address, MADV_DONTNEED) == 0) {
      AddDecommitted(arena, end - arena.carve_address);
    }
    if (!pages) continue;
    // Used pools: every page but the header's whose blocks are all free or
    // never used (leaked blocks keep their pages).
    std::uintptr_t base = arena.address;
    if ((base & (kPoolSize - 1)) != 0) {
      base = (base & ~(kPoolSize - 1)) + kPoolSize;
    }
    for (; base < arena.carve_address; base += kPoolSize) {
      auto* used = reinterpret_cast<PoolHeader*>(base);
      if (used->ref_count == 0) continue;
      DecommitFreePages(arena, used);
    }
  }
}

void Heap::DecommitFreePages(ArenaObject& arena, PoolHeader* pool) {
  constexpr std::size_t kMaxBlocks = BlocksPerPool(0);
  const std::size_t block_size =
      BlockSizeOf(static_cast<int>(pool->size_class));
  const std::size_t carved = (pool->next_offset - kPoolOverhead) / block_size;
  bool is_free[kMaxBlocks] = {};
  std::size_t listed = 0;
  for (FreeBlock* block = pool->free_list; block != nullptr;
       block = ReadLink<true>(block)) {
    const std::size_t index =
        (reinterpret_cast<std::uintptr_t>(block) -
         reinterpret_cast<std::uintptr_t>(pool) - kPoolOverhead) /
        block_size;
    if (index >= carved || ++listed > carved) return;  // not a free list
    is_free[index] = true;
  }
  std::uint32_t decommitted = 0;
  for (std::size_t page = kDecommitPage; page < kPoolSize;
       page += kDecommitPage) {
    // The blocks overlapping [page, page + kDecommitPage).
    const std::size_t first = (page - kPoolOverhead) / block_size;
    const std::size_t last =
        (page + kDecommitPage - 1 - kPoolOverhead) / block_size;
    bool live = false;
    for (std::size_t b = first; b <= last && b < carved; ++b) {
      if (!is_free[b]) {
        live = true;
        break;
      }
    }
    if (!live && madvise(reinterpret_cast<char*>(pool) + page, kDecommitPage,
                         MADV_DONTNEED) == 0) {
      ++decommitted;
    }
  }
  pool->decommitted_pages = decommitted;
  AddDecommitted(arena, decommitted * kDecommitPage);
}

ArenaBytes GlobalArenaBytes() {
  return {arena_bytes_mapped.load(std::memory_order_relaxed),
          arena_bytes_decommitted.load(std::memory_order_relaxed)};
}

void Heap::ReleaseAllArenas() {
  for (std::uint32_t i = 0; i < arena_slots_; ++i) {
    ArenaObject& arena = arenas_[i];
    if (arena.address == 0) continue;
    ReleaseArenaMemory(arena);
    --arenas_current_;
  }
  arenas_current_for_readers_.store(arenas_current_, std::memory_order_relaxed);
}

}  // namespace interpheap::alloc
