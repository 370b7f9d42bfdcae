// The C API's heap introspection from C++: validation that finds a broken
// invariant, the PyMem_New-style macros compiled as C++, process-wide stats
// and validation while other threads allocate in their own interpreters,
// and the process-wide walk (Runtime::WithEveryHeap) while interpreters are
// destroyed.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "alloc/pymalloc/pymalloc.h"
#include "api/interpheap.h"
#include "gtest/gtest.h"
#include "interp/interpreter.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap {
namespace {

class CApiHeapTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::InitializeRuntime("pymalloc"); }
  void TearDown() override { testing::ResetRuntime(); }

  ih_status_t st_{};
};

alloc::PoolHeader* PoolOf(void* p) {
  return reinterpret_cast<alloc::PoolHeader*>(
      reinterpret_cast<std::uintptr_t>(p) & ~(alloc::kPoolSize - 1));
}

TEST_F(CApiHeapTest, ValidationNamesTheBrokenInvariantAndTheInterpreter) {
  ih_interp_t* interp = ih_interp_create(nullptr, &st_);
  ASSERT_NE(interp, nullptr) << st_.message;
  const std::int64_t id = ih_interp_id(interp);
  ASSERT_EQ(ih_thread_attach(interp, &st_), IH_OK) << st_.message;
  void* block = ih_obj_malloc(64);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(ih_interp_validate_heap(interp, &st_), IH_OK) << st_.message;

  // One block too many in its pool's count.
  ++PoolOf(block)->ref_count;
  EXPECT_EQ(ih_interp_validate_heap(interp, &st_), IH_INTERNAL);
  EXPECT_NE(std::strstr(st_.message, "ref_count"), nullptr) << st_.message;
  const std::string heap_name = "heap of interpreter " + std::to_string(id);
  EXPECT_NE(std::strstr(st_.message, heap_name.c_str()), nullptr)
      << st_.message;
  ASSERT_EQ(ih_thread_detach(&st_), IH_OK);
  // The process-wide check finds it too (main's heap is sane).
  EXPECT_EQ(ih_validate_heaps(&st_), IH_INTERNAL);
  EXPECT_NE(std::strstr(st_.message, heap_name.c_str()), nullptr)
      << st_.message;
  EXPECT_EQ(ih_interp_validate_heap(ih_interp_main(), &st_), IH_OK)
      << st_.message;

  ASSERT_EQ(ih_thread_attach(interp, &st_), IH_OK);
  --PoolOf(block)->ref_count;
  EXPECT_EQ(ih_interp_validate_heap(interp, &st_), IH_OK) << st_.message;
  ih_obj_free(block);
  ASSERT_EQ(ih_thread_detach(&st_), IH_OK);
  EXPECT_EQ(ih_validate_heaps(&st_), IH_OK) << st_.message;
  ASSERT_EQ(ih_interp_destroy(interp, &st_), IH_OK);
}

TEST_F(CApiHeapTest, MemMacrosInCxx) {
  ASSERT_EQ(ih_thread_attach(ih_interp_main(), &st_), IH_OK);
  std::uint64_t* xs = ih_mem_new(std::uint64_t, 8);
  ASSERT_NE(xs, nullptr);
  EXPECT_EQ(ih_pymalloc_owns(xs), 1);
  for (int i = 0; i < 8; ++i) xs[i] = 100 + i;
  std::uint64_t* const old = xs;
  EXPECT_EQ(ih_mem_resize(xs, std::uint64_t, SIZE_MAX / 4), nullptr);
  EXPECT_EQ(xs, nullptr);
  xs = old;
  ASSERT_NE(ih_mem_resize(xs, std::uint64_t, 100), nullptr);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(xs[i], 100u + i);
  EXPECT_EQ(ih_pymalloc_owns(xs), 0);  // 800 bytes: raw's
  ih_mem_del(xs);
  EXPECT_EQ(ih_mem_new(std::uint64_t, PTRDIFF_MAX / 8 + 1), nullptr);
  ASSERT_EQ(ih_thread_detach(&st_), IH_OK);
}

// Workers allocate and free in their own interpreters, detaching between
// rounds; the process-wide calls take each interpreter's lock in turn and
// see consistent heaps.
TEST_F(CApiHeapTest, ProcessWideCallsWhileInterpretersRun) {
  constexpr int kWorkers = 2;
  std::vector<ih_interp_t*> interps;
  for (int i = 0; i < kWorkers; ++i) {
    interps.push_back(ih_interp_create(nullptr, &st_));
    ASSERT_NE(interps.back(), nullptr) << st_.message;
  }
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      ih_status_t status;
      std::vector<void*> blocks;
      while (!stop.load()) {
        if (ih_thread_attach(interps[w], &status) != IH_OK) return;
        for (int i = 0; i < 200; ++i) {
          blocks.push_back(ih_obj_malloc(static_cast<size_t>(8 + i % 500)));
        }
        for (std::size_t i = 0; i < blocks.size(); i += 2) {
          ih_obj_free(blocks[i]);
        }
        std::vector<void*> kept;
        for (std::size_t i = 1; i < blocks.size(); i += 2) {
          kept.push_back(blocks[i]);
        }
        blocks.swap(kept);
        if (blocks.size() > 2000) {
          for (void* p : blocks) ih_obj_free(p);
          blocks.clear();
        }
        (void)ih_thread_detach(&status);
        rounds.fetch_add(1);
      }
      if (ih_thread_attach(interps[w], &status) != IH_OK) return;
      for (void* p : blocks) ih_obj_free(p);
      (void)ih_thread_detach(&status);
    });
  }
  // At least 50 reads, and until the workers made progress between them.
  for (int i = 0; i < 50 || rounds.load() < 20; ++i) {
    ih_stats_t stats;
    ASSERT_EQ(ih_get_stats(&stats, &st_), IH_OK) << st_.message;
    EXPECT_EQ(stats.heaps, static_cast<std::size_t>(kWorkers + 1));
    std::size_t in_use = 0;
    for (const ih_size_class_stats_t& c : stats.classes) {
      in_use += c.blocks_in_use;
    }
    EXPECT_EQ(in_use, stats.blocks_in_use);
    ASSERT_EQ(ih_validate_heaps(&st_), IH_OK) << st_.message;
    ih_stats_t one;
    ASSERT_EQ(ih_interp_get_stats(interps[i % kWorkers], &one, &st_), IH_OK)
        << st_.message;
    EXPECT_EQ(one.heaps, 1u);
    EXPECT_GE(ih_interp_allocated_blocks(interps[i % kWorkers], &st_), 0);
  }
  stop.store(true);
  for (std::thread& t : workers) t.join();
  EXPECT_GT(rounds.load(), 0);
  for (ih_interp_t* interp : interps) {
    EXPECT_EQ(ih_interp_allocated_blocks(interp, &st_), 0);
    ASSERT_EQ(ih_interp_destroy(interp, &st_), IH_OK) << st_.message;
  }
}

// A heap read live and then orphaned (its interpreter destroyed with a
// live block) before the walk reaches the orphans is not read again.
TEST_F(CApiHeapTest, EveryHeapWalkReadsAHeapOrphanedMeanwhileOnce) {
  interp::Runtime& runtime = interp::Runtime::Get();
  absl::StatusOr<interp::Interpreter*> first = runtime.CreateInterpreter();
  absl::StatusOr<interp::Interpreter*> second = runtime.CreateInterpreter();
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(interp::ThreadState::Attach(*first).ok());
  void* leaked = ih_obj_malloc(32);
  ASSERT_TRUE(interp::ThreadState::Detach().ok());
  const std::uint64_t first_heap = (*first)->heap().serial();
  const std::uint64_t second_heap = (*second)->heap().serial();
  std::vector<std::uint64_t> read;
  absl::Status walked = runtime.WithEveryHeap("test", [&](alloc::Heap& heap) {
    read.push_back(heap.serial());
    if (heap.serial() == second_heap) {
      // The first interpreter's heap was read; it becomes an orphan now.
      std::thread([&] {
        EXPECT_TRUE(runtime.DestroyInterpreter(*first).ok());
      }).join();
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(walked.ok()) << walked;
  EXPECT_EQ(read.size(), 3u);  // main's, the first's, the second's
  EXPECT_EQ(std::count(read.begin(), read.end(), first_heap), 1);
  ih_stats_t stats;
  ASSERT_EQ(ih_get_stats(&stats, &st_), IH_OK) << st_.message;
  EXPECT_EQ(stats.heaps, 3u);  // main's, the orphan, the second's
  ASSERT_TRUE(interp::ThreadState::Attach(*second).ok());
  ih_obj_free(leaked);
  ASSERT_TRUE(interp::ThreadState::Detach().ok());
  ASSERT_TRUE(runtime.DestroyInterpreter(*second).ok());
  ASSERT_EQ(ih_get_stats(&stats, &st_), IH_OK) << st_.message;
  EXPECT_EQ(stats.heaps, 1u);
}

// An interpreter destroyed with a live block while the process-wide stats
// run is read once: live, or as the orphan it became.
TEST_F(CApiHeapTest, DestroyDuringProcessStatsCountsEachHeapOnce) {
  for (int round = 0; round < 20; ++round) {
    ih_interp_t* interp = ih_interp_create(nullptr, &st_);
    ASSERT_NE(interp, nullptr);
    ASSERT_EQ(ih_thread_attach(interp, &st_), IH_OK);
    void* leaked = ih_obj_malloc(32);
    ASSERT_EQ(ih_thread_detach(&st_), IH_OK);
    std::thread destroyer([interp] {
      ih_status_t status;
      // Refused while the stats call is attached to it; retried.
      while (ih_interp_destroy(interp, &status) != IH_OK) {
        std::this_thread::yield();
      }
    });
    ih_stats_t stats;
    ASSERT_EQ(ih_get_stats(&stats, &st_), IH_OK) << st_.message;
    EXPECT_EQ(stats.heaps, 2u);  // main, and the interpreter's (or orphan)
    destroyer.join();
    ASSERT_EQ(ih_get_stats(&stats, &st_), IH_OK);
    EXPECT_EQ(stats.heaps, 2u);  // main and the orphan
    ASSERT_EQ(ih_thread_attach(ih_interp_main(), &st_), IH_OK);
    ih_obj_free(leaked);
    ASSERT_EQ(ih_thread_detach(&st_), IH_OK);
    ASSERT_EQ(ih_get_stats(&stats, &st_), IH_OK);
    EXPECT_EQ(stats.heaps, 1u);
  }
}

}  // namespace
}  // namespace interpheap
