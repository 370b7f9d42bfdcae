// Interpreter lifetimes: destroy from any attached thread in any order (no
// two interpreter locks held at once), stale handles refused, threads that
// exit while attached.

#include <cstdint>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "alloc/domain.h"
#include "alloc/pymalloc/heap_registry.h"
#include "alloc/pymalloc/pymalloc.h"
#include "gtest/gtest.h"
#include "interp/interpreter.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::interp {
namespace {

class LifetimeTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::InitializeRuntime("pymalloc"); }
  void TearDown() override { testing::ResetRuntime(); }
  Runtime& runtime() { return Runtime::Get(); }
  Interpreter* Create(const InterpreterConfig& config = {}) {
    absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter(config);
    EXPECT_TRUE(interp.ok()) << interp.status();
    return interp.value_or(nullptr);
  }
};

// Issue 10 item 2: attached to Y, destroy X; then attached to main, destroy
// Y. Each destroy used to lock the victim's lock under the caller's own, and
// Abseil's deadlock detector saw main -> Y -> X and X's successor at X's
// address -> ... as a cycle and aborted.
TEST_F(LifetimeTest, DestroyFromAnyAttachedThreadInAnyOrder) {
  for (int round = 0; round < 3; ++round) {
    Interpreter* x = Create();
    Interpreter* y = Create();
    ASSERT_TRUE(ThreadState::Attach(y).ok());
    void* block = alloc::Malloc(alloc::Domain::kObj, 24);
    ASSERT_TRUE(runtime().DestroyInterpreter(x).ok());
    alloc::Free(alloc::Domain::kObj, block);
    ASSERT_TRUE(ThreadState::Detach().ok());
    ASSERT_TRUE(ThreadState::Attach(runtime().main_interpreter()).ok());
    ASSERT_TRUE(runtime().DestroyInterpreter(y).ok());
    ASSERT_TRUE(ThreadState::Detach().ok());
  }
}

// Every order of creating and destroying three interpreters, from a thread
// attached to main, to another interpreter (own lock or main's) or to none.
TEST_F(LifetimeTest, EveryDestroySequenceFromEveryAttachmentWorks) {
  const InterpreterConfig kConfigs[] = {{LockKind::kOwn, true},
                                        {LockKind::kMain, true},
                                        {LockKind::kMain, false}};
  for (const InterpreterConfig& caller_config : kConfigs) {
    for (const InterpreterConfig& victim_config : kConfigs) {
      for (int where = 0; where < 3; ++where) {  // none, main, other
        Interpreter* other = Create(caller_config);
        Interpreter* a = Create(victim_config);
        Interpreter* b = Create(victim_config);
        Interpreter* attach_to =
            where == 0 ? nullptr
                       : (where == 1 ? runtime().main_interpreter() : other);
        if (attach_to != nullptr) {
          ASSERT_TRUE(ThreadState::Attach(attach_to).ok());
        }
        EXPECT_TRUE(runtime().DestroyInterpreter(b).ok());
        EXPECT_TRUE(runtime().DestroyInterpreter(a).ok());
        if (attach_to != nullptr) {
          ASSERT_TRUE(ThreadState::Detach().ok());
        }
        ASSERT_TRUE(ThreadState::Attach(runtime().main_interpreter()).ok());
        EXPECT_TRUE(runtime().DestroyInterpreter(other).ok());
        ASSERT_TRUE(ThreadState::Detach().ok());
      }
    }
  }
}

// Issue 10 item 6: after x is destroyed, its handle is refused, even when a
// new interpreter got x's address (destroying by pointer then destroyed
// the new one; attaching used freed memory).
TEST_F(LifetimeTest, StaleHandleIsRefusedEvenWhenItsAddressIsReused) {
  Interpreter* x = Create();
  const InterpreterHandle stale = x->handle();
  ASSERT_TRUE(runtime().DestroyInterpreter(stale).ok());
  std::vector<Interpreter*> made;
  bool reused = false;
  for (int i = 0; i < 16 && !reused; ++i) {
    made.push_back(Create());
    reused = made.back() == x;
  }
  const int count = runtime().interpreter_count();
  EXPECT_EQ(runtime().DestroyInterpreter(stale).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(runtime().Attach(stale).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ThreadState::Current(), nullptr);
  EXPECT_EQ(runtime().InterpreterId(stale).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(runtime().interpreter_count(), count) << "refusals change nothing";
  for (Interpreter* interp : made) {
    ASSERT_TRUE(runtime().Attach(interp->handle()).ok());
    ASSERT_TRUE(ThreadState::Detach().ok());
    ASSERT_TRUE(runtime().DestroyInterpreter(interp->handle()).ok());
  }
}

// A checked attach reserves the interpreter: it cannot be destroyed while
// the thread is attached through its handle.
TEST_F(LifetimeTest, AttachByHandleKeepsTheInterpreterAlive) {
  Interpreter* x = Create();
  ASSERT_TRUE(runtime().Attach(x->handle()).ok());
  EXPECT_EQ(runtime().DestroyInterpreter(x->handle()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime().Attach(x->handle()).code(),
            absl::StatusCode::kFailedPrecondition)
      << "already attached";
  EXPECT_EQ(x->attached_threads(), 1);
  ASSERT_TRUE(ThreadState::Detach().ok());
  EXPECT_TRUE(runtime().DestroyInterpreter(x->handle()).ok());
}

// Issue 10 item 7: a thread that exits while attached used to keep the
// interpreter's lock forever (destroy and finalize refused for good, and a
// later thread reusing its id appeared to own the lock). It is detached
// at exit, and counted.
TEST_F(LifetimeTest, ThreadExitingWhileAttachedIsDetachedAtExit) {
  Interpreter* x = Create();
  const std::int64_t before = ThreadState::DetachedAtThreadExit();
  std::thread([x] {
    ASSERT_TRUE(ThreadState::Attach(x).ok());
    void* p = alloc::Malloc(alloc::Domain::kObj, 32);
    alloc::Free(alloc::Domain::kObj, p);
  }).join();
  EXPECT_EQ(ThreadState::DetachedAtThreadExit(), before + 1);
  EXPECT_EQ(x->attached_threads(), 0);
  std::thread([x] {
    EXPECT_FALSE(x->lock().IsHeldByCurrentThread());
    if (x->lock().TryLock()) {
      x->lock().Unlock();
    } else {
      ADD_FAILURE() << "the lock was not released at exit";
    }
  }).join();
  EXPECT_TRUE(runtime().DestroyInterpreter(x).ok());
}

// Issue 13 item 3: interpreters that end with a few leaked blocks (CPython
// leaks objects of every ended interpreter) left their whole arenas
// committed: 1,000 CPython create/destroy cycles grew by 1.3 GB. Now a
// retired heap keeps committed only the pools that hold leaked blocks.
// 300 cycles, each leaking 4 blocks out of 6,000 (about 1.6 MiB of pools
// in 2 arenas): committed arena bytes grow by at most 4 pools a cycle
// (19.2 MB; they grew by at least an arena, 1 MiB, a cycle before), and
// every leaked block keeps its contents.
TEST_F(LifetimeTest, LeakingCyclesKeepCommittedArenaBytesBounded) {
  constexpr int kCycles = 300;
  constexpr int kBlocks = 6000;
  constexpr int kLeakEvery = 1500;  // 4 leaked blocks a cycle
  constexpr std::int64_t kBound = std::int64_t{kCycles} *
                                  (kBlocks / kLeakEvery) *
                                  static_cast<std::int64_t>(alloc::kPoolSize);
  const alloc::ArenaBytes before = alloc::GlobalArenaBytes();
  const std::int64_t leaked_before = alloc::LeakedBlocks();
  std::vector<unsigned char*> leaked;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    Interpreter* interp = Create({LockKind::kOwn, true});
    ASSERT_NE(interp, nullptr);
    ASSERT_TRUE(ThreadState::Attach(interp).ok());
    std::vector<void*> blocks;
    for (int i = 0; i < kBlocks; ++i) {
      blocks.push_back(alloc::Malloc(alloc::Domain::kObj, 16 + (i % 32) * 16));
    }
    for (int i = 0; i < kBlocks; ++i) {
      if (i % kLeakEvery == 0) {
        auto* block = static_cast<unsigned char*>(blocks[i]);
        block[0] = static_cast<unsigned char>(cycle);
        leaked.push_back(block);
      } else {
        alloc::Free(alloc::Domain::kObj, blocks[i]);
      }
    }
    ASSERT_TRUE(ThreadState::Detach().ok());
    ASSERT_TRUE(runtime().DestroyInterpreter(interp).ok());
  }
  const alloc::ArenaBytes after = alloc::GlobalArenaBytes();
  const std::int64_t committed_growth =
      (after.mapped - after.decommitted) - (before.mapped - before.decommitted);
  EXPECT_LE(committed_growth, kBound)
      << "mapped grew by " << after.mapped - before.mapped;
  EXPECT_EQ(alloc::LeakedBlocks(),
            leaked_before + kCycles * (kBlocks / kLeakEvery));
  for (std::size_t k = 0; k < leaked.size(); ++k) {
    EXPECT_EQ(leaked[k][0], static_cast<unsigned char>(k / 4)) << k;
  }
  EXPECT_TRUE(runtime().ValidateHeaps().ok()) << runtime().ValidateHeaps();
  // The leaked blocks can still come home: every orphan is then reclaimed.
  ASSERT_TRUE(ThreadState::Attach(runtime().main_interpreter()).ok());
  for (unsigned char* block : leaked) alloc::Free(alloc::Domain::kObj, block);
  ASSERT_TRUE(ThreadState::Detach().ok());
  EXPECT_EQ(alloc::LeakedBlocks(), leaked_before);
  EXPECT_EQ(alloc::GlobalArenaBytes().decommitted, before.decommitted);
}

}  // namespace
}  // namespace interpheap::interp
