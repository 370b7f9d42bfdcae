// The map of counted raw fallback blocks: one bit per 16-byte granule,
// exact for neighbours sharing a word, across leaves and mid nodes, and
// from many threads at once.

#include "alloc/pymalloc/raw_block_map.h"

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace interpheap::alloc {
namespace {

const void* Address(std::uintptr_t a) { return reinterpret_cast<void*>(a); }

TEST(RawBlockMapTest, AddRemoveContains) {
  static RawBlockMap map;
  const void* p = Address(0x7f0000001000);
  EXPECT_FALSE(map.Contains(p));
  EXPECT_FALSE(map.Remove(p));
  EXPECT_EQ(map.Add(p), RawBlockMap::AddResult::kAdded);
  EXPECT_EQ(map.Add(p), RawBlockMap::AddResult::kAlreadyRecorded);
  EXPECT_TRUE(map.Contains(p));
  EXPECT_TRUE(map.Remove(p));
  EXPECT_FALSE(map.Remove(p));
  EXPECT_FALSE(map.Contains(p));
  EXPECT_EQ(map.Add(Address(std::uintptr_t{1} << 48)),
            RawBlockMap::AddResult::kNoMemory)
      << "beyond the 48-bit address space";
}

// Neighbouring granules share a word; addresses 1 MiB and 16 GiB apart use
// other leaves and mid nodes: each bit is its own.
TEST(RawBlockMapTest, EveryGranuleIsItsOwn) {
  static RawBlockMap map;
  const std::uintptr_t base = 0x7f1234500000;
  std::vector<std::uintptr_t> addresses;
  for (std::uintptr_t offset : {0x0, 0x10, 0x20, 0x3f0, 0x400, 0xffff0}) {
    for (std::uintptr_t region : {std::uintptr_t{0}, std::uintptr_t{1} << 20,
                                  std::uintptr_t{1} << 34}) {
      addresses.push_back(base + region + offset);
    }
  }
  for (std::uintptr_t a : addresses) {
    ASSERT_EQ(map.Add(Address(a)), RawBlockMap::AddResult::kAdded) << a;
  }
  EXPECT_EQ(map.leaf_count(), 3u);
  for (std::uintptr_t a : addresses) {
    EXPECT_FALSE(map.Contains(Address(a + 16 * 3))) << a;  // never added
    ASSERT_TRUE(map.Remove(Address(a))) << a;
    EXPECT_FALSE(map.Contains(Address(a))) << a;
  }
  for (std::uintptr_t a : addresses) EXPECT_FALSE(map.Remove(Address(a)));
}

// Every 7th granule of a whole leaf (1 MiB): exactly those are recorded,
// the granules between them are not.
TEST(RawBlockMapTest, AWholeLeafMapsGranuleToBit) {
  static RawBlockMap map;
  const std::uintptr_t base = 0x7f4000000000;
  constexpr std::uintptr_t kGranules = std::uintptr_t{1} << 16;
  for (std::uintptr_t g = 0; g < kGranules; g += 7) {
    ASSERT_EQ(map.Add(Address(base + 16 * g)), RawBlockMap::AddResult::kAdded)
        << g;
  }
  for (std::uintptr_t g = 0; g < kGranules; ++g) {
    ASSERT_EQ(map.Contains(Address(base + 16 * g)), g % 7 == 0) << g;
  }
  for (std::uintptr_t g = 0; g < kGranules; ++g) {
    ASSERT_EQ(map.Remove(Address(base + 16 * g)), g % 7 == 0) << g;
  }
  EXPECT_EQ(map.leaf_count(), 1u);
}

// Threads setting and clearing neighbouring bits of the same words: no
// update is lost (every Remove finds its own Add). A smoke test: a lost
// update needs an unlucky interleaving to show.
TEST(RawBlockMapTest, ConcurrentNeighboursLoseNothing) {
  static RawBlockMap map;
  constexpr int kThreads = 4;
  constexpr std::uintptr_t kBase = 0x7f2000000000;
  std::vector<std::thread> threads;
  std::vector<int> lost(kThreads, 0);
  std::atomic<int> ready{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int round = 0; round < 200000; ++round) {
        // Thread t owns granules t, t + kThreads, ...: interleaved in words.
        const std::uintptr_t a = kBase + 16 * (t + kThreads * (round % 64));
        if (map.Add(Address(a)) != RawBlockMap::AddResult::kAdded) ++lost[t];
        if (!map.Remove(Address(a))) ++lost[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(lost[t], 0) << t;
}

}  // namespace
}  // namespace interpheap::alloc
