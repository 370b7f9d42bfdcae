// Fault injection (CPython's set_nomemory): the window of failing calls,
// free never failing, idempotent removal, and every allocation path of
// pymalloc returning NULL cleanly without corrupting anything.

#include "alloc/hooks/fault_injection.h"

#include <cstring>
#include <vector>

#include "alloc/domain.h"
#include "alloc/pymalloc/pymalloc.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using interp::Runtime;
using interp::ThreadState;

class FaultInjectionTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    testing::InitializeRuntime(GetParam());
    ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  }
  void TearDown() override {
    EXPECT_TRUE(Runtime::Get().RemoveNoMemory().ok());
    testing::ResetRuntime();
  }
};

TEST_P(FaultInjectionTest, CallsInTheWindowFailInEveryDomain) {
  ASSERT_TRUE(Runtime::Get().SetNoMemory(2, 4).ok());
  void* a = Malloc(Domain::kRaw, 8);       // call 1
  void* b = Malloc(Domain::kMem, 8);       // call 2
  void* c = Calloc(Domain::kObj, 1, 8);    // call 3: fails
  void* d = Realloc(Domain::kMem, b, 64);  // call 4: fails, b kept
  void* e = Malloc(Domain::kObj, 8);       // call 5
  EXPECT_NE(a, nullptr);
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(c, nullptr);
  EXPECT_EQ(d, nullptr);
  EXPECT_NE(e, nullptr);
  Free(Domain::kRaw, a);  // free never fails
  Free(Domain::kMem, b);
  Free(Domain::kObj, e);
  EXPECT_GE(NoMemoryCallCount(), 5);
}

TEST_P(FaultInjectionTest, OpenEndedWindowAndIdempotentRemoval) {
  ASSERT_TRUE(Runtime::Get().SetNoMemory(0).ok());
  EXPECT_EQ(Malloc(Domain::kRaw, 1), nullptr);
  EXPECT_EQ(Malloc(Domain::kObj, 1), nullptr);
  ASSERT_TRUE(Runtime::Get().RemoveNoMemory().ok());
  ASSERT_TRUE(Runtime::Get().RemoveNoMemory().ok()) << "idempotent";
  void* p = Malloc(Domain::kObj, 1);
  EXPECT_NE(p, nullptr);
  Free(Domain::kObj, p);
  EXPECT_EQ(Runtime::Get().SetNoMemory(5, 3).code(),
            absl::StatusCode::kInvalidArgument);
}

// Runs a fixed workload with the n-th allocation call failing, for every n:
// each failure must return NULL, keep existing blocks intact, and leave the
// heap valid and its count exact.
TEST_P(FaultInjectionTest, EveryFailurePointLeavesTheHeapIntact) {
  for (int fail_at = 0; fail_at < 40; ++fail_at) {
    ASSERT_TRUE(Runtime::Get().SetNoMemory(fail_at, fail_at + 1).ok());
    struct Block {
      unsigned char* p;
      std::size_t n;
      Domain domain;
    };
    std::vector<Block> blocks;
    int failures = 0;
    for (int i = 0; i < 12; ++i) {
      const std::size_t n = 1 + (i * 97) % 700;
      const Domain domain = i % 3 == 0 ? Domain::kObj : Domain::kMem;
      auto* p = static_cast<unsigned char*>(
          domain == Domain::kObj ? Calloc(domain, 1, n) : Malloc(domain, n));
      if (p == nullptr) {
        ++failures;
        continue;
      }
      std::memset(p, i, n);
      blocks.push_back({p, n, domain});
      if (i % 4 == 1) {
        auto* grown = static_cast<unsigned char*>(Realloc(domain, p, n * 3));
        if (grown == nullptr) {
          ++failures;  // p is still valid and unchanged
        } else {
          std::memset(grown + n, i, 2 * n);
          blocks.back() = {grown, n * 3, domain};
        }
      }
    }
    EXPECT_LE(failures, 1) << "fail_at " << fail_at;
    for (const Block& block : blocks) {
      const unsigned char expect = block.p[0];
      for (std::size_t k = 0; k < block.n; ++k) ASSERT_EQ(block.p[k], expect);
      Free(block.domain, block.p);
    }
    ASSERT_TRUE(Runtime::Get().RemoveNoMemory().ok());
    Heap& heap = Runtime::Get().main_interpreter()->heap();
    heap.guard().AssertHeld();
    EXPECT_TRUE(heap.Validate().ok()) << "fail_at " << fail_at;
    EXPECT_EQ(heap.AllocatedBlocks(), 0) << "fail_at " << fail_at;
  }
}

INSTANTIATE_TEST_SUITE_P(Configurations, FaultInjectionTest,
                         ::testing::Values("pymalloc", "pymalloc_debug"));

}  // namespace
}  // namespace interpheap::alloc
