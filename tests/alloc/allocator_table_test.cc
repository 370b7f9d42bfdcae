// AllocatorTable: replace, wrap and unwrap semantics, and a data plane that
// reads the table without a data race while another thread wraps and
// unwraps (run under --config=tsan in CI).

#include "alloc/allocator_table.h"

#include <atomic>
#include <cstddef>
#include <cstring>
#include <thread>
#include <vector>

#include "alloc/domain.h"
#include "alloc/raw_allocator.h"
#include "gtest/gtest.h"
#include "tests/testing/counting_hook.h"

namespace interpheap::alloc {
namespace {

using testing::CountingHook;

TEST(AllocatorTableTest, StartsAsLibcWithoutHooks) {
  AllocatorTable table;
  for (Domain domain : kAllDomains) {
    EXPECT_TRUE(SameAllocator(table.Get(domain), kLibcAllocator));
    EXPECT_EQ(table.HookCount(domain), 0);
  }
}

TEST(AllocatorTableTest, WrapHandsTheHookThePreviousAllocator) {
  AllocatorTable table;
  CountingHook first, second;
  ASSERT_TRUE(
      table.Wrap(Domain::kMem, first.allocator(), &first.previous).ok());
  EXPECT_TRUE(SameAllocator(first.previous, kLibcAllocator));
  ASSERT_TRUE(
      table.Wrap(Domain::kMem, second.allocator(), &second.previous).ok());
  EXPECT_TRUE(SameAllocator(second.previous, first.allocator()));
  EXPECT_TRUE(SameAllocator(table.Get(Domain::kMem), second.allocator()));
  EXPECT_EQ(table.HookCount(Domain::kMem), 2);
  // Other domains are untouched.
  EXPECT_EQ(table.HookCount(Domain::kRaw), 0);
  EXPECT_EQ(table.HookCount(Domain::kObj), 0);
}

TEST(AllocatorTableTest, UnwrapIsLifoOnly) {
  AllocatorTable table;
  CountingHook first, second;
  ASSERT_TRUE(
      table.Wrap(Domain::kObj, first.allocator(), &first.previous).ok());
  ASSERT_TRUE(
      table.Wrap(Domain::kObj, second.allocator(), &second.previous).ok());
  const AllocatorTableSnapshot before = table.Snapshot();
  absl::Status out_of_order = table.Unwrap(Domain::kObj, first.allocator());
  EXPECT_EQ(out_of_order.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(out_of_order.message().find("LIFO"), std::string::npos)
      << out_of_order;
  EXPECT_TRUE(table.Snapshot() == before);
  EXPECT_TRUE(table.Unwrap(Domain::kObj, second.allocator()).ok());
  EXPECT_TRUE(table.Unwrap(Domain::kObj, first.allocator()).ok());
  EXPECT_TRUE(SameAllocator(table.Get(Domain::kObj), kLibcAllocator));
  absl::Status none = table.Unwrap(Domain::kObj, first.allocator());
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(none.message().find("has no hook"), std::string::npos) << none;
}

TEST(AllocatorTableTest, ReplaceUnderHooksIsRefusedAndChangesNothing) {
  AllocatorTable table;
  CountingHook hook, base;
  ASSERT_TRUE(table.Wrap(Domain::kRaw, hook.allocator(), &hook.previous).ok());
  const AllocatorTableSnapshot before = table.Snapshot();
  absl::Status status = table.Replace(Domain::kRaw, base.allocator());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("unwrap them first"), std::string::npos);
  EXPECT_TRUE(table.Snapshot() == before);
}

TEST(AllocatorTableTest, IncompleteAllocatorIsRefused) {
  AllocatorTable table;
  Allocator missing_free = kLibcAllocator;
  missing_free.free = nullptr;
  Allocator previous{};
  EXPECT_EQ(table.Replace(Domain::kRaw, missing_free).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table.Wrap(Domain::kRaw, missing_free, &previous).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table.Wrap(Domain::kRaw, kLibcAllocator, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AllocatorTableTest, HookDepthIsBounded) {
  AllocatorTable table;
  std::vector<CountingHook> hooks(AllocatorTable::kMaxHooks + 1);
  for (int i = 0; i < AllocatorTable::kMaxHooks; ++i) {
    ASSERT_TRUE(
        table.Wrap(Domain::kMem, hooks[i].allocator(), &hooks[i].previous)
            .ok());
  }
  CountingHook& extra = hooks.back();
  EXPECT_EQ(table.Wrap(Domain::kMem, extra.allocator(), &extra.previous).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(AllocatorTableTest, RewrappingTheSameHookReusesItsLayer) {
  AllocatorTable table;
  CountingHook hook;
  // Far more cycles than there are layer slots: a leak of slots would fail.
  for (int i = 0; i < 4 * AllocatorTable::kLayerCapacity; ++i) {
    ASSERT_TRUE(table.Wrap(Domain::kRaw, hook.allocator(), &hook.previous).ok())
        << i;
    ASSERT_TRUE(table.Unwrap(Domain::kRaw, hook.allocator()).ok()) << i;
  }
}

// Issue 10 item 3: a hook wrapped over itself, or two installed hooks
// sharing one `previous` storage, would recurse until SIGSEGV: refused,
// changing nothing.
TEST(AllocatorTableTest, WrappingAnInstalledHookAgainIsRefused) {
  AllocatorTable table;
  CountingHook hook, other;
  ASSERT_TRUE(table.Wrap(Domain::kMem, hook.allocator(), &hook.previous).ok());
  ASSERT_TRUE(
      table.Wrap(Domain::kMem, other.allocator(), &other.previous).ok());
  const AllocatorTableSnapshot before = table.Snapshot();
  absl::Status status =
      table.Wrap(Domain::kMem, hook.allocator(), &hook.previous);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "wrap refused: this hook is already installed on the mem domain; "
            "wrapping it again would make it call itself");
  EXPECT_TRUE(table.Snapshot() == before);
  void* p = table.Get(Domain::kMem).malloc(table.Get(Domain::kMem).ctx, 8);
  table.Get(Domain::kMem).free(table.Get(Domain::kMem).ctx, p);
}

TEST(AllocatorTableTest, TwoHooksSharingOnePreviousStorageAreRefused) {
  AllocatorTable table;
  CountingHook first, second;
  ASSERT_TRUE(
      table.Wrap(Domain::kRaw, first.allocator(), &first.previous).ok());
  const AllocatorTableSnapshot before = table.Snapshot();
  absl::Status status =
      table.Wrap(Domain::kObj, second.allocator(), &first.previous);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "wrap refused: this previous storage is already used by a hook "
            "installed on the raw domain; each installed hook needs its own");
  EXPECT_TRUE(table.Snapshot() == before);
  // Once the first is unwrapped, its storage may serve again.
  ASSERT_TRUE(table.Unwrap(Domain::kRaw, first.allocator()).ok());
  EXPECT_TRUE(
      table.Wrap(Domain::kObj, second.allocator(), &first.previous).ok());
}

TEST(AllocatorTableTest, SnapshotComparesEveryLayer) {
  AllocatorTable table;
  CountingHook hook;
  const AllocatorTableSnapshot empty = table.Snapshot();
  ASSERT_TRUE(table.Wrap(Domain::kObj, hook.allocator(), &hook.previous).ok());
  EXPECT_TRUE(table.Snapshot() != empty);
  ASSERT_TRUE(table.Unwrap(Domain::kObj, hook.allocator()).ok());
  EXPECT_TRUE(table.Snapshot() == empty);
}

// Found by the fuzz target: Stack has padding after `depth`, and equal
// snapshots whose padding bytes differ (two Snapshot() calls on different
// stack garbage) used to compare unequal, so an unchanged table could look
// changed after a refused operation.
TEST(AllocatorTableTest, SnapshotsIgnorePaddingBytes) {
  static_assert(offsetof(AllocatorTableSnapshot::Stack, layers) > sizeof(int),
                "the test needs the padding after depth");
  AllocatorTable table;
  AllocatorTableSnapshot a = table.Snapshot();
  AllocatorTableSnapshot b = table.Snapshot();
  for (int d = 0; d < kDomainCount; ++d) {
    auto* pad_a = reinterpret_cast<unsigned char*>(&a.stacks[d]);
    auto* pad_b = reinterpret_cast<unsigned char*>(&b.stacks[d]);
    for (std::size_t i = sizeof(int);
         i < offsetof(AllocatorTableSnapshot::Stack, layers); ++i) {
      pad_a[i] = 0xAA;
      pad_b[i] = 0x55;
    }
  }
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a != b);
}

// The data plane on the global table: two threads allocate and verify in the
// raw domain while a third wraps and unwraps a counting hook. Every byte is
// checked; the hook must have seen calls; TSan must see no race.
TEST(AllocatorTableTest, ConcurrentAllocationWhileWrappingAndUnwrapping) {
  AllocatorTable& table = AllocatorTable::Global();
  static CountingHook hook;  // outlives every in-flight call
  std::atomic<bool> stop{false};
  std::atomic<long> verified{0};
  auto allocate = [&](unsigned char pattern) {
    while (!stop.load(std::memory_order_relaxed)) {
      constexpr std::size_t kSize = 48;
      auto* p = static_cast<unsigned char*>(Malloc(Domain::kRaw, kSize));
      ASSERT_NE(p, nullptr);
      std::memset(p, pattern, kSize);
      p = static_cast<unsigned char*>(Realloc(Domain::kRaw, p, 2 * kSize));
      ASSERT_NE(p, nullptr);
      for (std::size_t i = 0; i < kSize; ++i) ASSERT_EQ(p[i], pattern);
      Free(Domain::kRaw, p);
      verified.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread a(allocate, 0x11), b(allocate, 0x22);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(
        table.Wrap(Domain::kRaw, hook.allocator(), &hook.previous).ok());
    std::this_thread::yield();
    ASSERT_TRUE(table.Unwrap(Domain::kRaw, hook.allocator()).ok());
  }
  // Leave the hook on until both threads have used it at least once more.
  ASSERT_TRUE(table.Wrap(Domain::kRaw, hook.allocator(), &hook.previous).ok());
  const long seen = hook.total();
  while (hook.total() < seen + 6) std::this_thread::yield();
  stop.store(true);
  a.join();
  b.join();
  ASSERT_TRUE(table.Unwrap(Domain::kRaw, hook.allocator()).ok());
  EXPECT_GT(verified.load(), 0);
  EXPECT_GT(hook.total(), 0);
}

}  // namespace
}  // namespace interpheap::alloc
