// Interpreters: creation and destruction from many threads, own or shared
// locks and heaps, attach/detach and the exact "lock held" query.

#include "interp/interpreter.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::interp {
namespace {

class InterpreterTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::InitializeRuntime("malloc"); }
  void TearDown() override { testing::ResetRuntime(); }
  Runtime& runtime() { return Runtime::Get(); }
};

using InterpreterDeathTest = InterpreterTest;

TEST_F(InterpreterDeathTest, ScopedAttachTwiceDies) {
  Interpreter* main = runtime().main_interpreter();
  EXPECT_DEATH(
      {
        ScopedAttach first(main);
        ScopedAttach second(main);
      },
      "ScopedAttach: attach failed");
}

TEST_F(InterpreterTest, MainInterpreterExistsAfterInitialize) {
  Interpreter* main = runtime().main_interpreter();
  ASSERT_NE(main, nullptr);
  EXPECT_TRUE(main->is_main());
  EXPECT_EQ(&main->heap_owner(), main);
  EXPECT_EQ(runtime().interpreter_count(), 1);
}

TEST_F(InterpreterTest, CreateAndDestroyFromManyThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::mutex ids_mu;
  std::set<std::int64_t> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter();
        ASSERT_TRUE(interp.ok()) << interp.status();
        {
          std::lock_guard<std::mutex> hold(ids_mu);
          ids.insert((*interp)->id());
        }
        ASSERT_TRUE(ThreadState::Attach(*interp).ok());
        EXPECT_TRUE(ThreadState::CurrentLockHeld());
        ASSERT_TRUE(ThreadState::Detach().ok());
        ASSERT_TRUE(runtime().DestroyInterpreter(*interp).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ids.size(), size_t{kThreads * kPerThread}) << "ids are unique";
  EXPECT_EQ(ids.count(0), 0u) << "0 is the main interpreter's";
  EXPECT_EQ(runtime().interpreter_count(), 1);
}

TEST_F(InterpreterTest, OwnLockWithMainHeapIsRefused) {
  InterpreterConfig config;
  config.lock = LockKind::kOwn;
  config.own_heap = false;
  absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter(config);
  ASSERT_FALSE(interp.ok());
  EXPECT_EQ(interp.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(interp.status().message().find("cannot use the main heap"),
            std::string::npos);
  EXPECT_EQ(runtime().interpreter_count(), 1);
}

TEST_F(InterpreterTest, SharedLockAndHeapAreMains) {
  Interpreter* main = runtime().main_interpreter();
  InterpreterConfig legacy;
  legacy.lock = LockKind::kMain;
  legacy.own_heap = false;
  absl::StatusOr<Interpreter*> shared = runtime().CreateInterpreter(legacy);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(&(*shared)->lock(), &main->lock());
  EXPECT_EQ(&(*shared)->heap_owner(), main);

  InterpreterConfig own_heap_main_lock;
  own_heap_main_lock.lock = LockKind::kMain;
  absl::StatusOr<Interpreter*> mixed =
      runtime().CreateInterpreter(own_heap_main_lock);
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(&(*mixed)->lock(), &main->lock());
  EXPECT_EQ(&(*mixed)->heap_owner(), *mixed);

  absl::StatusOr<Interpreter*> isolated = runtime().CreateInterpreter();
  ASSERT_TRUE(isolated.ok());
  EXPECT_NE(&(*isolated)->lock(), &main->lock());

  // Attached to a shared-lock interpreter, the thread holds main's lock.
  ASSERT_TRUE(ThreadState::Attach(*shared).ok());
  EXPECT_TRUE(main->lock().IsHeldByCurrentThread());
  ASSERT_TRUE(ThreadState::Detach().ok());

  for (Interpreter* interp : {*shared, *mixed, *isolated}) {
    ASSERT_TRUE(runtime().DestroyInterpreter(interp).ok());
  }
}

TEST_F(InterpreterTest, AttachMakesCurrentAndLockHeldIsExact) {
  absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter();
  ASSERT_TRUE(interp.ok());
  EXPECT_EQ(ThreadState::Current(), nullptr);
  EXPECT_FALSE(ThreadState::CurrentLockHeld());
  ASSERT_TRUE(ThreadState::Attach(*interp).ok());
  EXPECT_EQ(ThreadState::Current(), *interp);
  EXPECT_TRUE(ThreadState::CurrentLockHeld());
  bool other_thread_sees_held = true;
  std::thread other(
      [&] { other_thread_sees_held = ThreadState::CurrentLockHeld(); });
  other.join();
  EXPECT_FALSE(other_thread_sees_held);
  ASSERT_TRUE(ThreadState::Detach().ok());
  EXPECT_EQ(ThreadState::Current(), nullptr);
  EXPECT_FALSE(ThreadState::CurrentLockHeld());
  ASSERT_TRUE(runtime().DestroyInterpreter(*interp).ok());
}

TEST_F(InterpreterTest, AttachTwiceAndDetachWithoutAttachAreRefused) {
  Interpreter* main = runtime().main_interpreter();
  absl::Status detach = ThreadState::Detach();
  EXPECT_EQ(detach.code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(ThreadState::Attach(main).ok());
  absl::Status again = ThreadState::Attach(main);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(),
            "attach refused: the thread is already attached to interpreter "
            "0; detach first");
  EXPECT_EQ(ThreadState::Attach(nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(ThreadState::Detach().ok());
}

TEST_F(InterpreterTest, DestroyRefusals) {
  absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter();
  ASSERT_TRUE(interp.ok());
  ASSERT_TRUE(ThreadState::Attach(*interp).ok());
  absl::Status attached = runtime().DestroyInterpreter(*interp);
  EXPECT_EQ(attached.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(attached.message().find("detach them first"), std::string::npos);
  ASSERT_TRUE(ThreadState::Detach().ok());

  EXPECT_EQ(runtime().DestroyInterpreter(runtime().main_interpreter()).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(runtime().DestroyInterpreter(*interp).ok());
  EXPECT_EQ(runtime().DestroyInterpreter(*interp).code(),
            absl::StatusCode::kNotFound)
      << "a second destroy of the same interpreter";
  EXPECT_EQ(runtime().DestroyInterpreter(nullptr).code(),
            absl::StatusCode::kNotFound);
}

// Threads sharing one interpreter contend for its lock: a plain counter
// incremented while attached must come out exact (and TSan-clean).
TEST_F(InterpreterTest, ThreadsSharingAnInterpreterAreSerializedByItsLock) {
  absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter();
  ASSERT_TRUE(interp.ok());
  long counter = 0;
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        ScopedAttach attach(*interp);
        ++counter;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter, long{kThreads} * kRounds);
  ASSERT_TRUE(runtime().DestroyInterpreter(*interp).ok());
}

// Two interpreters with their own locks never wait for each other: while
// one thread stays attached to A, another attaches to B and finishes.
TEST_F(InterpreterTest, OwnLocksDoNotBlockEachOther) {
  absl::StatusOr<Interpreter*> a = runtime().CreateInterpreter();
  absl::StatusOr<Interpreter*> b = runtime().CreateInterpreter();
  ASSERT_TRUE(a.ok() && b.ok());
  std::atomic<bool> b_done{false};
  std::thread holder([&] {
    ScopedAttach attach(*a);
    while (!b_done.load()) std::this_thread::yield();
  });
  std::thread other([&] {
    ScopedAttach attach(*b);
    EXPECT_TRUE(ThreadState::CurrentLockHeld());
    b_done.store(true);
  });
  other.join();
  holder.join();
  EXPECT_TRUE(b_done.load());
  ASSERT_TRUE(runtime().DestroyInterpreter(*a).ok());
  ASSERT_TRUE(runtime().DestroyInterpreter(*b).ok());
}

}  // namespace
}  // namespace interpheap::interp
