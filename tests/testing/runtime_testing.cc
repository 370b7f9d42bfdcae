#include "tests/testing/runtime_testing.h"

#include "alloc/pymalloc/arena_allocator.h"
#include "gtest/gtest.h"
#include "interp/thread_state.h"

namespace interpheap::testing {

using interp::Runtime;
using interp::RuntimeState;

void ResetRuntime() {
  Runtime& runtime = Runtime::Get();
  if (interp::ThreadState::Current() != nullptr) {
    EXPECT_TRUE(interp::ThreadState::Detach().ok());
  }
  switch (runtime.state()) {
    case RuntimeState::kUninitialized:
      break;
    case RuntimeState::kPreInitialized:
      EXPECT_TRUE(runtime.Reset().ok());
      break;
    case RuntimeState::kInitialized:
      EXPECT_EQ(runtime.interpreter_count(), 1)
          << "a test left interpreters alive";
      if (absl::Status s = runtime.Finalize(); !s.ok()) {
        ADD_FAILURE() << s;
        return;
      }
      EXPECT_TRUE(runtime.Reset().ok());
      break;
    case RuntimeState::kFinalizing:
      ADD_FAILURE() << "runtime left in kFinalizing";
      return;
    case RuntimeState::kFinalized:
      EXPECT_TRUE(runtime.Reset().ok());
      break;
  }
  // Back to the default arena allocator for the next test.
  interp::RuntimeConfig config;
  config.use_environment = false;
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  ASSERT_TRUE(runtime.SetArenaAllocator(alloc::kMmapArenaAllocator).ok());
  ASSERT_TRUE(runtime.Reset().ok());
}

void InitializeRuntime(const std::string& allocator) {
  ResetRuntime();
  interp::RuntimeConfig config;
  config.allocator = allocator;
  config.use_environment = false;
  Runtime& runtime = Runtime::Get();
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  ASSERT_TRUE(runtime.Initialize().ok());
}

void InitializeRuntimeWithArenas(const std::string& allocator,
                                 const ih_arena_allocator_t& arena_allocator) {
  ResetRuntime();
  interp::RuntimeConfig config;
  config.allocator = allocator;
  config.use_environment = false;
  Runtime& runtime = Runtime::Get();
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  ASSERT_TRUE(runtime.SetArenaAllocator(arena_allocator).ok());
  ASSERT_TRUE(runtime.Initialize().ok());
}

}  // namespace interpheap::testing
