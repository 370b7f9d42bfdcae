// Blocks the current configuration's mem/obj allocator did not hand out,
// freed or reallocated through mem or obj: a C library block
// (ih_mem_free(malloc(16))) changes no count.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>

#include "alloc/config.h"
#include "alloc/domain.h"
#include "alloc/pymalloc/arena_map.h"
#include "alloc/pymalloc/heap_registry.h"
#include "interpheap/interpheap.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
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

}  // namespace
}  // namespace interpheap::alloc
