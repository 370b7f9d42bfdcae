// Blocks the current configuration's mem/obj allocator did not hand out,
// freed or reallocated through mem or obj: a C library block
// (ih_mem_free(malloc(16))) changes no count, and a pymalloc pool block
// left from an earlier configuration goes to its heap (or, when it cannot,
// the misuse is named).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>

#include "alloc/config.h"
#include "alloc/domain.h"
#include "alloc/pymalloc/arena_map.h"
#include "alloc/pymalloc/heap_registry.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "interpheap/interpheap.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using interp::Runtime;
using interp::ThreadState;

struct ForeignFreeCase {
  const char* config;
  bool hooks_after_init;  // SetupDebugHooks after Initialize (pass-down)
};

void PrintTo(const ForeignFreeCase& c, std::ostream* os) {
  *os << c.config << (c.hooks_after_init ? " + debug hooks after init" : "");
}

class ForeignFreeTest : public ::testing::TestWithParam<ForeignFreeCase> {
 protected:
  void TearDown() override { testing::ResetRuntime(); }
};

std::int64_t AllocatedBlocks() {
  ih_status_t status;
  const std::int64_t blocks = ih_allocated_blocks(&status);
  EXPECT_EQ(status.code, IH_OK) << status.message;
  return blocks;
}

// Issue "bad input and debug mode", item 4: freeing (or reallocating) a
// pointer the mem/obj domains never counted changes no count, in two init/
// finalize cycles in a row, and the debug hooks set up after initialization
// still pass the blocks made before them down in the second cycle. Before:
// under pymalloc the foreign pointer was taken for a raw fallback block and
// ih_allocated_blocks() and ih_global_allocated_blocks() went one lower per
// free, for good (the global count carried it into every later cycle).
TEST_P(ForeignFreeTest, CLibraryBlockFreedThroughMemOrObjChangesNoCount) {
  const bool pymalloc = std::string(GetParam().config) == "pymalloc";
  const std::int64_t global_start = ih_global_allocated_blocks();
  for (int cycle = 1; cycle <= 2; ++cycle) {
    SCOPED_TRACE(cycle);
    testing::InitializeRuntime(GetParam().config);
    Runtime& runtime = Runtime::Get();
    ASSERT_TRUE(ThreadState::Attach(runtime.main_interpreter()).ok());
    // Counted blocks made before the hooks (a pool block and a raw
    // fallback block): the hooks pass them down.
    void* pool_block = ih_mem_malloc(16);
    void* raw_block = ih_obj_malloc(1000);
    ASSERT_NE(pool_block, nullptr);
    ASSERT_NE(raw_block, nullptr);
    if (GetParam().hooks_after_init) {
      ASSERT_TRUE(runtime.SetupDebugHooks().ok());
    }
    const std::int64_t local = AllocatedBlocks();
    const std::int64_t global = ih_global_allocated_blocks();
    EXPECT_EQ(global - global_start, pymalloc ? 2 : 0);

    ih_mem_free(std::malloc(16));
    ih_obj_free(std::malloc(1000));
    ih_obj_free(std::malloc(0));
    // Resized through mem, the block stays uncounted (or, under the hooks,
    // becomes a counted mem block of theirs, which comes off when freed).
    void* resized = ih_mem_realloc(std::malloc(16), 2000);
    ASSERT_NE(resized, nullptr);
    resized = ih_mem_realloc(resized, 24);
    ASSERT_NE(resized, nullptr);
    ih_mem_free(resized);
    EXPECT_EQ(AllocatedBlocks(), local);
    EXPECT_EQ(ih_global_allocated_blocks(), global);

    // The counted blocks come off exactly, one each.
    ih_obj_free(raw_block);
    EXPECT_EQ(AllocatedBlocks(), local - (pymalloc ? 1 : 0));
    ih_mem_free(pool_block);
    EXPECT_EQ(AllocatedBlocks(), local - (pymalloc ? 2 : 0));
    EXPECT_EQ(ih_global_allocated_blocks(), global_start);
    testing::ResetRuntime();
  }
  EXPECT_EQ(ih_global_allocated_blocks(), global_start);
}

INSTANTIATE_TEST_SUITE_P(
    Configurations, ForeignFreeTest,
    ::testing::Values(ForeignFreeCase{"pymalloc", false},
                      ForeignFreeCase{"pymalloc", true},
                      ForeignFreeCase{"malloc", false},
                      ForeignFreeCase{"malloc", true}),
    [](const ::testing::TestParamInfo<ForeignFreeCase>& info) {
      return std::string(info.param.config) +
             (info.param.hooks_after_init ? "_hooks_after_init" : "");
    });

// Item 7: after ih_runtime_reset (mem and obj on the C library), pool
// blocks left from the cycle before are freed and reallocated through mem
// and obj into their heap, an orphan since finalization, which is freed
// with its last block. Before: glibc aborted on the first free
// ("free(): invalid pointer" / "munmap_chunk(): invalid pointer").
TEST(LeftoverPoolBlockTest, FreedAndReallocatedThroughMemAndObjAfterReset) {
  testing::InitializeRuntime("pymalloc");
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  const std::int64_t leaked_before = LeakedBlocks();
  const std::int64_t global_before = GlobalAllocatedBlocks();
  auto* a = static_cast<char*>(Malloc(Domain::kMem, 16));
  auto* b = static_cast<char*>(Malloc(Domain::kObj, 100));
  auto* c = static_cast<char*>(Malloc(Domain::kObj, 200));
  ASSERT_NE(ArenaMap::Global().Owner(a), nullptr);
  std::memset(b, 'b', 100);
  testing::ResetRuntime();  // finalized (main's heap kept as an orphan), reset
  ASSERT_EQ(LeakedBlocks(), leaked_before + 3);
  EXPECT_STREQ(ih_current_configuration_name(), "malloc");

  Free(Domain::kMem, a);
  EXPECT_EQ(LeakedBlocks(), leaked_before + 2);
  auto* moved = static_cast<char*>(Realloc(Domain::kObj, b, 1000));
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(ArenaMap::Global().Owner(moved), nullptr)
      << "the realloc returns a C library block";
  EXPECT_EQ(std::string(moved, 100), std::string(100, 'b'));
  EXPECT_EQ(LeakedBlocks(), leaked_before + 1);
  Free(Domain::kObj, moved);
  Free(Domain::kObj, c);  // the orphan's last block: the heap is freed
  EXPECT_EQ(LeakedBlocks(), leaked_before);
  EXPECT_EQ(GlobalAllocatedBlocks(), global_before);
  EXPECT_EQ(ArenaMap::Global().Owner(c), nullptr)
      << "the orphan's arena went back with its last block";
}

// Item 7, in a configuration where obj is pymalloc and mem the C library
// (the `malloc` configuration's allocator): a pool block freed through mem
// goes into the current heap, whose count drops by one; reallocated
// through mem, it becomes a C library block.
TEST(LeftoverPoolBlockTest, PoolBlockThroughTheCLibraryMemDomainGoesHome) {
  testing::ResetRuntime();
  interp::RuntimeConfig config;
  config.allocator = "pymalloc";
  config.use_environment = false;
  Runtime& runtime = Runtime::Get();
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  absl::StatusOr<std::array<Allocator, kDomainCount>> libc =
      BaseAllocators(NamedConfig::kMalloc);
  ASSERT_TRUE(libc.ok());
  ASSERT_TRUE(runtime
                  .ReplaceAllocator(Domain::kMem,
                                    (*libc)[static_cast<int>(Domain::kMem)])
                  .ok());
  ASSERT_TRUE(runtime.Initialize().ok());
  ASSERT_TRUE(ThreadState::Attach(runtime.main_interpreter()).ok());
  const std::int64_t local = AllocatedBlocks();
  void* p = Malloc(Domain::kObj, 48);
  ASSERT_EQ(AllocatedBlocks(), local + 1);
  Free(Domain::kMem, p);
  EXPECT_EQ(AllocatedBlocks(), local);
  auto* q = static_cast<char*>(Malloc(Domain::kObj, 48));
  std::memset(q, 'q', 48);
  auto* moved = static_cast<char*>(Realloc(Domain::kMem, q, 64));
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(ArenaMap::Global().Owner(moved), nullptr);
  EXPECT_EQ(std::string(moved, 48), std::string(48, 'q'));
  EXPECT_EQ(AllocatedBlocks(), local);
  Free(Domain::kMem, moved);
  testing::ResetRuntime();
}

// Item 7 under `mimalloc`: mimalloc's mem/obj allocator asks the ownership
// map too, so a pool block of an earlier cycle never reaches mi_free.
TEST(LeftoverPoolBlockTest, FreedAndReallocatedUnderMimalloc) {
  if (!BaseAllocators(NamedConfig::kMimalloc).ok()) {
    GTEST_SKIP() << "libmimalloc cannot be loaded";
  }
  testing::InitializeRuntime("pymalloc");
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  const std::int64_t leaked_before = LeakedBlocks();
  auto* a = static_cast<char*>(Malloc(Domain::kObj, 32));
  auto* b = static_cast<char*>(Malloc(Domain::kMem, 48));
  std::memset(b, 'm', 48);
  testing::InitializeRuntime("mimalloc");
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  ASSERT_EQ(LeakedBlocks(), leaked_before + 2);
  Free(Domain::kObj, a);
  EXPECT_EQ(LeakedBlocks(), leaked_before + 1);
  auto* moved = static_cast<char*>(Realloc(Domain::kMem, b, 100));
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(ArenaMap::Global().Owner(moved), nullptr);
  EXPECT_EQ(std::string(moved, 48), std::string(48, 'm'));
  EXPECT_EQ(LeakedBlocks(), leaked_before);
  Free(Domain::kMem, moved);
  testing::ResetRuntime();
}

// Item 7: what cannot go home is named. An interior pointer into a pool
// (also what a debug-hook block looks like once the hooks are gone) dies
// with a message instead of reaching glibc; under a *_debug configuration
// a leftover pool block is named as a pymalloc block the hooks did not
// hand out (before: "an interior pointer", which it is not).
TEST(LeftoverPoolBlockDeathTest, WhatCannotGoHomeIsNamed) {
  testing::InitializeRuntime("pymalloc");
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  auto* p = static_cast<char*>(Malloc(Domain::kObj, 64));
  testing::ResetRuntime();
  EXPECT_DEATH(Free(Domain::kObj, p + 16),
               "interpheap: fatal error: mem/obj free \\(C library\\): "
               "pointer inside a pymalloc arena but not a block's start \\(an "
               "interior pointer, or a block of the debug hooks freed after "
               "they were removed\\)\n");
  EXPECT_DEATH(Realloc(Domain::kMem, p + 16, 8),
               "interpheap: fatal error: mem/obj realloc \\(C library\\): "
               "pointer inside a pymalloc arena but not a block's start");
  for (const char* debug : {"pymalloc_debug", "malloc_debug"}) {
    testing::InitializeRuntime(debug);
    ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
    EXPECT_DEATH(Free(Domain::kObj, p),
                 "interpheap: fatal error: _PyMem_DebugFree: pointer not "
                 "allocated by the debug hooks \\(a pymalloc block they did "
                 "not hand out: made before they were installed, or under an "
                 "earlier configuration\\)\n")
        << debug;
  }
  testing::ResetRuntime();
  Free(Domain::kObj, p);  // on the C library again: home
}

}  // namespace
}  // namespace interpheap::alloc
