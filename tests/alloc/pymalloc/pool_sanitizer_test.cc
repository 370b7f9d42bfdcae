// Under --config=asan, pymalloc poisons free blocks, pool slack and the
// bytes past each requested size, so ASan reports errors inside pools
// (as "use-after-poison": the report ASan gives for memory an allocator
// poisons itself). In other builds these tests skip and say why.

#include <cstring>

#include "absl/base/config.h"
#include "alloc/domain.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using interp::Runtime;
using interp::ThreadState;

class PoolSanitizerDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef ABSL_HAVE_ADDRESS_SANITIZER
    GTEST_SKIP() << "needs an ASan build: ./bazelw test --config=asan //...";
#endif
    testing::InitializeRuntime("pymalloc");
    ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  }
  void TearDown() override { testing::ResetRuntime(); }
};

// Reads through a volatile pointer so the access is not optimized away.
unsigned char ReadByte(const void* p, int offset) {
  return static_cast<const volatile unsigned char*>(p)[offset];
}

TEST_F(PoolSanitizerDeathTest, ReadOfAFreedPoolBlockIsReported) {
  void* keep = Malloc(Domain::kObj, 32);  // the pool stays in use
  void* p = Malloc(Domain::kObj, 32);
  Free(Domain::kObj, p);
  EXPECT_DEATH(ReadByte(p, 8),
               "AddressSanitizer: use-after-poison(.|\n)*READ of size 1");
  Free(Domain::kObj, keep);
}

TEST_F(PoolSanitizerDeathTest, OverflowPastTheRequestedSizeIsReported) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kMem, 20));  // class 32
  std::memset(p, 1, 20);
  EXPECT_DEATH(static_cast<volatile unsigned char*>(p)[20] = 7,
               "AddressSanitizer: use-after-poison(.|\n)*WRITE of size 1");
  Free(Domain::kMem, p);
}

TEST_F(PoolSanitizerDeathTest, OverflowIntoAFreeNeighbourIsReported) {
  auto* a = static_cast<unsigned char*>(Malloc(Domain::kObj, 16));
  void* b = Malloc(Domain::kObj, 16);  // a's neighbour in the pool
  Free(Domain::kObj, b);
  EXPECT_DEATH(static_cast<volatile unsigned char*>(a)[16] = 7,
               "AddressSanitizer: use-after-poison");
  Free(Domain::kObj, a);
}

TEST_F(PoolSanitizerDeathTest, UncarvedPoolSpaceIsPoisoned) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kObj, 512));
  // Far past the blocks carved so far, inside the same pool.
  EXPECT_DEATH(ReadByte(p, 4096), "AddressSanitizer: use-after-poison");
  Free(Domain::kObj, p);
}

TEST_F(PoolSanitizerDeathTest, ReallocKeepsExactlyTheRequestedBytesOpen) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kObj, 100));
  std::memset(p, 3, 100);
  p = static_cast<unsigned char*>(Realloc(Domain::kObj, p, 90));  // in place
  EXPECT_EQ(ReadByte(p, 89), 3);
  EXPECT_DEATH(ReadByte(p, 90), "AddressSanitizer: use-after-poison");
  Free(Domain::kObj, p);
}

}  // namespace
}  // namespace interpheap::alloc
