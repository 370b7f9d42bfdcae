// Interpreter lifetimes: destroy from any attached thread in any order (no
// two interpreter locks held at once), stale handles refused, threads that
// exit while attached.

#include <cstdint>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "alloc/domain.h"
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

}  // namespace
}  // namespace interpheap::interp
