// Heap lifetimes (the "Synchronization" rules of alloc/pymalloc/pymalloc.h):
// a remote free parked in each window of its push while the owner is
// destroyed, blocks that outlive their interpreter, any number of heaps
// counted exactly, and stats gathering that never changes structure.

#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "alloc/domain.h"
#include "alloc/pymalloc/pymalloc.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/fake_arena_allocator.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using interp::Interpreter;
using interp::Runtime;
using interp::ThreadState;

// Parks the thread that reaches `park_at` inside PushRemoteFree until the
// test releases it. The seam is a plain function pointer, so its state is
// global.
struct Parking {
  std::mutex mu;
  std::condition_variable cv;
  Heap::RemoteFreeStep park_at = Heap::RemoteFreeStep::kPublished;
  bool parked = false;
  bool released = false;
};
Parking* parking = nullptr;

void ParkingSeam(Heap::RemoteFreeStep step, void*) {
  if (step != parking->park_at) return;
  std::unique_lock<std::mutex> lock(parking->mu);
  parking->parked = true;
  parking->cv.notify_all();
  parking->cv.wait(lock, [] { return parking->released; });
}

class HeapLifetimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    arenas_ = new testing::FakeArenaAllocator();
    testing::InitializeRuntimeWithArenas("pymalloc", arenas_->allocator());
  }
  void TearDown() override {
    Heap::SetRemoteFreeSeamForTesting(nullptr);
    testing::ResetRuntime();
    if (arenas_->live() == 0) delete arenas_;
  }
  Interpreter* Create() {
    absl::StatusOr<Interpreter*> interp = Runtime::Get().CreateInterpreter();
    EXPECT_TRUE(interp.ok()) << interp.status();
    return interp.value_or(nullptr);
  }
  // One obj block of a fresh interpreter, which the caller destroys.
  void* BlockOf(Interpreter* interp) {
    interp::ScopedAttach attach(interp);
    return Malloc(Domain::kObj, 40);
  }

  // A thread attached to main frees `block`, parked at `step` while this
  // thread destroys `owner`; then it is released. Returns the leak count
  // Destroy saw while the free was parked.
  std::int64_t FreeParkedWhileOwnerIsDestroyed(void* block, Interpreter* owner,
                                               Heap::RemoteFreeStep step) {
    Parking park;
    park.park_at = step;
    parking = &park;
    Heap::SetRemoteFreeSeamForTesting(&ParkingSeam);
    Interpreter* main = Runtime::Get().main_interpreter();
    std::thread freer([&] {
      interp::ScopedAttach attach(main);
      Free(Domain::kObj, block);
    });
    {
      std::unique_lock<std::mutex> lock(park.mu);
      park.cv.wait(lock, [&] { return park.parked; });
    }
    EXPECT_TRUE(Runtime::Get().DestroyInterpreter(owner).ok());
    const std::int64_t leaked_while_parked = LeakedBlocks();
    {
      std::lock_guard<std::mutex> lock(park.mu);
      park.released = true;
    }
    park.cv.notify_all();
    freer.join();
    Heap::SetRemoteFreeSeamForTesting(nullptr);
    parking = nullptr;
    return leaked_while_parked;
  }

  testing::FakeArenaAllocator* arenas_ = nullptr;
};

// Issue 10 item 1. The freeing thread has published the block and is still
// inside the push; the owner is destroyed meanwhile, its drain takes the
// block and finds no live block. The heap must outlive the push: it used
// to be deleted there, and the pusher then wrote its counters into freed
// memory (ASan: heap-use-after-free). Now it is an orphan until the pusher
// leaves, and the pusher frees it.
TEST_F(HeapLifetimeTest, RemoteFreeParkedAfterPublishingOutlivesOwnerDestroy) {
  const std::int64_t global_before = GlobalAllocatedBlocks();
  const int arenas_before = arenas_->live();
  Interpreter* owner = Create();
  void* block = BlockOf(owner);
  EXPECT_EQ(arenas_->live(), arenas_before + 1);
  FreeParkedWhileOwnerIsDestroyed(block, owner,
                                  Heap::RemoteFreeStep::kPublished);
  EXPECT_EQ(arenas_->live(), arenas_before) << "the orphan was reclaimed";
  EXPECT_EQ(LeakedBlocks(), 0);
  EXPECT_EQ(GlobalAllocatedBlocks(), global_before);
}

// Issue 10 item 9, the racing half. The freeing thread has counted its
// block but not published it when the owner is destroyed: the block is
// being freed, not leaked, and must not stay a phantom leak (counted
// forever, its arena pinned).
TEST_F(HeapLifetimeTest, RemoteFreeParkedBeforePublishingIsNotALeak) {
  const std::int64_t global_before = GlobalAllocatedBlocks();
  const int arenas_before = arenas_->live();
  Interpreter* owner = Create();
  void* block = BlockOf(owner);
  EXPECT_EQ(FreeParkedWhileOwnerIsDestroyed(block, owner,
                                            Heap::RemoteFreeStep::kCounted),
            0);
  EXPECT_EQ(arenas_->live(), arenas_before);
  EXPECT_EQ(LeakedBlocks(), 0);
  EXPECT_EQ(GlobalAllocatedBlocks(), global_before);
}

// Issue 10 item 9. 3,000 blocks outlive their interpreter and are freed
// later from main: the global count comes back exactly (it stayed at
// 2,700), main's own count is untouched (it went to -300), and the
// orphan's arenas go back with its last block (they stayed pinned).
TEST_F(HeapLifetimeTest, LeakedBlocksFreedLaterKeepCountsExactAndFreeArenas) {
  constexpr int kBlocks = 3000;
  Interpreter* main = Runtime::Get().main_interpreter();
  std::int64_t main_before = 0;
  {
    interp::ScopedAttach attach(main);
    main_before = Runtime::CurrentAllocatedBlocks().value_or(-1);
  }
  const std::int64_t global_before = GlobalAllocatedBlocks();
  const int arenas_before = arenas_->live();
  Interpreter* owner = Create();
  std::vector<void*> blocks;
  {
    interp::ScopedAttach attach(owner);
    for (int i = 0; i < kBlocks; ++i) {
      blocks.push_back(Malloc(Domain::kObj, 16 + (i % 31) * 16));
    }
  }
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(owner).ok());
  EXPECT_EQ(LeakedBlocks(), kBlocks);
  EXPECT_EQ(GlobalAllocatedBlocks(), global_before + kBlocks);
  {
    interp::ScopedAttach attach(main);
    for (int i = 0; i < kBlocks; ++i) {
      Free(Domain::kObj, blocks[i]);
      if (i == kBlocks / 10 - 1) {
        EXPECT_EQ(GlobalAllocatedBlocks(),
                  global_before + kBlocks - kBlocks / 10);
        EXPECT_EQ(LeakedBlocks(), kBlocks - kBlocks / 10);
      }
    }
    EXPECT_EQ(Runtime::CurrentAllocatedBlocks().value_or(-1), main_before);
  }
  EXPECT_EQ(GlobalAllocatedBlocks(), global_before);
  EXPECT_EQ(LeakedBlocks(), 0);
  EXPECT_EQ(arenas_->live(), arenas_before);
}

// Issue 10 item 10: the registry held 4,096 heaps and silently dropped the
// rest, so their blocks were missing from the global count.
TEST_F(HeapLifetimeTest, MoreThan4096HeapsAreCountedExactly) {
  constexpr int kInterpreters = 4200;
  const std::int64_t global_before = GlobalAllocatedBlocks();
  std::vector<Interpreter*> interps;
  for (int i = 0; i < kInterpreters; ++i) interps.push_back(Create());
  std::vector<void*> blocks;
  for (int i = kInterpreters - 8; i < kInterpreters; ++i) {
    interp::ScopedAttach attach(interps[i]);
    blocks.push_back(Malloc(Domain::kMem, 1000));  // raw fallback: no arena
  }
  EXPECT_EQ(GlobalAllocatedBlocks(), global_before + 8);
  for (int i = kInterpreters - 8; i < kInterpreters; ++i) {
    interp::ScopedAttach attach(interps[i]);
    Free(Domain::kMem, blocks[i - (kInterpreters - 8)]);
  }
  EXPECT_EQ(GlobalAllocatedBlocks(), global_before);
  for (Interpreter* interp : interps) {
    ASSERT_TRUE(Runtime::Get().DestroyInterpreter(interp).ok());
  }
}

// Issue 10 item 4: the INTERPHEAP_MALLOCSTATS printer gathers stats just
// before a new arena. Here a block is handed back at that moment (from
// inside the observer, deterministically) that empties a pool of the full
// arena. Stats used to drain it: the full arena became usable mid-way and
// the usable-arena list was then overwritten. Gathering stats must only
// read, and Validate() checks the usable-arena count.
struct StatsScenario {
  Interpreter* other = nullptr;
  void* lonely = nullptr;
};
StatsScenario* stats_scenario = nullptr;

void HandBackThenGatherStats(Heap& heap) {
  if (stats_scenario->lonely != nullptr) {
    std::thread freer([] {
      interp::ScopedAttach attach(stats_scenario->other);
      Free(Domain::kObj, stats_scenario->lonely);
    });
    freer.join();
    stats_scenario->lonely = nullptr;
  }
  heap.guard().AssumeHeld();
  (void)heap.Stats();
}

TEST_F(HeapLifetimeTest, StatsGatheredBeforeNewArenaChangeNothing) {
  StatsScenario scenario;
  stats_scenario = &scenario;
  Interpreter* owner = Create();
  scenario.other = Create();
  ASSERT_TRUE(ThreadState::Attach(owner).ok());
  Heap& heap = owner->heap();
  heap.guard().AssertHeld();
  // Fill the first arena with 512-byte blocks (31 per pool).
  std::vector<void*> blocks;
  blocks.push_back(Malloc(Domain::kObj, 512));
  const std::size_t pools = heap.Stats().free_pools + 1;
  while (blocks.size() < pools * 31) {
    blocks.push_back(Malloc(Domain::kObj, 512));
  }
  ASSERT_EQ(heap.arenas_current_relaxed(), 1u);
  // The first pool keeps one block, the one handed back later.
  for (int i = 1; i < 31; ++i) Free(Domain::kObj, blocks[i]);
  scenario.lonely = blocks[0];
  blocks.erase(blocks.begin(), blocks.begin() + 31);
  SetNewArenaObserver(&HandBackThenGatherStats);
  blocks.push_back(Malloc(Domain::kObj, 16));  // a new pool: a new arena
  SetNewArenaObserver(nullptr);
  EXPECT_EQ(scenario.lonely, nullptr) << "the observer ran";
  absl::Status valid = heap.Validate();
  EXPECT_TRUE(valid.ok()) << valid;
  heap.DrainRemoteFrees();
  valid = heap.Validate();
  EXPECT_TRUE(valid.ok()) << valid;
  for (void* p : blocks) Free(Domain::kObj, p);
  valid = heap.Validate();
  EXPECT_TRUE(valid.ok()) << valid;
  stats_scenario = nullptr;
  ASSERT_TRUE(ThreadState::Detach().ok());
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(owner).ok());
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(scenario.other).ok());
}

// The bytes committed for a retired heap's leaked blocks: each one's pool
// header page and the pages it spans, 4 KiB pages (the rest of their pools
// is given back).
std::int64_t PagesHolding(
    const std::vector<std::pair<void*, std::size_t>>& blocks) {
  constexpr std::uintptr_t kPage = 4096;
  std::set<std::uintptr_t> pages;
  for (const auto& [p, size] : blocks) {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    pages.insert(address & ~(kPoolSize - 1));
    for (std::uintptr_t a = address & ~(kPage - 1); a < address + size;
         a += kPage) {
      pages.insert(a);
    }
  }
  return static_cast<std::int64_t>(pages.size() * kPage);
}

// Issue 13 item 3: a retired heap with a few leaked blocks kept all of its
// arenas committed, so 1,000 CPython interpreter cycles grew by 1.3 GB. An
// orphan never allocates again: its empty and never-carved pools, and the
// pages of its used pools that hold no live block, go back to the OS at
// once; the pages of leaked blocks stay (the blocks keep their contents
// and can still be freed), and a pool a later free empties goes back too.
TEST_F(HeapLifetimeTest, OrphanCommitsOnlyPoolsWithLeakedBlocks) {
  if (sysconf(_SC_PAGESIZE) != 4096) GTEST_SKIP() << "4 KiB pages only";
  constexpr int kBlocks = 20000;  // 16..512 bytes: about 2.6 MiB of pools
  const ArenaBytes before = GlobalArenaBytes();
  const std::int64_t leaked_before = LeakedBlocks();
  Interpreter* owner = Create();
  std::vector<void*> blocks;
  {
    interp::ScopedAttach attach(owner);
    for (int i = 0; i < kBlocks; ++i) {
      blocks.push_back(Malloc(Domain::kObj, 16 + (i % 32) * 16));
    }
  }
  const ArenaBytes full = GlobalArenaBytes();
  ASSERT_GE(full.mapped - before.mapped, 3 * std::int64_t{kArenaSize});
  // Three leaked blocks: the first of a 16-byte pool (in its header page),
  // a 512-byte one, and a 48-byte one from the middle of its pool.
  const std::vector<std::pair<void*, std::size_t>> leaked = {
      {blocks[0], 16}, {blocks[kBlocks - 1], 512}, {blocks[32 * 300 + 2], 48}};
  for (const auto& [p, size] : leaked) std::memset(p, 0x5a, size);
  {
    interp::ScopedAttach attach(owner);
    for (int i = 0; i < kBlocks; ++i) {
      if (i != 0 && i != kBlocks - 1 && i != 32 * 300 + 2) {
        Free(Domain::kObj, blocks[i]);
      }
    }
  }
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(owner).ok());
  EXPECT_EQ(LeakedBlocks(), leaked_before + 3);
  EXPECT_TRUE(Runtime::Get().ValidateHeaps().ok())
      << Runtime::Get().ValidateHeaps();

  // Committed: exactly the pages of the leaked blocks and their pool
  // headers (the default arena allocator aligns arenas: no partial pool).
  const auto committed = [&before] {
    const ArenaBytes now = GlobalArenaBytes();
    return (now.mapped - now.decommitted) -
           (before.mapped - before.decommitted);
  };
  EXPECT_GT(GlobalArenaBytes().mapped, before.mapped);
  EXPECT_EQ(committed(), PagesHolding(leaked));
  EXPECT_LT(committed(), 3 * static_cast<std::int64_t>(kPoolSize));
  for (const auto& [p, size] : leaked) {
    for (std::size_t i = 0; i < size; ++i) {
      ASSERT_EQ(static_cast<unsigned char*>(p)[i], 0x5a) << p << " " << i;
    }
  }

  // A later free empties a pool: it goes back too; the last one reclaims
  // the orphan and every arena.
  Interpreter* main = Runtime::Get().main_interpreter();
  {
    interp::ScopedAttach attach(main);
    Free(Domain::kObj, leaked[0].first);
  }
  EXPECT_EQ(committed(), PagesHolding({leaked[1], leaked[2]}));
  EXPECT_TRUE(Runtime::Get().ValidateHeaps().ok())
      << Runtime::Get().ValidateHeaps();
  {
    interp::ScopedAttach attach(main);
    Free(Domain::kObj, leaked[1].first);
    Free(Domain::kObj, leaked[2].first);
  }
  EXPECT_EQ(LeakedBlocks(), leaked_before);
  const ArenaBytes after = GlobalArenaBytes();
  EXPECT_EQ(after.mapped, before.mapped);
  EXPECT_EQ(after.decommitted, before.decommitted);
}

}  // namespace
}  // namespace interpheap::alloc
