// The mimalloc configuration: loaded on demand, per-interpreter heaps that
// are per thread underneath, blocks valid across interpreters and threads.

#include "alloc/external/mimalloc_allocator.h"

#include <cstring>
#include <thread>
#include <vector>

#include "alloc/config.h"
#include "alloc/domain.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using interp::Interpreter;
using interp::Runtime;
using interp::ThreadState;

class MimallocTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::InitializeRuntime("mimalloc"); }
  void TearDown() override { testing::ResetRuntime(); }
};

TEST_F(MimallocTest, ConfigurationIsReportedByName) {
  EXPECT_EQ(CurrentNamedConfig(AllocatorTable::Global()),
            NamedConfig::kMimalloc);
  EXPECT_TRUE(SameAllocator(AllocatorTable::Global().Get(Domain::kMem),
                            kMimallocAllocator));
  EXPECT_TRUE(
      SameAllocator(AllocatorTable::Global().Get(Domain::kRaw), kLibcAllocator))
      << "raw stays the C library: mimalloc is not linked into the process";
}

TEST_F(MimallocTest, BlocksMoveFreelyBetweenInterpretersAndThreads) {
  absl::StatusOr<Interpreter*> a = Runtime::Get().CreateInterpreter();
  absl::StatusOr<Interpreter*> b = Runtime::Get().CreateInterpreter();
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<char*> blocks;
  {
    interp::ScopedAttach attach(*a);
    for (int i = 0; i < 1000; ++i) {
      auto* p = static_cast<char*>(Malloc(Domain::kObj, 1 + i % 700));
      ASSERT_NE(p, nullptr);
      p[0] = static_cast<char>(i);
      blocks.push_back(p);
    }
  }
  // Freed and reallocated on another thread attached to another
  // interpreter.
  std::thread other([&] {
    interp::ScopedAttach attach(*b);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      ASSERT_EQ(blocks[i][0], static_cast<char>(i));
      if (i % 2 == 0) {
        Free(Domain::kObj, blocks[i]);
      } else {
        auto* moved = static_cast<char*>(Realloc(Domain::kObj, blocks[i], 900));
        ASSERT_NE(moved, nullptr);
        EXPECT_EQ(moved[0], static_cast<char>(i));
        Free(Domain::kObj, moved);
      }
    }
  });
  other.join();
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*a).ok());
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*b).ok());
}

TEST_F(MimallocTest, BlocksOutliveTheThreadThatAllocatedThem) {
  absl::StatusOr<Interpreter*> a = Runtime::Get().CreateInterpreter();
  ASSERT_TRUE(a.ok());
  char* survivor = nullptr;
  std::thread worker([&] {
    interp::ScopedAttach attach(*a);
    survivor = static_cast<char*>(Malloc(Domain::kMem, 64));
    std::memset(survivor, 'z', 64);
  });
  worker.join();  // its mimalloc heaps are deleted at thread exit
  {
    interp::ScopedAttach attach(*a);
    for (int i = 0; i < 64; ++i) ASSERT_EQ(survivor[i], 'z');
    Free(Domain::kMem, survivor);
  }
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*a).ok());
}

}  // namespace
}  // namespace interpheap::alloc
