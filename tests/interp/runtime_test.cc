// Runtime: configuration from the config or INTERPHEAP_MALLOC, replace and
// wrap windows, finalize preconditions, embedding cycles.

#include "interp/runtime.h"

#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "alloc/allocator_table.h"
#include "alloc/config.h"
#include "alloc/domain.h"
#include "alloc/pymalloc/pymalloc_allocator.h"
#include "alloc/raw_allocator.h"
#include "gtest/gtest.h"
#include "interp/thread_state.h"
#include "tests/testing/counting_hook.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::interp {
namespace {

using alloc::AllocatorTable;
using alloc::Domain;

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::ResetRuntime(); }
  void TearDown() override {
    unsetenv(alloc::kConfigEnvVar);
    testing::ResetRuntime();
  }
  Runtime& runtime() { return Runtime::Get(); }
};

TEST_F(RuntimeTest, UnknownEnvironmentNameIsRefusedAndChangesNothing) {
  setenv(alloc::kConfigEnvVar, "tcmalloc", 1);
  const auto before = AllocatorTable::Global().Snapshot();
  absl::Status status = runtime().PreInitialize();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "INTERPHEAP_MALLOC: unknown allocator configuration 'tcmalloc'; "
            "valid names are: default, debug, malloc, malloc_debug, pymalloc, "
            "pymalloc_debug, mimalloc, mimalloc_debug");
  EXPECT_EQ(runtime().state(), RuntimeState::kUninitialized);
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before);
}

TEST_F(RuntimeTest, EnvironmentNameIsApplied) {
  setenv(alloc::kConfigEnvVar, "malloc", 1);
  ASSERT_TRUE(runtime().PreInitialize().ok());
  EXPECT_EQ(alloc::CurrentNamedConfig(AllocatorTable::Global()),
            alloc::NamedConfig::kMalloc);
}

TEST_F(RuntimeTest, ConfigNameWinsOverEnvironment) {
  setenv(alloc::kConfigEnvVar, "no-such-allocator", 1);
  RuntimeConfig config;
  config.allocator = "malloc";
  EXPECT_TRUE(runtime().PreInitialize(config).ok());
}

TEST_F(RuntimeTest, EnvironmentIgnoredWhenAsked) {
  setenv(alloc::kConfigEnvVar, "no-such-allocator", 1);
  RuntimeConfig config;
  config.use_environment = false;
  EXPECT_TRUE(runtime().PreInitialize(config).ok());
}

TEST_F(RuntimeTest, ReplaceBetweenPreInitAndInitTakesEffect) {
  RuntimeConfig config;
  config.use_environment = false;
  ASSERT_TRUE(runtime().PreInitialize(config).ok());
  // A counting allocator used as a base: its `previous` is libc.
  static testing::CountingHook counting;
  counting.previous = alloc::kLibcAllocator;
  ASSERT_TRUE(
      runtime().ReplaceAllocator(Domain::kRaw, counting.allocator()).ok());
  ASSERT_TRUE(runtime().Initialize().ok());
  const long before = counting.mallocs.load();
  void* p = alloc::Malloc(Domain::kRaw, 10);
  alloc::Free(Domain::kRaw, p);
  EXPECT_EQ(counting.mallocs.load(), before + 1);
  EXPECT_TRUE(alloc::SameAllocator(runtime().GetAllocator(Domain::kRaw),
                                   counting.allocator()));
}

TEST_F(RuntimeTest, ReplaceAfterInitIsRefusedAndChangesNothing) {
  testing::InitializeRuntime("malloc");
  testing::CountingHook other;
  other.previous = alloc::kLibcAllocator;
  const auto before = AllocatorTable::Global().Snapshot();
  absl::Status status =
      runtime().ReplaceAllocator(Domain::kObj, other.allocator());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before);
}

TEST_F(RuntimeTest, ApplyConfigurationOverHooksIsRefused) {
  RuntimeConfig config;
  config.use_environment = false;
  ASSERT_TRUE(runtime().PreInitialize(config).ok());
  testing::CountingHook hook;
  ASSERT_TRUE(runtime()
                  .WrapAllocator(Domain::kMem, hook.allocator(), &hook.previous)
                  .ok());
  absl::Status status = runtime().ApplyConfiguration("malloc");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("unwrap them first"), std::string::npos);
  ASSERT_TRUE(runtime().UnwrapAllocator(Domain::kMem, hook.allocator()).ok());
  EXPECT_TRUE(runtime().ApplyConfiguration("malloc").ok());
}

TEST_F(RuntimeTest, DebugConfigurationsReportTheirNameAsCpython) {
  const std::pair<const char*, alloc::NamedConfig> cases[] = {
      // As CPython: "debug" is default + hooks, reported as pymalloc_debug.
      {"debug", alloc::NamedConfig::kPymallocDebug},
      {"malloc_debug", alloc::NamedConfig::kMallocDebug},
      {"pymalloc_debug", alloc::NamedConfig::kPymallocDebug},
      {"mimalloc_debug", alloc::NamedConfig::kMimallocDebug},
  };
  for (const auto& [name, reported] : cases) {
    RuntimeConfig config;
    config.allocator = name;
    ASSERT_TRUE(runtime().PreInitialize(config).ok()) << name;
    EXPECT_EQ(alloc::CurrentNamedConfig(AllocatorTable::Global()), reported)
        << name;
    for (Domain domain : alloc::kAllDomains) {
      EXPECT_EQ(AllocatorTable::Global().HookCount(domain), 1) << name;
    }
    // Another configuration replaces the debug hooks with it.
    ASSERT_TRUE(runtime().ApplyConfiguration("pymalloc").ok()) << name;
    EXPECT_EQ(alloc::CurrentNamedConfig(AllocatorTable::Global()),
              alloc::NamedConfig::kPymalloc);
    ASSERT_TRUE(runtime().Reset().ok());
  }
}

TEST_F(RuntimeTest, WrapAfterInitHooksEveryCall) {
  testing::InitializeRuntime("malloc");
  static testing::CountingHook hook;
  ASSERT_TRUE(runtime()
                  .WrapAllocator(Domain::kObj, hook.allocator(), &hook.previous)
                  .ok());
  EXPECT_TRUE(alloc::SameAllocator(hook.previous, alloc::kLibcMemAllocator));
  ASSERT_TRUE(ThreadState::Attach(runtime().main_interpreter()).ok());
  void* p = alloc::Malloc(Domain::kObj, 10);
  p = alloc::Realloc(Domain::kObj, p, 20);
  alloc::Free(Domain::kObj, p);
  EXPECT_EQ(hook.mallocs.load(), 1);
  EXPECT_EQ(hook.reallocs.load(), 1);
  EXPECT_EQ(hook.frees.load(), 1);
  ASSERT_TRUE(runtime().UnwrapAllocator(Domain::kObj, hook.allocator()).ok());
}

// Issue 11 item 2: after many distinct user hooks have come and gone, the
// library's own layers still find slots: tracemalloc, fault injection, and
// a *_debug configuration after a reset (refused forever before, once 255
// distinct layers had been used).
TEST_F(RuntimeTest, ManyDistinctHooksLeaveRoomForTheLibrarysOwnLayers) {
  testing::InitializeRuntime("pymalloc");
  std::vector<std::unique_ptr<testing::CountingHook>> hooks;
  for (int i = 0; i < 3 * AllocatorTable::kLayerCapacity; ++i) {
    hooks.push_back(std::make_unique<testing::CountingHook>());
    testing::CountingHook& hook = *hooks.back();
    ASSERT_TRUE(
        runtime()
            .WrapAllocator(Domain::kRaw, hook.allocator(), &hook.previous)
            .ok())
        << i;
    alloc::Free(Domain::kRaw, alloc::Malloc(Domain::kRaw, 8));
    ASSERT_EQ(hook.total(), 2) << i;
    ASSERT_TRUE(runtime().UnwrapAllocator(Domain::kRaw, hook.allocator()).ok())
        << i;
  }
  ASSERT_TRUE(runtime().StartTracemalloc().ok());
  ASSERT_TRUE(runtime().SetNoMemory(1000000).ok());
  ASSERT_TRUE(runtime().RemoveNoMemory().ok());
  ASSERT_TRUE(runtime().StopTracemalloc().ok());
  ASSERT_TRUE(runtime().Finalize().ok());
  ASSERT_TRUE(runtime().Reset().ok());
  RuntimeConfig config;
  config.allocator = "mimalloc_debug";
  config.use_environment = false;
  EXPECT_TRUE(runtime().PreInitialize(config).ok());
  EXPECT_EQ(alloc::CurrentNamedConfig(AllocatorTable::Global()),
            alloc::NamedConfig::kMimallocDebug);
}

TEST_F(RuntimeTest, FinalizeIsRefusedWhileInterpretersExist) {
  testing::InitializeRuntime("malloc");
  absl::StatusOr<Interpreter*> interp = runtime().CreateInterpreter();
  ASSERT_TRUE(interp.ok());
  absl::Status status = runtime().Finalize();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "finalize refused: 1 interpreter(s) besides main still exist; "
            "destroy them first");
  EXPECT_EQ(runtime().state(), RuntimeState::kInitialized);
  ASSERT_TRUE(runtime().DestroyInterpreter(*interp).ok());
}

TEST_F(RuntimeTest, FinalizeIsRefusedWhileAnotherThreadIsAttachedToMain) {
  testing::InitializeRuntime("malloc");
  std::atomic<int> phase{0};
  std::thread other([&] {
    ASSERT_TRUE(ThreadState::Attach(runtime().main_interpreter()).ok());
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
    ASSERT_TRUE(ThreadState::Detach().ok());
  });
  while (phase.load() != 1) std::this_thread::yield();
  absl::Status status = runtime().Finalize();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  phase.store(2);
  other.join();
  EXPECT_TRUE(runtime().Finalize().ok());
}

TEST_F(RuntimeTest, FinalizeDetachesTheCallingThread) {
  testing::InitializeRuntime("malloc");
  ASSERT_TRUE(ThreadState::Attach(runtime().main_interpreter()).ok());
  ASSERT_TRUE(runtime().Finalize().ok());
  EXPECT_EQ(ThreadState::Current(), nullptr);
  EXPECT_EQ(runtime().main_interpreter(), nullptr);
}

TEST_F(RuntimeTest, EmbeddingCyclesRepeat) {
  for (int cycle = 0; cycle < 3; ++cycle) {
    RuntimeConfig config;
    config.use_environment = false;
    ASSERT_TRUE(runtime().PreInitialize(config).ok()) << cycle;
    ASSERT_TRUE(runtime().Initialize().ok()) << cycle;
    ASSERT_NE(runtime().main_interpreter(), nullptr);
    EXPECT_EQ(runtime().main_interpreter()->id(), 0);
    ASSERT_TRUE(runtime().Finalize().ok()) << cycle;
    EXPECT_EQ(runtime().state(), RuntimeState::kFinalized);
  }
}

TEST_F(RuntimeTest, FinalizeCallbacksRunOnceInOrder) {
  testing::InitializeRuntime("malloc");
  static std::string log;
  log.clear();
  runtime().AddFinalizeCallback([](void*) { log += "a"; }, nullptr);
  runtime().AddFinalizeCallback([](void*) { log += "b"; }, nullptr);
  ASSERT_TRUE(runtime().Finalize().ok());
  EXPECT_EQ(log, "ab");
  RuntimeConfig config;
  config.use_environment = false;
  ASSERT_TRUE(runtime().PreInitialize(config).ok());
  ASSERT_TRUE(runtime().Initialize().ok());
  ASSERT_TRUE(runtime().Finalize().ok());
  EXPECT_EQ(log, "ab");
}

}  // namespace
}  // namespace interpheap::interp
