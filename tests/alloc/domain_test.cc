// The per-domain contract (CPython's PyMem_* edge cases), run over every
// domain and every named configuration that has landed.

#include "alloc/domain.h"

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <tuple>

#include "alloc/pymalloc/pymalloc.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/counting_hook.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using Param = std::tuple<Domain, std::string>;

class DomainContractTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    testing::InitializeRuntime(std::get<1>(GetParam()));
    ASSERT_TRUE(
        interp::ThreadState::Attach(interp::Runtime::Get().main_interpreter())
            .ok());
  }
  void TearDown() override { testing::ResetRuntime(); }

  Domain domain() const { return std::get<0>(GetParam()); }

  // Wraps a counting hook for the duration of a check.
  struct ScopedCountingHook {
    explicit ScopedCountingHook(Domain d) : domain(d) {
      EXPECT_TRUE(interp::Runtime::Get()
                      .WrapAllocator(domain, hook.allocator(), &hook.previous)
                      .ok());
    }
    ~ScopedCountingHook() {
      EXPECT_TRUE(interp::Runtime::Get()
                      .UnwrapAllocator(domain, hook.allocator())
                      .ok());
    }
    Domain domain;
    testing::CountingHook hook;
  };
};

TEST_P(DomainContractTest, ZeroBytesGivesDistinctNonNullBlocks) {
  void* a = Malloc(domain(), 0);
  void* b = Malloc(domain(), 0);
  void* c = Calloc(domain(), 0, 8);
  void* d = Calloc(domain(), 8, 0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(std::set<void*>({a, b, c, d}).size(), 4u);
  Free(domain(), a);
  Free(domain(), b);
  Free(domain(), c);
  Free(domain(), d);
}

TEST_P(DomainContractTest, MallocReturnsWritableAlignedBlocks) {
  for (std::size_t size : {1, 7, 16, 24, 100, 512, 513, 4096, 1 << 20}) {
    auto* p = static_cast<unsigned char*>(Malloc(domain(), size));
    ASSERT_NE(p, nullptr) << size;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u) << size;
    std::memset(p, 0xAB, size);
    EXPECT_EQ(p[size - 1], 0xAB);
    Free(domain(), p);
  }
}

TEST_P(DomainContractTest, CallocZeroesTheBlock) {
  auto* p = static_cast<unsigned char*>(Calloc(domain(), 100, 3));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 300; ++i) ASSERT_EQ(p[i], 0) << i;
  Free(domain(), p);
}

TEST_P(DomainContractTest, CallocOverflowReturnsNullWithoutCallingAllocator) {
  ScopedCountingHook counting(domain());
  EXPECT_EQ(Calloc(domain(), SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(Calloc(domain(), kMaxRequest / 8 + 1, 8), nullptr);
  EXPECT_EQ(counting.hook.total(), 0);
}

TEST_P(DomainContractTest,
       SizeAbovePtrdiffMaxReturnsNullWithoutCallingAllocator) {
  ScopedCountingHook counting(domain());
  void* block = Malloc(domain(), 16);
  ASSERT_NE(block, nullptr);
  const long calls_before = counting.hook.total();
  EXPECT_EQ(Malloc(domain(), kMaxRequest + 1), nullptr);
  EXPECT_EQ(Malloc(domain(), SIZE_MAX), nullptr);
  EXPECT_EQ(Realloc(domain(), block, kMaxRequest + 1), nullptr);
  EXPECT_EQ(counting.hook.total(), calls_before);
  Free(domain(), block);
}

TEST_P(DomainContractTest, ReallocNullActsAsMalloc) {
  auto* p = static_cast<char*>(Realloc(domain(), nullptr, 40));
  ASSERT_NE(p, nullptr);
  std::memset(p, 'x', 40);
  Free(domain(), p);
}

TEST_P(DomainContractTest, ReallocToZeroReturnsNonNull) {
  void* p = Malloc(domain(), 32);
  ASSERT_NE(p, nullptr);
  void* q = Realloc(domain(), p, 0);
  EXPECT_NE(q, nullptr);
  Free(domain(), q);
}

TEST_P(DomainContractTest, ReallocPreservesContentsWhenGrowingAndShrinking) {
  auto* p = static_cast<unsigned char*>(Malloc(domain(), 24));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 24; ++i) p[i] = static_cast<unsigned char>(i);
  p = static_cast<unsigned char*>(Realloc(domain(), p, 5000));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 24; ++i) ASSERT_EQ(p[i], i);
  p = static_cast<unsigned char*>(Realloc(domain(), p, 10));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(p[i], i);
  Free(domain(), p);
}

TEST_P(DomainContractTest, ReallocFailureKeepsOldBlock) {
  auto* p = static_cast<unsigned char*>(Malloc(domain(), 64));
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x5A, 64);
  // Accepted by the size check, too large for any allocator to satisfy.
  EXPECT_EQ(Realloc(domain(), p, kMaxRequest - 4096), nullptr);
  for (int i = 0; i < 64; ++i) ASSERT_EQ(p[i], 0x5A) << i;
  Free(domain(), p);
}

TEST_P(DomainContractTest, FreeNullChangesNoCountAndLeavesTheDomainUsable) {
  const std::int64_t blocks_before = GlobalAllocatedBlocks();
  ScopedCountingHook counting(domain());
  Free(domain(), nullptr);
  Free(domain(), nullptr);
  // Passed down like any free (CPython's hooks see free(NULL) too) ...
  EXPECT_EQ(counting.hook.frees.load(), 2);
  // ... and nothing is counted or released.
  EXPECT_EQ(GlobalAllocatedBlocks(), blocks_before);
  void* p = Malloc(domain(), 32);
  ASSERT_NE(p, nullptr);
  Free(domain(), p);
  EXPECT_EQ(GlobalAllocatedBlocks(), blocks_before);
}

TEST_P(DomainContractTest, TypedHelpersCheckElementCountOverflow) {
  ScopedCountingHook counting(domain());
  EXPECT_EQ(New<std::uint64_t>(domain(), kMaxRequest / 8 + 1), nullptr);
  EXPECT_EQ(counting.hook.total(), 0);
  std::uint32_t* array = New<std::uint32_t>(domain(), 10);
  ASSERT_NE(array, nullptr);
  for (std::uint32_t i = 0; i < 10; ++i) array[i] = i * 7;
  EXPECT_EQ(Resize<std::uint32_t>(domain(), array, kMaxRequest / 4 + 1),
            nullptr);
  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_EQ(array[i], i * 7);
  std::uint32_t* grown = Resize(domain(), array, 1000);
  ASSERT_NE(grown, nullptr);
  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_EQ(grown[i], i * 7);
  Delete(domain(), grown);
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return std::string(DomainName(std::get<0>(info.param))) + "_" +
         std::get<1>(info.param);
}

INSTANTIATE_TEST_SUITE_P(
    AllDomainsAndConfigurations, DomainContractTest,
    ::testing::Combine(
        ::testing::Values(Domain::kRaw, Domain::kMem, Domain::kObj),
        ::testing::Values("default", "malloc", "pymalloc", "mimalloc", "debug",
                          "malloc_debug", "pymalloc_debug", "mimalloc_debug")),
    ParamName);

// The raw domain needs no runtime at all: it works before pre-initialization
// and after finalization.
TEST(RawDomainTest, WorksInEveryLifecycleState) {
  testing::ResetRuntime();
  interp::Runtime& runtime = interp::Runtime::Get();
  auto round_trip = [] {
    void* p = Malloc(Domain::kRaw, 100);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, 100);
    p = Realloc(Domain::kRaw, p, 200);
    ASSERT_NE(p, nullptr);
    Free(Domain::kRaw, p);
  };
  round_trip();  // kUninitialized
  interp::RuntimeConfig config;
  config.use_environment = false;
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  round_trip();
  ASSERT_TRUE(runtime.Initialize().ok());
  round_trip();
  runtime.AddFinalizeCallback(
      [](void*) {
        void* p = Malloc(Domain::kRaw, 10);
        EXPECT_NE(p, nullptr);
        Free(Domain::kRaw, p);
      },
      nullptr);
  ASSERT_TRUE(runtime.Finalize().ok());
  round_trip();  // kFinalized
  ASSERT_TRUE(runtime.Reset().ok());
  round_trip();
}

}  // namespace
}  // namespace interpheap::alloc
