// pymalloc: size classes, pools, arenas, realloc rules, ownership,
// cross-interpreter frees, leak accounting and the stats table.

#include "alloc/pymalloc/pymalloc.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "alloc/domain.h"
#include "alloc/pymalloc/arena_map.h"
#include "alloc/pymalloc/stats.h"
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

PoolHeader* PoolOf(const void* p) {
  return reinterpret_cast<PoolHeader*>(reinterpret_cast<std::uintptr_t>(p) &
                                       ~(kPoolSize - 1));
}

class PymallocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    arenas_ = new testing::FakeArenaAllocator();
    testing::InitializeRuntimeWithArenas("pymalloc", arenas_->allocator());
    absl::StatusOr<Interpreter*> interp = Runtime::Get().CreateInterpreter();
    ASSERT_TRUE(interp.ok());
    interp_ = *interp;
    ASSERT_TRUE(ThreadState::Attach(interp_).ok());
  }
  void TearDown() override {
    if (ThreadState::Current() != nullptr) {
      ASSERT_TRUE(ThreadState::Detach().ok());
    }
    if (interp_ != nullptr) {
      ASSERT_TRUE(Runtime::Get().DestroyInterpreter(interp_).ok());
    }
    testing::ResetRuntime();
    // Arenas of heaps that leaked on purpose stay mapped through it.
    if (arenas_->live() == 0) delete arenas_;
  }

  Heap& heap() { return interp_->heap(); }
  void ExpectValid() {
    heap().guard().AssertHeld();
    absl::Status status = heap().Validate();
    EXPECT_TRUE(status.ok()) << status;
  }
  std::int64_t Blocks() {
    absl::StatusOr<std::int64_t> n = Runtime::CurrentAllocatedBlocks();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  testing::FakeArenaAllocator* arenas_ = nullptr;
  Interpreter* interp_ = nullptr;
};

using PymallocDeathTest = PymallocTest;

TEST_F(PymallocDeathTest, MemCallByUnattachedThreadDies) {
  ASSERT_TRUE(ThreadState::Detach().ok());
  EXPECT_DEATH(Malloc(Domain::kObj, 10),
               "pymalloc malloc: the mem/obj allocator was called by a thread "
               "that is not attached to an interpreter");
  EXPECT_DEATH(Free(Domain::kMem, reinterpret_cast<void*>(16)),
               "pymalloc free: .*not attached to an interpreter");
  ASSERT_TRUE(ThreadState::Attach(interp_).ok());
}

TEST(SizeClassTest, MappingMatchesCpython) {
  EXPECT_EQ(SizeClassOf(1), 0);
  EXPECT_EQ(SizeClassOf(16), 0);
  EXPECT_EQ(SizeClassOf(17), 1);
  EXPECT_EQ(SizeClassOf(512), 31);
  for (std::size_t n = 1; n <= 512; ++n) {
    const int c = SizeClassOf(n);
    EXPECT_GE(BlockSizeOf(c), n);
    EXPECT_LT(BlockSizeOf(c) - n, kAlignment);
  }
}

TEST_F(PymallocTest, EverySizeUpTo1024IsAlignedAndServedByTheRightLayer) {
  const std::int64_t before = Blocks();
  std::vector<void*> blocks;
  for (std::size_t n = 0; n <= 1024; ++n) {
    void* p = Malloc(Domain::kObj, n);
    ASSERT_NE(p, nullptr) << n;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kAlignment, 0u) << n;
    const bool small = n >= 1 && n <= kSmallRequestThreshold;
    EXPECT_EQ(ArenaMap::Global().Owner(p), small ? &heap() : nullptr) << n;
    if (small) {
      EXPECT_EQ(PoolOf(p)->size_class, static_cast<std::uint32_t>((n - 1) >> 4))
          << n;
    }
    std::memset(p, 0x7E, n);
    blocks.push_back(p);
  }
  // 0 and 513..1024 went to the raw domain and are counted all the same.
  EXPECT_EQ(Blocks(), before + 1025);
  ExpectValid();
  for (void* p : blocks) Free(Domain::kObj, p);
  EXPECT_EQ(Blocks(), before);
  ExpectValid();
}

TEST_F(PymallocTest, OnePoolHolds1021BlocksOf16Bytes) {
  std::vector<void*> blocks;
  for (int i = 0; i < 1021; ++i) blocks.push_back(Malloc(Domain::kMem, 16));
  std::set<PoolHeader*> pools;
  for (void* p : blocks) pools.insert(PoolOf(p));
  EXPECT_EQ(pools.size(), 1u);
  absl::StatusOr<HeapStats> stats = Runtime::CurrentHeapStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pools[0], 1u);
  EXPECT_EQ(stats->blocks_in_use[0], 1021u);
  EXPECT_EQ(stats->blocks_available[0], 0u);
  void* next = Malloc(Domain::kMem, 16);
  EXPECT_NE(PoolOf(next), *pools.begin()) << "the 1022nd needs a new pool";
  blocks.push_back(next);
  ExpectValid();
  for (void* p : blocks) Free(Domain::kMem, p);
  ExpectValid();
}

TEST_F(PymallocTest, ReallocStaysInPlaceOnlyAboveThreeQuartersOfTheClass) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kObj, 100));
  for (int i = 0; i < 100; ++i) p[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(Realloc(Domain::kObj, p, 90), p) << "90 > 3/4 of 112 stays";
  EXPECT_EQ(Realloc(Domain::kObj, p, 112), p) << "same class stays";
  auto* moved = static_cast<unsigned char*>(Realloc(Domain::kObj, p, 80));
  EXPECT_NE(moved, p) << "80 < 3/4 of 112 moves";
  for (int i = 0; i < 80; ++i) ASSERT_EQ(moved[i], i);
  auto* grown = static_cast<unsigned char*>(Realloc(Domain::kObj, moved, 600));
  EXPECT_EQ(ArenaMap::Global().Owner(grown), nullptr) << "600 is raw";
  for (int i = 0; i < 80; ++i) ASSERT_EQ(grown[i], i);
  auto* back = static_cast<unsigned char*>(Realloc(Domain::kObj, grown, 50));
  EXPECT_EQ(ArenaMap::Global().Owner(back), nullptr)
      << "pymalloc never takes over a raw block";
  Free(Domain::kObj, back);
  ExpectValid();
}

TEST_F(PymallocTest, CallocZeroesReusedBlocks) {
  void* dirty = Malloc(Domain::kMem, 64);
  std::memset(dirty, 0xFF, 64);
  Free(Domain::kMem, dirty);
  auto* p = static_cast<unsigned char*>(Calloc(Domain::kMem, 8, 8));
  EXPECT_EQ(p, dirty) << "LIFO reuse of the freed block";
  for (int i = 0; i < 64; ++i) ASSERT_EQ(p[i], 0);
  Free(Domain::kMem, p);
}

// 512-byte blocks: 31 per pool, 64 pools per arena (63 if unaligned).
std::vector<void*> FillArenas(int arenas) {
  std::vector<void*> blocks;
  for (int i = 0; i < arenas * 64 * 31; ++i) {
    blocks.push_back(Malloc(Domain::kObj, 512));
  }
  return blocks;
}

TEST_F(PymallocTest, EmptyArenasAreReleasedExceptTheLast) {
  std::vector<void*> blocks = FillArenas(3);
  const int allocated = arenas_->allocs.load();
  EXPECT_GE(allocated, 3);
  EXPECT_EQ(arenas_->frees.load(), 0);
  ExpectValid();
  for (void* p : blocks) Free(Domain::kObj, p);
  ExpectValid();
  EXPECT_EQ(arenas_->live(), 1) << "the last wholly free arena is kept";
  absl::StatusOr<HeapStats> stats = Runtime::CurrentHeapStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->arenas_current, 1u);
  EXPECT_EQ(stats->arenas_allocated_total, static_cast<std::size_t>(allocated));
  // Destroying an interpreter with no live block returns the rest.
  ASSERT_TRUE(ThreadState::Detach().ok());
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(interp_).ok());
  interp_ = nullptr;
  EXPECT_EQ(arenas_->live(), 0);
}

// A count summed without the heap's lock (another thread's
// GlobalAllocatedBlocks) reads pool headers of arenas the owner may return
// at any time. The reader parks inside its walk, about to read an arena
// whose last block the owner then frees: the owner cannot return the arena
// (unmap it) until the reader is done, and both counts are exact.
struct ParkedCount {
  std::atomic<std::uintptr_t> arena{0};
  std::atomic<bool> parked{false};
  std::atomic<bool> go{false};
};
ParkedCount* parked_count = nullptr;

void ParkAtArena(std::uintptr_t arena_address) {
  if (arena_address != parked_count->arena.load()) return;
  parked_count->parked.store(true);
  while (!parked_count->go.load()) std::this_thread::yield();
}

TEST_F(PymallocTest, CountsSummedWhileTheOwnerReturnsAnArena) {
  std::vector<void*> blocks = FillArenas(3);
  // The other arenas empty first (one of them is kept, as the last wholly
  // free arena), then `last`'s arena but for `last`: freeing it returns
  // the arena, which is not the last usable one.
  void* last = blocks.front();
  const std::size_t per_arena = 64 * 31;
  for (std::size_t i = per_arena; i < blocks.size(); ++i) {
    Free(Domain::kObj, blocks[i]);
  }
  for (std::size_t i = 1; i < per_arena; ++i) Free(Domain::kObj, blocks[i]);
  ASSERT_EQ(arenas_->live(), 2) << "last's arena and the kept empty one";
  ExpectValid();
  const std::int64_t before = GlobalAllocatedBlocks();
  const int frees_before = arenas_->frees.load();
  ASSERT_TRUE(ThreadState::Detach().ok());

  ParkedCount park;
  parked_count = &park;
  // The address of the arena holding `last` (fake arenas need not be 1 MiB
  // aligned), learnt through the seam on a first, unparked count.
  static std::uintptr_t target = 0;
  static std::atomic<std::uintptr_t> found{0};
  target = reinterpret_cast<std::uintptr_t>(last);
  found.store(0);
  Heap::SetCountSeamForTesting([](std::uintptr_t a) {
    if (a <= target && target - a < kArenaSize) found.store(a);
  });
  EXPECT_EQ(GlobalAllocatedBlocks(), before);
  ASSERT_NE(found.load(), 0u);
  park.arena.store(found.load());
  Heap::SetCountSeamForTesting(ParkAtArena);

  std::int64_t counted = -1;
  std::thread reader([&] { counted = GlobalAllocatedBlocks(); });
  while (!park.parked.load()) std::this_thread::yield();
  std::atomic<bool> freed{false};
  std::thread owner([&] {
    ASSERT_TRUE(ThreadState::Attach(interp_).ok());
    Free(Domain::kObj, last);  // empties and returns the arena
    ASSERT_TRUE(ThreadState::Detach().ok());
    freed.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(freed.load())
      << "the owner returned an arena while a count was reading it";
  EXPECT_EQ(arenas_->frees.load(), frees_before);
  park.go.store(true);
  reader.join();
  owner.join();
  Heap::SetCountSeamForTesting(nullptr);
  parked_count = nullptr;

  // The reader saw `last` live or already freed (the owner lowers its
  // pool's count before it returns the arena), never anything else.
  EXPECT_TRUE(counted == before || counted == before - 1) << counted;
  EXPECT_EQ(GlobalAllocatedBlocks(), before - 1);
  EXPECT_EQ(arenas_->frees.load(), frees_before + 1);
  ASSERT_TRUE(ThreadState::Attach(interp_).ok());
  ExpectValid();
}

TEST_F(PymallocTest, NewPoolsComeFromTheFullestArena) {
  std::vector<void*> blocks = FillArenas(2);
  // Free most pools of the first arena and a few of the second: the second
  // is then the fullest, and a new pool must come from it.
  auto arena_of = [](void* p) { return PoolOf(p)->arena_index; };
  const std::uint32_t first = arena_of(blocks.front());
  // Free in the second arena first, so that without the ordering rule the
  // first arena (whose pools are freed last) would sit at the list's head.
  std::vector<void*> kept;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i] == nullptr) continue;
      const bool in_first = arena_of(blocks[i]) == first;
      const std::size_t pool_number = i / 31;
      const bool free_it = pass == 0 ? (!in_first && pool_number % 32 == 5)
                                     : (in_first && pool_number % 8 != 0);
      if (free_it) {
        Free(Domain::kObj, blocks[i]);
        blocks[i] = nullptr;
      }
    }
  }
  for (void* p : blocks) {
    if (p != nullptr) kept.push_back(p);
  }
  ExpectValid();
  // A class that has no used pool yet forces a new pool.
  void* fresh = Malloc(Domain::kObj, 16);
  EXPECT_NE(arena_of(fresh), first)
      << "the nearly empty first arena must not serve while a fuller one can";
  Free(Domain::kObj, fresh);
  for (void* p : kept) Free(Domain::kObj, p);
  ExpectValid();
}

TEST_F(PymallocTest, ArenaAllocatorFailureFallsBackToRaw) {
  arenas_->fail.store(true);
  const std::int64_t before = Blocks();
  void* p = Malloc(Domain::kObj, 32);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(ArenaMap::Global().Owner(p), nullptr);
  EXPECT_EQ(Blocks(), before + 1);
  Free(Domain::kObj, p);
  EXPECT_EQ(Blocks(), before);
  arenas_->fail.store(false);
}

TEST_F(PymallocTest, RandomWorkloadKeepsInvariants) {
  std::mt19937_64 rng(7);
  std::vector<std::pair<unsigned char*, std::size_t>> live;
  for (int op = 0; op < 60000; ++op) {
    const std::uint64_t r = rng();
    if (live.empty() || r % 3 != 0) {
      const std::size_t n = 1 + (r >> 8) % 520;
      auto* p = static_cast<unsigned char*>(
          Malloc(r % 2 ? Domain::kMem : Domain::kObj, n));
      std::memset(p, static_cast<int>(n & 0xFF), n);
      live.emplace_back(p, n);
    } else {
      const std::size_t i = (r >> 8) % live.size();
      auto [p, n] = live[i];
      for (std::size_t k = 0; k < n; ++k) {
        ASSERT_EQ(p[k], static_cast<unsigned char>(n & 0xFF));
      }
      Free(Domain::kMem, p);
      live[i] = live.back();
      live.pop_back();
    }
    if (op % 10000 == 0) ExpectValid();
  }
  for (auto [p, n] : live) Free(Domain::kObj, p);
  ExpectValid();
}

TEST_F(PymallocTest, SharedHeapInterpreterUsesMainsHeap) {
  ASSERT_TRUE(ThreadState::Detach().ok());
  interp::InterpreterConfig legacy;
  legacy.lock = interp::LockKind::kMain;
  legacy.own_heap = false;
  absl::StatusOr<Interpreter*> shared =
      Runtime::Get().CreateInterpreter(legacy);
  ASSERT_TRUE(shared.ok());
  ASSERT_TRUE(ThreadState::Attach(*shared).ok());
  void* p = Malloc(Domain::kObj, 40);
  EXPECT_EQ(ArenaMap::Global().Owner(p),
            &Runtime::Get().main_interpreter()->heap());
  absl::StatusOr<std::int64_t> count = Runtime::CurrentAllocatedBlocks();
  EXPECT_EQ(count.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(count.status().message().find("doesn't have its own heap"),
            std::string::npos);
  Free(Domain::kObj, p);
  ASSERT_TRUE(ThreadState::Detach().ok());
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*shared).ok());
  ASSERT_TRUE(ThreadState::Attach(interp_).ok());
}

// Blocks allocated in one interpreter and freed on other threads attached
// to other interpreters: none reaches libc free, none is lost, counts are
// exact once the owner drains its remote-free list.
TEST_F(PymallocTest, CrossInterpreterFreesFromManyThreadsAreHandedBack) {
  constexpr int kBlocks = 6000;
  std::vector<void*> blocks;
  for (int i = 0; i < kBlocks; ++i) {
    auto* p = static_cast<unsigned char*>(Malloc(Domain::kObj, 8 + i % 500));
    p[0] = 0xAB;
    blocks.push_back(p);
  }
  const std::int64_t owner_blocks = Blocks();
  const std::int64_t global_before = Runtime::GlobalAllocatedBlocks();
  ASSERT_TRUE(ThreadState::Detach().ok());

  constexpr int kThreads = 3;
  std::vector<Interpreter*> others;
  for (int t = 0; t < kThreads; ++t) {
    absl::StatusOr<Interpreter*> other = Runtime::Get().CreateInterpreter();
    ASSERT_TRUE(other.ok());
    others.push_back(*other);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      interp::ScopedAttach attach(others[t]);
      for (int i = t; i < kBlocks; i += kThreads) {
        if (i % 2 == 0) {
          Free(Domain::kObj, blocks[i]);
        } else {
          // A cross-interpreter realloc moves the block into this heap.
          void* moved = Realloc(Domain::kObj, blocks[i], 24);
          EXPECT_EQ(static_cast<unsigned char*>(moved)[0], 0xAB);
          Free(Domain::kObj, moved);
        }
      }
      absl::StatusOr<std::int64_t> mine = Runtime::CurrentAllocatedBlocks();
      EXPECT_EQ(mine.value_or(-1), 0) << "nothing stays in the freeing heap";
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(ThreadState::Attach(interp_).ok());
  EXPECT_EQ(heap().remote_frees(), kBlocks);
  EXPECT_EQ(Blocks(), owner_blocks - kBlocks);
  EXPECT_EQ(Runtime::GlobalAllocatedBlocks(), global_before - kBlocks);
  ExpectValid();
  for (Interpreter* other : others) {
    ASSERT_TRUE(Runtime::Get().DestroyInterpreter(other).ok());
  }
}

TEST_F(PymallocTest, DestroyWithLiveBlocksKeepsThemValidUntilTheyComeHome) {
  ASSERT_TRUE(ThreadState::Detach().ok());
  absl::StatusOr<Interpreter*> leaky = Runtime::Get().CreateInterpreter();
  ASSERT_TRUE(leaky.ok());
  std::vector<char*> leaked;
  {
    interp::ScopedAttach attach(*leaky);
    for (int i = 0; i < 5; ++i) {
      leaked.push_back(static_cast<char*>(Malloc(Domain::kMem, 48)));
    }
  }
  const std::int64_t leaks_before = LeakedBlocks();
  const int arenas_before = arenas_->live();
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*leaky).ok());
  EXPECT_EQ(LeakedBlocks(), leaks_before + 5);
  EXPECT_EQ(arenas_->live(), arenas_before) << "arenas of leaks stay mapped";
  ASSERT_TRUE(ThreadState::Attach(interp_).ok());
  for (char* p : leaked) {
    std::memset(p, 1, 48);  // still valid memory
    Free(Domain::kMem, p);  // handed back to the kept heap, not to libc
  }
  // The orphaned heap was reclaimed with its last block: nothing leaked
  // any more, and its arena went back.
  EXPECT_EQ(LeakedBlocks(), leaks_before);
  EXPECT_EQ(arenas_->live(), arenas_before - 1);
}

TEST_F(PymallocTest, StatsTableHasCpythonsFormat) {
  std::vector<void*> blocks;
  for (int i = 0; i < 12; ++i) blocks.push_back(Malloc(Domain::kObj, 16));
  for (int i = 0; i < 3; ++i) blocks.push_back(Malloc(Domain::kObj, 500));
  absl::StatusOr<HeapStats> stats = Runtime::CurrentHeapStats();
  ASSERT_TRUE(stats.ok());
  const std::string text = StatsText(*stats);
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 29u);
  EXPECT_EQ(lines[0], "Small block threshold = 512, in 32 size classes.");
  EXPECT_EQ(lines[1], "");
  EXPECT_EQ(lines[2], "class   size   num pools   blocks in use  avail blocks");
  EXPECT_EQ(lines[3], "-----   ----   ---------   -------------  ------------");
  EXPECT_EQ(lines[4], "    0     16           1              12          1009");
  EXPECT_EQ(lines[5], "   31    512           1               3            28");
  EXPECT_EQ(lines[6], "");
  EXPECT_EQ(lines[7],
            "# arenas allocated total           =                    1");
  EXPECT_EQ(lines[8],
            "# arenas reclaimed                 =                    0");
  EXPECT_EQ(lines[9],
            "# arenas highwater mark            =                    1");
  EXPECT_EQ(lines[10],
            "# arenas allocated current         =                    1");
  EXPECT_EQ(lines[11],
            "1 arenas * 1048576 bytes/arena     =            1,048,576");
  EXPECT_EQ(lines[12], "");
  EXPECT_EQ(lines[13],
            "# bytes in allocated blocks        =                1,728");
  // The byte lines add up to the arenas' size, as CPython asserts.
  const std::string total = lines[19];
  EXPECT_EQ(total, "Total                              =            1,048,576");
  EXPECT_EQ(lines[21], "arena map counts");
  EXPECT_EQ(lines[22],
            "# arena map mid nodes              =                    0");
  const std::string json = StatsJson(*stats);
  EXPECT_NE(
      json.find("\"class\":0,\"size\":16,\"pools\":1,\"blocks_in_use\":12"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find("\"arenas_current\":1"), std::string::npos);
  for (void* p : blocks) Free(Domain::kObj, p);
}

TEST_F(PymallocDeathTest, MallocStatsVariablePrintsTableBeforeNewArena) {
  EXPECT_EXIT(
      {
        setenv("INTERPHEAP_MALLOCSTATS", "1", 1);
        Malloc(Domain::kObj, 10);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0),
      "Small block threshold = 512, in 32 size classes.\n\n"
      "class   size   num pools   blocks in use  avail blocks\n"
      "-----   ----   ---------   -------------  ------------\n\n"
      "# arenas allocated total           =                    0");
}

}  // namespace
}  // namespace interpheap::alloc
