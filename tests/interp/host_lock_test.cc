// Host-locked interpreters (LockKind::kHost): attaching takes no lock, "held"
// is the host's predicate (also for the debug hooks, which die with
// CPython's message when it says no), the configuration refusals, and the
// cache-line separation of interpreters' locks.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "alloc/domain.h"
#include "alloc/pymalloc/pymalloc.h"
#include "gtest/gtest.h"
#include "interp/interpreter.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "sync/mutex.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::interp {
namespace {

// The fake host's lock: "held" is a per-thread flag the test sets, as the
// GIL is held by one thread at a time.
thread_local bool host_lock_held_here = false;
std::atomic<int> predicate_calls{0};

int HostLockHeld(void* ctx) {
  predicate_calls.fetch_add(1, std::memory_order_relaxed);
  EXPECT_EQ(ctx, &predicate_calls);
  return host_lock_held_here ? 1 : 0;
}

InterpreterConfig HostConfig() {
  InterpreterConfig config;
  config.lock = LockKind::kHost;
  config.host_lock_held = &HostLockHeld;
  config.host_lock_ctx = &predicate_calls;
  return config;
}

class HostLockTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { testing::InitializeRuntime(GetParam()); }
  void TearDown() override {
    if (ThreadState::Current() != nullptr) {
      EXPECT_TRUE(ThreadState::Detach().ok());
    }
    host_lock_held_here = true;  // destroying a host-locked one needs it
    for (Interpreter* interp : created_) {
      EXPECT_TRUE(runtime().DestroyInterpreter(interp).ok());
    }
    host_lock_held_here = false;
    testing::ResetRuntime();
  }
  Runtime& runtime() { return Runtime::Get(); }
  // Creates an interpreter that TearDown destroys.
  absl::StatusOr<Interpreter*> Create(const InterpreterConfig& config = {}) {
    absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter(config);
    if (interp.ok()) created_.push_back(*interp);
    return interp;
  }

 private:
  std::vector<Interpreter*> created_;
};

using HostLockDeathTest = HostLockTest;

TEST_P(HostLockDeathTest, DebugHooksDieWithCPythonsMessageWhenHostSaysNo) {
  absl::StatusOr<Interpreter*> interp = Create(HostConfig());
  ASSERT_TRUE(interp.ok()) << interp.status();
  ASSERT_TRUE(ThreadState::Attach(*interp).ok());
  EXPECT_DEATH(
      {
        host_lock_held_here = false;
        alloc::Malloc(alloc::Domain::kObj, 8);
      },
      "_PyMem_DebugMalloc: Python memory allocator called without holding the "
      "GIL");
  EXPECT_DEATH(
      {
        host_lock_held_here = false;
        alloc::Free(alloc::Domain::kMem, nullptr);
      },
      "_PyMem_DebugFree: Python memory allocator called without holding the "
      "GIL");
  ASSERT_TRUE(ThreadState::Detach().ok());
}

TEST_P(HostLockTest, AttachTakesNoLockAndHeldIsTheHostsPredicate) {
  absl::StatusOr<Interpreter*> interp = Create(HostConfig());
  ASSERT_TRUE(interp.ok()) << interp.status();
  EXPECT_TRUE((*interp)->host_locked());
  EXPECT_TRUE((*interp)->lock().is_host_lock());
  EXPECT_EQ(&(*interp)->heap_owner(), *interp);

  // Two threads attached at once: an own lock would block the second.
  std::atomic<int> attached{0};
  std::atomic<int> checked{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      ASSERT_TRUE(ThreadState::Attach(*interp).ok());
      attached.fetch_add(1);
      while (attached.load() < 2) std::this_thread::yield();
      EXPECT_EQ((*interp)->attached_threads(), 2);
      EXPECT_FALSE(ThreadState::CurrentLockHeld());
      host_lock_held_here = true;
      EXPECT_TRUE(ThreadState::CurrentLockHeld());
      host_lock_held_here = false;
      checked.fetch_add(1);
      while (checked.load() < 2) std::this_thread::yield();
      ASSERT_TRUE(ThreadState::Detach().ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(attached.load(), 2);
  EXPECT_EQ((*interp)->attached_threads(), 0);
}

TEST_P(HostLockTest, MemAndObjCallsRunUnderTheHostsLock) {
  absl::StatusOr<Interpreter*> interp = Create(HostConfig());
  ASSERT_TRUE(interp.ok()) << interp.status();
  ASSERT_TRUE(ThreadState::Attach(*interp).ok());
  host_lock_held_here = true;
  std::vector<void*> blocks;
  for (int i = 1; i <= 100; ++i) {
    blocks.push_back(alloc::Malloc(alloc::Domain::kObj, i));
    blocks.push_back(alloc::Malloc(alloc::Domain::kMem, 3 * i));
  }
  for (void* p : blocks) ASSERT_NE(p, nullptr);
  if (std::string(GetParam()) != "malloc") {
    absl::StatusOr<std::int64_t> live = Runtime::CurrentAllocatedBlocks();
    ASSERT_TRUE(live.ok()) << live.status();
    EXPECT_EQ(*live, 200);
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    alloc::Free(i % 2 == 0 ? alloc::Domain::kObj : alloc::Domain::kMem,
                blocks[i]);
  }
  host_lock_held_here = false;
  ASSERT_TRUE(ThreadState::Detach().ok());
}

TEST_P(HostLockTest, ConfigurationRefusals) {
  InterpreterConfig no_predicate;
  no_predicate.lock = LockKind::kHost;
  InterpreterConfig predicate_with_own_lock = HostConfig();
  predicate_with_own_lock.lock = LockKind::kOwn;
  InterpreterConfig host_with_main_heap = HostConfig();
  host_with_main_heap.own_heap = false;
  for (const InterpreterConfig& config :
       {no_predicate, predicate_with_own_lock, host_with_main_heap}) {
    absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter(config);
    ASSERT_FALSE(interp.ok());
    EXPECT_EQ(interp.status().code(), absl::StatusCode::kInvalidArgument)
        << interp.status();
  }
  EXPECT_EQ(runtime().interpreter_count(), 1);
}

TEST_P(HostLockTest, DestroyNeedsTheHostsLock) {
  absl::StatusOr<Interpreter*> interp =
      runtime().CreateInterpreter(HostConfig());
  ASSERT_TRUE(interp.ok()) << interp.status();
  host_lock_held_here = false;
  absl::Status refused = runtime().DestroyInterpreter(*interp);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("does not hold the host's lock"),
            std::string::npos)
      << refused;
  host_lock_held_here = true;
  EXPECT_TRUE(runtime().DestroyInterpreter(*interp).ok());
  host_lock_held_here = false;
}

// The proof that two interpreters' locks share no written cache line: each
// lock is 64-byte aligned and 64 bytes long (static_assert in sync/mutex.h),
// so a line holds one lock and nothing else; and the lines differ.
TEST_P(HostLockTest, InterpretersLocksShareNoCacheLine) {
  static_assert(alignof(sync::Mutex) == sync::kCacheLineSize &&
                sizeof(sync::Mutex) == sync::kCacheLineSize);
  absl::StatusOr<Interpreter*> a = Create();
  absl::StatusOr<Interpreter*> b = Create();
  absl::StatusOr<Interpreter*> host = Create(HostConfig());
  ASSERT_TRUE(a.ok() && b.ok() && host.ok());
  std::vector<std::uintptr_t> lines;
  for (Interpreter* interp : {runtime().main_interpreter(), *a, *b, *host}) {
    const auto address = reinterpret_cast<std::uintptr_t>(&interp->lock());
    EXPECT_EQ(address % sync::kCacheLineSize, 0u);
    for (std::uintptr_t line : lines) {
      EXPECT_NE(line, address / sync::kCacheLineSize);
    }
    lines.push_back(address / sync::kCacheLineSize);
  }
}

INSTANTIATE_TEST_SUITE_P(Configurations, HostLockTest,
                         ::testing::Values("pymalloc", "pymalloc_debug",
                                           "malloc"));
INSTANTIATE_TEST_SUITE_P(Configurations, HostLockDeathTest,
                         ::testing::Values("pymalloc_debug"));

}  // namespace
}  // namespace interpheap::interp
