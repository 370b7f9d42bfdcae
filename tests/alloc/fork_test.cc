// fork() while other threads allocate (issue 10 item 5): with tracemalloc
// and debug hooks on, every child allocates, frees, creates and destroys
// an interpreter and exits 0. Without the fork handlers (alloc/fork.h) a
// child could inherit a lock another thread held (tracemalloc's table, the
// arena map, the heap registry, the runtime) and block forever.

#include "alloc/fork.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "alloc/domain.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using interp::Interpreter;
using interp::Runtime;
using interp::ThreadState;

// What a child does: every domain, new arenas, a new interpreter. Returns
// the exit status.
int ChildWork() {
  // A hang guard only: a child that blocks on an inherited lock is killed
  // and reported by the parent as not having exited 0.
  alarm(20);
  std::vector<void*> blocks;
  for (int i = 0; i < 3000; ++i) {
    const Domain domain = static_cast<Domain>(i % 3);
    void* p = Malloc(domain, 16 + (i % 700));
    if (p == nullptr) return 2;
    blocks.push_back(p);
  }
  for (int i = 0; i < 3000; ++i) Free(static_cast<Domain>(i % 3), blocks[i]);
  absl::StatusOr<Interpreter*> sub = Runtime::Get().CreateInterpreter();
  if (!sub.ok()) return 3;
  if (!Runtime::Get().DestroyInterpreter(*sub).ok()) return 4;
  return 0;
}

TEST(ForkTest, ChildrenForkedWhileThreadsAllocateCanAllocate) {
  testing::InitializeRuntime("pymalloc_debug");
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(4).ok());
  constexpr int kWorkers = 3;
  constexpr int kForks = 40;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      absl::StatusOr<Interpreter*> own = Runtime::Get().CreateInterpreter();
      ASSERT_TRUE(own.ok());
      std::vector<void*> held;
      std::uint64_t round = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        {
          interp::ScopedAttach attach(*own);
          for (int i = 0; i < 200; ++i) {
            const Domain domain = static_cast<Domain>((round + i) % 3);
            held.push_back(Malloc(domain, 8 + (round * 7 + i) % 900));
          }
          for (std::size_t i = 0; i < held.size(); ++i) {
            Free(static_cast<Domain>((round + i) % 3), held[i]);
          }
          held.clear();
        }
        if (w == 0 && round % 8 == 0) {
          // The runtime lock and the heap registry's.
          absl::StatusOr<Interpreter*> extra =
              Runtime::Get().CreateInterpreter();
          ASSERT_TRUE(extra.ok());
          ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*extra).ok());
        }
        ++round;
      }
      ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*own).ok());
    });
  }
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  int bad_children = 0;
  for (int f = 0; f < kForks; ++f) {
    const pid_t pid = fork();
    ASSERT_NE(pid, -1);
    if (pid == 0) _exit(ChildWork());
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++bad_children;
  }
  ASSERT_TRUE(ThreadState::Detach().ok());
  stop.store(true);
  for (std::thread& worker : workers) worker.join();
  EXPECT_EQ(bad_children, 0);
  ASSERT_TRUE(Runtime::Get().StopTracemalloc().ok());
  testing::ResetRuntime();
}

}  // namespace
}  // namespace interpheap::alloc
