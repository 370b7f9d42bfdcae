// ih_set_lock_held_predicate(NULL) while another thread is inside the debug
// hooks' lock check (issue 10 item 8): a thread parked by the test seam
// between loading the predicate and calling it must not call through a null
// C predicate once it resumes.

#include <atomic>
#include <thread>

#include "alloc/hooks/debug_hooks.h"
#include "api/interpheap.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap {
namespace {

// 0: nobody parked yet; 1: a thread is parked; 2: released.
std::atomic<int> stage{0};

// Parks the first lock check until the test releases it.
void ParkFirstCaller() {
  int expected = 0;
  if (!stage.compare_exchange_strong(expected, 1)) return;
  while (stage.load() != 2) {
  }
}

int AlwaysHeld() { return 1; }

TEST(LockHeldPredicateTest, ClearedWhileAThreadIsInsideTheCheck) {
  testing::InitializeRuntime("pymalloc_debug");
  ih_set_lock_held_predicate(&AlwaysHeld);
  alloc::SetLockCheckPauseForTesting(&ParkFirstCaller);
  std::thread user([] {
    ASSERT_TRUE(
        interp::ThreadState::Attach(interp::Runtime::Get().main_interpreter())
            .ok());
    void* p = ih_mem_malloc(16);  // parks inside the lock check
    EXPECT_NE(p, nullptr);
    ih_mem_free(p);
    ASSERT_TRUE(interp::ThreadState::Detach().ok());
  });
  while (stage.load() != 1) {
  }
  ih_set_lock_held_predicate(nullptr);
  stage.store(2);
  user.join();
  alloc::SetLockCheckPauseForTesting(nullptr);
  testing::ResetRuntime();
}

}  // namespace
}  // namespace interpheap
