// ArenaMap: O(1) ownership for aligned and unaligned arenas, neighbours
// sharing a chunk, and foreign addresses.

#include "alloc/pymalloc/arena_map.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace interpheap::alloc {
namespace {

Heap* FakeHeap(int n) { return reinterpret_cast<Heap*>(0x1000 * n); }
const void* At(std::uintptr_t address) {
  return reinterpret_cast<const void*>(address);
}

// Addresses far from anything this process maps, but inside 48 bits.
constexpr std::uintptr_t kBase = std::uintptr_t{0x5A5A} << 32;

TEST(ArenaMapTest, AlignedArenaIsOwnedExactlyOverItsRange) {
  ArenaMap& map = ArenaMap::Global();
  const std::uintptr_t base = kBase;
  ASSERT_TRUE(map.Register(base, FakeHeap(1)));
  EXPECT_EQ(map.Owner(At(base)), FakeHeap(1));
  EXPECT_EQ(map.Owner(At(base + kArenaSize - 1)), FakeHeap(1));
  EXPECT_EQ(map.Owner(At(base - 1)), nullptr);
  EXPECT_EQ(map.Owner(At(base + kArenaSize)), nullptr);
  map.Unregister(base);
  EXPECT_EQ(map.Owner(At(base)), nullptr);
}

TEST(ArenaMapTest, UnalignedArenasSharingAChunkKeepTheirOwners) {
  ArenaMap& map = ArenaMap::Global();
  const std::uintptr_t a = kBase + 16 * kArenaSize + 0x4000;  // spans 2 chunks
  const std::uintptr_t b = a + kArenaSize + 0x2000;  // starts in a's 2nd chunk
  ASSERT_TRUE(map.Register(a, FakeHeap(2)));
  ASSERT_TRUE(map.Register(b, FakeHeap(3)));
  EXPECT_EQ(map.Owner(At(a - 1)), nullptr);
  EXPECT_EQ(map.Owner(At(a)), FakeHeap(2));
  EXPECT_EQ(map.Owner(At(a + kArenaSize - 1)), FakeHeap(2));
  EXPECT_EQ(map.Owner(At(a + kArenaSize)), nullptr) << "the gap between them";
  EXPECT_EQ(map.Owner(At(b - 1)), nullptr);
  EXPECT_EQ(map.Owner(At(b)), FakeHeap(3));
  EXPECT_EQ(map.Owner(At(b + kArenaSize - 1)), FakeHeap(3));
  EXPECT_EQ(map.Owner(At(b + kArenaSize)), nullptr);
  map.Unregister(a);
  EXPECT_EQ(map.Owner(At(a)), nullptr);
  EXPECT_EQ(map.Owner(At(b)), FakeHeap(3)) << "b survives a's removal";
  map.Unregister(b);
  EXPECT_EQ(map.Owner(At(b + 10)), nullptr);
}

TEST(ArenaMapTest, AddressesOutsideTheMapAreNeverOwned) {
  ArenaMap& map = ArenaMap::Global();
  EXPECT_EQ(map.Owner(nullptr), nullptr);
  EXPECT_EQ(map.Owner(At(~std::uintptr_t{0} - 15)), nullptr);
  EXPECT_FALSE(map.Register(std::uintptr_t{1} << 50, FakeHeap(4)));
}

}  // namespace
}  // namespace interpheap::alloc
