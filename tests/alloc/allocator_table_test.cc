// AllocatorTable: replace, wrap and unwrap semantics, and a data plane that
// reads the table without a data race while another thread wraps and
// unwraps (run under --config=tsan in CI).

#include "alloc/allocator_table.h"

#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "alloc/domain.h"
#include "alloc/hooks/forwarding_hook.h"
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
  EXPECT_EQ(
      table.Wrap(Domain::kRaw, kLibcAllocator, static_cast<Allocator*>(nullptr))
          .code(),
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

// Issue 11 item 2: layers of hooks that come and go are reclaimed. Every
// hook below has its own ctx, so every wrap needs a new layer; before, the
// 256 slots ran out after 255 and every later wrap was refused.
TEST(AllocatorTableTest, DistinctHooksWrappedAndUnwrappedForeverReuseSlots) {
  AllocatorTable table;
  std::vector<std::unique_ptr<CountingHook>> hooks;
  for (int i = 0; i < 4 * AllocatorTable::kLayerCapacity; ++i) {
    hooks.push_back(std::make_unique<CountingHook>());
    CountingHook& hook = *hooks.back();
    ASSERT_TRUE(table.Wrap(Domain::kMem, hook.allocator(), &hook.previous).ok())
        << i;
    const Allocator top = table.Load(Domain::kMem);
    top.free(top.ctx, top.malloc(top.ctx, 16));
    EXPECT_EQ(hook.total(), 2) << i;
    ASSERT_TRUE(table.Unwrap(Domain::kMem, hook.allocator()).ok()) << i;
  }
  EXPECT_EQ(table.ReachableSlots(), 1);  // the C library base
}

// A layer some domain can still reach is never rewritten: 16 hooks stay on
// obj while thousands of others come and go on raw.
TEST(AllocatorTableTest, ReachableLayersAreNeverReused) {
  AllocatorTable table;
  std::vector<std::unique_ptr<CountingHook>> kept, passing;
  for (int i = 0; i < AllocatorTable::kMaxHooks; ++i) {
    kept.push_back(std::make_unique<CountingHook>());
    ASSERT_TRUE(table
                    .Wrap(Domain::kObj, kept.back()->allocator(),
                          &kept.back()->previous)
                    .ok());
  }
  for (int i = 0; i < 4 * AllocatorTable::kLayerCapacity; ++i) {
    passing.push_back(std::make_unique<CountingHook>());
    CountingHook& hook = *passing.back();
    ASSERT_TRUE(table.Wrap(Domain::kRaw, hook.allocator(), &hook.previous).ok())
        << i;
    ASSERT_TRUE(table.Unwrap(Domain::kRaw, hook.allocator()).ok()) << i;
  }
  const Allocator top = table.Load(Domain::kObj);
  top.free(top.ctx, top.malloc(top.ctx, 16));
  for (const auto& hook : kept) EXPECT_EQ(hook->total(), 2);
  EXPECT_EQ(table.ReachableSlots(), 1 + AllocatorTable::kMaxHooks);
}

// Parks the first thread that calls it until Release().
class Parker {
 public:
  void operator()() {
    if (!armed_.exchange(false)) return;
    parked_.store(true);
    while (!released_.load()) std::this_thread::yield();
  }
  void WaitUntilParked() {
    while (!parked_.load()) std::this_thread::yield();
  }
  void Release() { released_.store(true); }

 private:
  std::atomic<bool> armed_{true};
  std::atomic<bool> parked_{false};
  std::atomic<bool> released_{false};
};

// A read run on another thread, parked at its pause (after its copy, before
// its check) until Finish() lets it go on and returns what it read.
class ParkedRead {
 public:
  template <typename Read>
  explicit ParkedRead(Read read)
      : thread_([this, read] { result_ = read([this] { parker_(); }); }) {
    parker_.WaitUntilParked();
  }
  ~ParkedRead() {
    if (thread_.joinable()) Finish();  // a failed assertion returned early
  }
  Allocator Finish() {
    parker_.Release();
    thread_.join();
    return result_;
  }

 private:
  Parker parker_;
  Allocator result_ = {};
  std::thread thread_;
};

// Wraps and unwraps new hooks on `domain` until one lands in `slot` (an
// unreachable slot is reused once every slot has been used); that hook
// stays wrapped and is returned.
CountingHook* WrapUntilSlotIsReused(
    AllocatorTable& table, Domain domain, const AllocatorLayer* slot,
    std::vector<std::unique_ptr<CountingHook>>& hooks) {
  const std::uint32_t generation = slot->generation();
  for (int i = 0; i < 2 * AllocatorTable::kLayerCapacity; ++i) {
    hooks.push_back(std::make_unique<CountingHook>());
    CountingHook& hook = *hooks.back();
    if (!table.Wrap(domain, hook.allocator(), &hook.previous).ok()) break;
    if (slot->generation() != generation) return &hook;
    if (!table.Unwrap(domain, hook.allocator()).ok()) break;
  }
  return nullptr;
}

// A domain call copied hook A's layer and was descheduled; A is unwrapped
// and its slot reused for a new hook B of the same domain. The call must
// not go to A (its owner may free A's ctx now): it sees the generation
// move and reads again, reaching B.
TEST(AllocatorTableTest, CallHoldingAReusedSlotStartsAgainFromTheTop) {
  AllocatorTable table;
  std::vector<std::unique_ptr<CountingHook>> hooks;
  CountingHook a;
  ASSERT_TRUE(table.Wrap(Domain::kMem, a.allocator(), &a.previous).ok());
  const AllocatorLayer* slot = table.top(Domain::kMem);
  // Parked once its copy of A's layer is made.
  ParkedRead call([&](auto pause) { return table.Load(Domain::kMem, pause); });
  ASSERT_TRUE(table.Unwrap(Domain::kMem, a.allocator()).ok());
  CountingHook* b = WrapUntilSlotIsReused(table, Domain::kMem, slot, hooks);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(table.top(Domain::kMem), slot);
  const Allocator seen = call.Finish();
  EXPECT_TRUE(SameAllocator(seen, b->allocator()));
}

// The same, with the slot reused by a hook of another domain: the call
// must not cross into obj's stack; it reaches mem's current top.
TEST(AllocatorTableTest, CallHoldingASlotReusedByAnotherDomainStaysInItsOwn) {
  AllocatorTable table;
  std::vector<std::unique_ptr<CountingHook>> hooks;
  CountingHook a;
  ASSERT_TRUE(table.Wrap(Domain::kMem, a.allocator(), &a.previous).ok());
  const AllocatorLayer* slot = table.top(Domain::kMem);
  ParkedRead call([&](auto pause) { return table.Load(Domain::kMem, pause); });
  ASSERT_TRUE(table.Unwrap(Domain::kMem, a.allocator()).ok());
  ASSERT_NE(WrapUntilSlotIsReused(table, Domain::kObj, slot, hooks), nullptr);
  const Allocator seen = call.Finish();
  EXPECT_TRUE(SameAllocator(seen, kLibcAllocator));
}

// A hook reading what it wraps through a HookLink, as the library's own
// hooks do; ctx is the hook, which counts its calls.
struct LinkedHook {
  explicit LinkedHook(Domain domain) : link(domain) {}
  HookLink link;
  std::atomic<long> calls{0};
  Allocator allocator() { return ForwardingHook<Policy>::Make(this); }
  struct Policy {
    static Allocator Previous(void* ctx) {
      return static_cast<LinkedHook*>(ctx)->link.Load();
    }
    static bool Before(void* ctx, HookCall) {
      static_cast<LinkedHook*>(ctx)->calls.fetch_add(1);
      return true;
    }
  };
};

// Issue 10 item 3: "unwrap A, wrap B, wrap A again" while a thread is
// inside A. With `previous` storage the re-wrap rewrote the five words the
// thread was reading; through a link the thread reads a whole layer: the
// one A wrapped when the thread entered.
TEST(AllocatorTableTest, HookRewrappedWhileAThreadIsInsideItReadsAWholeLayer) {
  AllocatorTable table;
  LinkedHook a(Domain::kMem);
  CountingHook b;
  ASSERT_TRUE(table.Wrap(Domain::kMem, a.allocator(), &a.link).ok());
  ParkedRead inside_a([&](auto pause) { return a.link.Load(pause); });
  ASSERT_TRUE(table.Unwrap(Domain::kMem, a.allocator()).ok());
  ASSERT_TRUE(table.Wrap(Domain::kMem, b.allocator(), &b.previous).ok());
  ASSERT_TRUE(table.Wrap(Domain::kMem, a.allocator(), &a.link).ok());
  const Allocator seen = inside_a.Finish();
  EXPECT_TRUE(SameAllocator(seen, kLibcAllocator));
  // Calls made now go through A, then B.
  const Allocator top = table.Load(Domain::kMem);
  top.free(top.ctx, top.malloc(top.ctx, 8));
  EXPECT_EQ(a.calls.load(), 2);
  EXPECT_EQ(b.total(), 2);
}

// The layer a thread inside A was about to read is reclaimed (A and the
// hook below it unwrapped, the slot reused on obj): the call goes on as a
// call made now would, to mem's current top, never into obj's stack.
TEST(AllocatorTableTest, HookWhoseWrappedLayerWasReusedForwardsToTheTop) {
  AllocatorTable table;
  std::vector<std::unique_ptr<CountingHook>> hooks;
  LinkedHook a(Domain::kMem);
  CountingHook x;
  ASSERT_TRUE(table.Wrap(Domain::kMem, x.allocator(), &x.previous).ok());
  const AllocatorLayer* x_slot = table.top(Domain::kMem);
  ASSERT_TRUE(table.Wrap(Domain::kMem, a.allocator(), &a.link).ok());
  ParkedRead inside_a([&](auto pause) { return a.link.Load(pause); });
  ASSERT_TRUE(table.Unwrap(Domain::kMem, a.allocator()).ok());
  ASSERT_TRUE(table.Unwrap(Domain::kMem, x.allocator()).ok());
  ASSERT_NE(WrapUntilSlotIsReused(table, Domain::kObj, x_slot, hooks), nullptr);
  const Allocator seen = inside_a.Finish();
  EXPECT_TRUE(SameAllocator(seen, kLibcAllocator));
}

// The same, with A wrapped again (over another hook) after the reuse: the
// link moved, and the thread follows it.
TEST(AllocatorTableTest, HookWrappedAgainAfterItsLayerWasReusedFollowsTheLink) {
  AllocatorTable table;
  std::vector<std::unique_ptr<CountingHook>> hooks;
  LinkedHook a(Domain::kMem);
  CountingHook x, y;
  ASSERT_TRUE(table.Wrap(Domain::kMem, x.allocator(), &x.previous).ok());
  const AllocatorLayer* x_slot = table.top(Domain::kMem);
  ASSERT_TRUE(table.Wrap(Domain::kMem, a.allocator(), &a.link).ok());
  ParkedRead inside_a([&](auto pause) { return a.link.Load(pause); });
  ASSERT_TRUE(table.Unwrap(Domain::kMem, a.allocator()).ok());
  ASSERT_TRUE(table.Unwrap(Domain::kMem, x.allocator()).ok());
  ASSERT_NE(WrapUntilSlotIsReused(table, Domain::kObj, x_slot, hooks), nullptr);
  ASSERT_TRUE(table.Wrap(Domain::kMem, y.allocator(), &y.previous).ok());
  ASSERT_TRUE(table.Wrap(Domain::kMem, a.allocator(), &a.link).ok());
  const Allocator seen = inside_a.Finish();
  EXPECT_TRUE(SameAllocator(seen, y.allocator()));
}

}  // namespace
}  // namespace interpheap::alloc
