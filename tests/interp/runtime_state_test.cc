// Walks every (state, operation) pair of the lifecycle: allowed operations
// succeed and reach the documented state; refused ones return
// FailedPrecondition naming the state and change nothing (state and every
// allocator table bit-identical).

#include "interp/runtime_state.h"

#include <optional>
#include <string>

#include "alloc/allocator_table.h"
#include "alloc/pymalloc/arena_allocator.h"
#include "alloc/raw_allocator.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "tests/testing/counting_hook.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::interp {
namespace {

using alloc::AllocatorTable;
using alloc::AllocatorTableSnapshot;
using alloc::Domain;
using S = RuntimeState;

constexpr RuntimeState kAllStates[] = {S::kUninitialized, S::kPreInitialized,
                                       S::kInitialized, S::kFinalizing,
                                       S::kFinalized};
constexpr RuntimeOp kAllOps[] = {RuntimeOp::kPreInitialize,
                                 RuntimeOp::kApplyConfiguration,
                                 RuntimeOp::kReplaceAllocator,
                                 RuntimeOp::kSetArenaAllocator,
                                 RuntimeOp::kWrapAllocator,
                                 RuntimeOp::kUnwrapAllocator,
                                 RuntimeOp::kInitialize,
                                 RuntimeOp::kCreateInterpreter,
                                 RuntimeOp::kDestroyInterpreter,
                                 RuntimeOp::kFinalize,
                                 RuntimeOp::kReset,
                                 RuntimeOp::kSetupDebugHooks};

// The contract as documented in runtime_state.h, written out independently
// of kTransitions. nullopt: refused.
std::optional<RuntimeState> Expected(RuntimeState state, RuntimeOp op) {
  const std::optional<RuntimeState> no;
  switch (op) {
    case RuntimeOp::kPreInitialize:
      if (state == S::kUninitialized || state == S::kFinalized) {
        return S::kPreInitialized;
      }
      return no;
    case RuntimeOp::kApplyConfiguration:
    case RuntimeOp::kReplaceAllocator:
    case RuntimeOp::kSetArenaAllocator:
      return state == S::kPreInitialized ? std::optional(state) : no;
    case RuntimeOp::kWrapAllocator:
    case RuntimeOp::kSetupDebugHooks:
      return state == S::kPreInitialized || state == S::kInitialized
                 ? std::optional(state)
                 : no;
    case RuntimeOp::kUnwrapAllocator:
      return state == S::kUninitialized ? no : std::optional(state);
    case RuntimeOp::kInitialize:
      return state == S::kPreInitialized ? std::optional(S::kInitialized) : no;
    case RuntimeOp::kCreateInterpreter:
    case RuntimeOp::kDestroyInterpreter:
      return state == S::kInitialized ? std::optional(state) : no;
    case RuntimeOp::kFinalize:
      return state == S::kInitialized ? std::optional(S::kFinalized) : no;
    case RuntimeOp::kReset:
      return state == S::kPreInitialized || state == S::kFinalized
                 ? std::optional(S::kUninitialized)
                 : no;
  }
  return no;
}

TEST(RuntimeStateTest, TableInCodeMatchesTheDocumentedContract) {
  for (RuntimeState state : kAllStates) {
    for (RuntimeOp op : kAllOps) {
      EXPECT_EQ(NextState(state, op), Expected(state, op))
          << RuntimeStateName(state) << " x " << RuntimeOpName(op);
    }
  }
}

// A raw hook wrapped during pre-initialization, so that unwrap has something
// to remove in every later state; and a second hook for the wrap operation.
testing::CountingHook raw_hook;
testing::CountingHook mem_hook;

void Enter(RuntimeState state) {
  testing::ResetRuntime();
  if (state == S::kUninitialized) return;
  Runtime& runtime = Runtime::Get();
  RuntimeConfig config;
  config.allocator = "pymalloc";
  config.use_environment = false;
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  ASSERT_TRUE(
      runtime
          .WrapAllocator(Domain::kRaw, raw_hook.allocator(), &raw_hook.previous)
          .ok());
  if (state == S::kPreInitialized) return;
  ASSERT_TRUE(runtime.Initialize().ok());
  if (state == S::kInitialized || state == S::kFinalizing) return;
  ASSERT_TRUE(runtime.Finalize().ok());
}

absl::Status Perform(RuntimeOp op) {
  Runtime& runtime = Runtime::Get();
  switch (op) {
    case RuntimeOp::kPreInitialize: {
      RuntimeConfig config;
      config.allocator = "malloc";
      config.use_environment = false;
      return runtime.PreInitialize(config);
    }
    case RuntimeOp::kApplyConfiguration:
      // Applying a configuration over hooks is refused for its own reason:
      // take ours off first where allowed, so the state rule is tested.
      if (runtime.state() == S::kPreInitialized) {
        EXPECT_TRUE(
            runtime.UnwrapAllocator(Domain::kRaw, raw_hook.allocator()).ok());
      }
      return runtime.ApplyConfiguration("pymalloc");
    case RuntimeOp::kReplaceAllocator:
      return runtime.ReplaceAllocator(Domain::kObj, alloc::kLibcAllocator);
    case RuntimeOp::kSetArenaAllocator:
      return runtime.SetArenaAllocator(alloc::kMmapArenaAllocator);
    case RuntimeOp::kWrapAllocator:
      return runtime.WrapAllocator(Domain::kMem, mem_hook.allocator(),
                                   &mem_hook.previous);
    case RuntimeOp::kUnwrapAllocator:
      return runtime.UnwrapAllocator(Domain::kRaw, raw_hook.allocator());
    case RuntimeOp::kInitialize:
      return runtime.Initialize();
    case RuntimeOp::kCreateInterpreter: {
      absl::StatusOr<Interpreter*> interp = runtime.CreateInterpreter();
      if (interp.ok()) {
        absl::Status destroyed = runtime.DestroyInterpreter(*interp);
        EXPECT_TRUE(destroyed.ok()) << destroyed;
      }
      return interp.status();
    }
    case RuntimeOp::kDestroyInterpreter: {
      // In kInitialized destroy a fresh interpreter; elsewhere the state
      // check must refuse before the argument is looked at.
      if (runtime.state() == S::kInitialized) {
        absl::StatusOr<Interpreter*> interp = runtime.CreateInterpreter();
        if (!interp.ok()) return interp.status();
        return runtime.DestroyInterpreter(*interp);
      }
      return runtime.DestroyInterpreter(nullptr);
    }
    case RuntimeOp::kFinalize:
      return runtime.Finalize();
    case RuntimeOp::kSetupDebugHooks:
      return runtime.SetupDebugHooks();
    case RuntimeOp::kReset:
      return runtime.Reset();
  }
  return absl::InternalError("unknown op");
}

void CheckPair(RuntimeState state, RuntimeOp op) {
  Runtime& runtime = Runtime::Get();
  ASSERT_EQ(runtime.state(), state);
  const AllocatorTableSnapshot before = AllocatorTable::Global().Snapshot();
  const absl::Status status = Perform(op);
  const std::optional<RuntimeState> expected = Expected(state, op);
  const std::string pair =
      std::string(RuntimeStateName(state)) + " x " + RuntimeOpName(op);
  if (expected.has_value()) {
    EXPECT_TRUE(status.ok()) << pair << ": " << status;
    EXPECT_EQ(runtime.state(), *expected) << pair;
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << pair;
    EXPECT_NE(status.message().find(std::string(RuntimeOpName(op)) +
                                    " refused: runtime is " +
                                    RuntimeStateName(state)),
              std::string::npos)
        << pair << ": " << status;
    EXPECT_EQ(runtime.state(), state) << pair << " changed the state";
    EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before)
        << pair << " changed an allocator table";
  }
}

TEST(RuntimeStateTest, EveryStateOperationPairBehavesAsDocumented) {
  for (RuntimeState state : kAllStates) {
    for (RuntimeOp op : kAllOps) {
      SCOPED_TRACE(std::string(RuntimeStateName(state)) + " x " +
                   RuntimeOpName(op));
      if (state == S::kFinalizing) {
        // kFinalizing exists only inside Finalize: check from a callback.
        Enter(S::kInitialized);
        static RuntimeOp op_in_callback;
        op_in_callback = op;
        Runtime::Get().AddFinalizeCallback(
            [](void*) { CheckPair(S::kFinalizing, op_in_callback); }, nullptr);
        ASSERT_TRUE(Runtime::Get().Finalize().ok());
        EXPECT_EQ(Runtime::Get().state(), S::kFinalized);
      } else {
        Enter(state);
        CheckPair(state, op);
      }
    }
  }
  testing::ResetRuntime();
}

TEST(RuntimeStateTest, RefusalMessageNamesStateAndRule) {
  testing::InitializeRuntime("malloc");
  absl::Status status =
      Runtime::Get().ReplaceAllocator(Domain::kMem, alloc::kLibcAllocator);
  EXPECT_EQ(status.message(),
            "replace refused: runtime is kInitialized; allocators may be "
            "replaced only between pre-initialization and initialization; "
            "after initialization they may only be wrapped");
  testing::ResetRuntime();
}

}  // namespace
}  // namespace interpheap::interp
