// sync::Mutex: mutual exclusion, exact owner tracking, and (under
// --config=tsan) no false race report while a true race is still reported.

#include "sync/mutex.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "gtest/gtest.h"
#include "sync/mutex_lock.h"

namespace interpheap::sync {
namespace {

TEST(MutexDeathTest, UnlockByNonOwnerDies) {
  EXPECT_DEATH(
      {
        Mutex mu;
        mu.UnlockAcrossScopes();
      },
      "sync::Mutex::Unlock: not held by the calling thread");
}

TEST(MutexDeathTest, AssertHeldWithoutLockDies) {
  EXPECT_DEATH(
      {
        Mutex mu;
        mu.AssertHeld();
      },
      "sync::Mutex::AssertHeld: not held by the calling thread");
}

TEST(MutexDeathTest, RelockingOnTheSameThreadDiesInsteadOfDeadlocking) {
  EXPECT_DEATH(
      {
        Mutex mu;
        MutexLock hold(&mu);
        mu.LockAcrossScopes();
      },
      "sync::Mutex::Lock: already held by the calling thread");
}

// A host lock (for CPython: the GIL) is never taken by interpheap.
int HostFlag(void* ctx) { return *static_cast<bool*>(ctx) ? 1 : 0; }

TEST(MutexDeathTest, LockingAHostLockDies) {
  EXPECT_DEATH(
      {
        bool held = false;
        Mutex mu(&HostFlag, &held);
        mu.LockAcrossScopes();
      },
      "sync::Mutex::Lock: a host lock is taken by its host, never by "
      "interpheap");
}

TEST(MutexDeathTest, UnlockingAHostLockDies) {
  EXPECT_DEATH(
      {
        bool held = true;
        Mutex mu(&HostFlag, &held);
        mu.UnlockAcrossScopes();
      },
      "sync::Mutex::Unlock: a host lock is released by its host, never by "
      "interpheap");
}

TEST(MutexDeathTest, AssertHeldOnAHostLockAsksTheHost) {
  EXPECT_DEATH(
      {
        bool held = false;
        Mutex mu(&HostFlag, &held);
        mu.AssertHeld();
      },
      "sync::Mutex::AssertHeld: not held by the calling thread");
}

TEST(MutexTest, HostLockIsHeldExactlyWhenTheHostSaysSo) {
  bool held = false;
  Mutex mu(&HostFlag, &held);
  EXPECT_TRUE(mu.is_host_lock());
  EXPECT_FALSE(mu.IsHeldByCurrentThread());
  held = true;
  EXPECT_TRUE(mu.IsHeldByCurrentThread());
  mu.AssertHeld();
  Mutex own;
  EXPECT_FALSE(own.is_host_lock());
  Mutex null_host(nullptr, &held);  // no predicate: an ordinary lock
  EXPECT_FALSE(null_host.is_host_lock());
  MutexLock hold(&null_host);
  EXPECT_TRUE(null_host.IsHeldByCurrentThread());
}

// Each lock owns a whole cache line, so two locks never share a written line
// (tests/interp/interpreter_test.cc checks two interpreters' locks).
TEST(MutexTest, EveryLockOwnsItsCacheLine) {
  static_assert(alignof(Mutex) == kCacheLineSize);
  static_assert(sizeof(Mutex) == kCacheLineSize);
  Mutex locks[3];
  for (const Mutex& mu : locks) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&mu) % kCacheLineSize, 0u);
  }
  auto heap_lock = std::make_unique<Mutex>();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(heap_lock.get()) % kCacheLineSize,
            0u);
}

// A holder that keeps the lock while others pile up: the waiters go to
// sleep on the futex and every one is woken in turn.
TEST(MutexTest, SleepingWaitersAreAllWoken) {
  Mutex mu;
  std::atomic<int> entered{0};
  constexpr int kWaiters = 6;
  std::vector<std::thread> waiters;
  mu.Lock();
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&] {
      MutexLock hold(&mu);
      entered.fetch_add(1, std::memory_order_relaxed);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(entered.load(), 0);
  mu.Unlock();
  for (std::thread& thread : waiters) thread.join();
  EXPECT_EQ(entered.load(), kWaiters);
}

TEST(MutexTest, HeldIsExactPerThread) {
  Mutex mu;
  EXPECT_FALSE(mu.IsHeldByCurrentThread());
  {
    MutexLock hold(&mu);
    EXPECT_TRUE(mu.IsHeldByCurrentThread());
    bool held_elsewhere = true;
    std::thread other([&] { held_elsewhere = mu.IsHeldByCurrentThread(); });
    other.join();
    EXPECT_FALSE(held_elsewhere);
  }
  EXPECT_FALSE(mu.IsHeldByCurrentThread());
}

TEST(MutexTest, TryLockFailsWhileAnotherThreadHoldsIt) {
  Mutex mu;
  MutexLock hold(&mu);
  bool took = true;
  std::thread other([&] {
    took = false;
    if (mu.TryLock()) {
      took = true;
      mu.Unlock();
    }
  });
  other.join();
  EXPECT_FALSE(took);
}

TEST(MutexTest, TryLockSucceedsWhenFree) {
  Mutex mu;
  if (!mu.TryLock()) {
    FAIL() << "TryLock of a free mutex failed";
  } else {
    EXPECT_TRUE(mu.IsHeldByCurrentThread());
    mu.Unlock();
  }
  EXPECT_FALSE(mu.IsHeldByCurrentThread());
}

// Four threads increment a counter under the lock. Under TSan (which halts
// on the first report in our test config) this is also the proof that the
// annotations leave no false "data race" on Debian's uninstrumented Abseil.
TEST(MutexTest, GuardedCounterIsExactAcrossThreads) {
  struct Counter {
    Mutex mu;
    long value ABSL_GUARDED_BY(mu) = 0;
  } counter;
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        MutexLock hold(&counter.mu);
        ++counter.value;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  MutexLock hold(&counter.mu);
  EXPECT_EQ(counter.value, long{kThreads} * kIncrements);
}

TEST(MutexTest, ConstInitMutexWorksAsGlobal) {
  ABSL_CONST_INIT static Mutex global_mu(absl::kConstInit);
  MutexLock hold(&global_mu);
  EXPECT_TRUE(global_mu.IsHeldByCurrentThread());
}

#ifdef ABSL_HAVE_THREAD_SANITIZER
// Each thread locks a different mutex, so the counter is really unguarded:
// TSan must still report it. The report halts the child with exit code 66.
void RaceUnderTwoDifferentLocks() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static Mutex first, second;
  static long counter = 0;
  std::thread a([] {
    for (int i = 0; i < 1000; ++i) {
      MutexLock hold(&first);
      ++counter;
    }
  });
  std::thread b([] {
    for (int i = 0; i < 1000; ++i) {
      MutexLock hold(&second);
      ++counter;
    }
  });
  a.join();
  b.join();
}

TEST(MutexDeathTest, TrueRaceIsStillReportedByTsan) {
  EXPECT_EXIT(RaceUnderTwoDifferentLocks(), ::testing::ExitedWithCode(66),
              "WARNING: ThreadSanitizer: data race");
}
#else
TEST(MutexDeathTest, TrueRaceIsStillReportedByTsan) {
  GTEST_SKIP() << "needs a TSan build: ./bazelw test --config=tsan //...";
}
#endif

}  // namespace
}  // namespace interpheap::sync
