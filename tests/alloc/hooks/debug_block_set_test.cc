// tests/alloc/hooks/debug_block_set_test.cc: the debug hooks' record of the
// blocks they handed out (alloc/hooks/debug_block_set.h), on its own.

#include "alloc/hooks/debug_block_set.h"

#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace interpheap::alloc {
namespace {

// A set of the test's own (the process's is the debug hooks').
DebugBlockSet& Set() {
  static DebugBlockSet* set = new DebugBlockSet();
  return *set;
}

const void* At(std::uintptr_t address) {
  return reinterpret_cast<const void*>(address);
}

// Addresses no allocator of this process hands out are fine: the set never
// reads through them.
constexpr std::uintptr_t kBase = 0x5a0000000000;

TEST(DebugBlockSetTest, LiveThenFreedThenLiveAgain) {
  const void* p = At(kBase + 0x1000);
  EXPECT_EQ(Set().Lookup(p).state, DebugBlockState::kUnknown);
  ASSERT_TRUE(Set().AddLive(p, /*has_serial=*/true));
  DebugBlockInfo info = Set().Lookup(p);
  EXPECT_EQ(info.state, DebugBlockState::kLive);
  EXPECT_TRUE(info.has_serial);

  info = Set().TakeLive(p);
  EXPECT_EQ(info.state, DebugBlockState::kLive);  // what it was
  EXPECT_TRUE(info.has_serial);
  EXPECT_EQ(Set().Lookup(p).state, DebugBlockState::kFreed);

  ASSERT_TRUE(Set().AddLive(p, /*has_serial=*/false));
  info = Set().Lookup(p);
  EXPECT_EQ(info.state, DebugBlockState::kLive);
  EXPECT_FALSE(info.has_serial);  // the new block's layout
}

// The mark that settles two frees of one block: the second sees it freed.
TEST(DebugBlockSetTest, SecondTakeOfOneBlockSeesItFreed) {
  const void* p = At(kBase + 0x2000);
  ASSERT_TRUE(Set().AddLive(p, false));
  DebugBlockSet::Cell* cell = Set().CellFor(p);
  ASSERT_NE(cell, nullptr);
  const std::uint8_t seen = cell->load();
  EXPECT_EQ(DebugBlockSet::TakeLive(cell, seen).state, DebugBlockState::kLive);
  // The loser read the same live value before the winner marked it.
  EXPECT_EQ(DebugBlockSet::TakeLive(cell, seen).state, DebugBlockState::kFreed);
}

TEST(DebugBlockSetTest, OnlyABlocksStartIsRecorded) {
  const void* p = At(kBase + 0x3000);
  ASSERT_TRUE(Set().AddLive(p, false));
  EXPECT_EQ(Set().Lookup(At(kBase + 0x3008)).state,
            DebugBlockState::kUnknown);  // interior, aligned
  EXPECT_EQ(Set().Lookup(At(kBase + 0x3001)).state,
            DebugBlockState::kUnknown);  // misaligned
  EXPECT_EQ(Set().TakeLive(At(kBase + 0x3008)).state,
            DebugBlockState::kUnknown);
  EXPECT_EQ(Set().Lookup(p).state, DebugBlockState::kLive);
}

TEST(DebugBlockSetTest, UnrecordablePointersAreRefused) {
  EXPECT_FALSE(Set().AddLive(At(kBase + 0x4004), false));  // misaligned
  EXPECT_FALSE(Set().AddLive(At(std::uintptr_t{1} << 47), false));
  EXPECT_EQ(Set().Lookup(At(std::uintptr_t{1} << 47)).state,
            DebugBlockState::kUnknown);
  EXPECT_EQ(Set().Lookup(nullptr).state, DebugBlockState::kUnknown);
}

// Addresses far apart land in different leaves and mids; each keeps its own.
TEST(DebugBlockSetTest, DistantAddressesKeepTheirOwnState) {
  const std::uintptr_t addresses[] = {0x10000, kBase + 0x80000,
                                      kBase + (std::uintptr_t{1} << 33),
                                      (std::uintptr_t{1} << 47) - 8};
  for (std::uintptr_t a : addresses) ASSERT_TRUE(Set().AddLive(At(a), false));
  EXPECT_EQ(Set().TakeLive(At(addresses[1])).state, DebugBlockState::kLive);
  EXPECT_EQ(Set().Lookup(At(addresses[0])).state, DebugBlockState::kLive);
  EXPECT_EQ(Set().Lookup(At(addresses[1])).state, DebugBlockState::kFreed);
  EXPECT_EQ(Set().Lookup(At(addresses[2])).state, DebugBlockState::kLive);
  EXPECT_EQ(Set().Lookup(At(addresses[3])).state, DebugBlockState::kLive);
  for (std::uintptr_t a : addresses) (void)Set().TakeLive(At(a));
}

TEST(DebugBlockSetTest, ForgetFreedForgetsFreedAndKeepsLive) {
  const void* live = At(kBase + 0x5000);
  const void* freed = At(kBase + 0x5010);
  ASSERT_TRUE(Set().AddLive(live, true));
  ASSERT_TRUE(Set().AddLive(freed, false));
  (void)Set().TakeLive(freed);
  Set().ForgetFreed();
  EXPECT_EQ(Set().Lookup(freed).state, DebugBlockState::kUnknown);
  const DebugBlockInfo info = Set().Lookup(live);
  EXPECT_EQ(info.state, DebugBlockState::kLive);
  EXPECT_TRUE(info.has_serial);
}

// Threads recording and freeing their own blocks in one leaf, and making
// leaves at the same time: every block ends freed, none lost.
TEST(DebugBlockSetTest, ThreadsShareLeavesWithoutLosingBlocks) {
  constexpr int kThreads = 4;
  constexpr int kBlocks = 2000;
  const std::uintptr_t base = kBase + (std::uintptr_t{7} << 36);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBlocks; ++i) {
        // Interleaved granules, and a new leaf every 64 blocks.
        const std::uintptr_t a = base + (i / 64) * (std::uintptr_t{1} << 19) +
                                 ((i % 64) * kThreads + t) * 8;
        ASSERT_TRUE(Set().AddLive(At(a), false));
        ASSERT_EQ(Set().TakeLive(At(a)).state, DebugBlockState::kLive);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kBlocks; ++i) {
      const std::uintptr_t a = base + (i / 64) * (std::uintptr_t{1} << 19) +
                               ((i % 64) * kThreads + t) * 8;
      ASSERT_EQ(Set().Lookup(At(a)).state, DebugBlockState::kFreed);
    }
  }
}

}  // namespace
}  // namespace interpheap::alloc
