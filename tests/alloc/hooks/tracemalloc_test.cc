// tracemalloc: CPython's Track/Untrack return codes, tracing of all three
// domains with native stacks, exact restore on stop, snapshot statistics,
// the traceback in debug dumps and the leak report.

#include "alloc/hooks/tracemalloc.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "alloc/allocator_table.h"
#include "alloc/domain.h"
#include "alloc/hooks/debug_hooks.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/counting_hook.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using interp::Runtime;
using interp::ThreadState;

class TracemallocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::InitializeRuntime(config());
    ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  }
  void TearDown() override {
    EXPECT_TRUE(Runtime::Get().StopTracemalloc().ok());
    testing::ResetRuntime();
  }
  virtual const char* config() { return "pymalloc"; }
};

class TracemallocDebugTest : public TracemallocTest {
  const char* config() override { return "pymalloc_debug"; }
};
using TracemallocDebugDeathTest = TracemallocDebugTest;

// Kept out of line so that it shows up in tracebacks.
__attribute__((noinline)) void* AllocateFromNamedSite(std::size_t n) {
  void* p = Malloc(Domain::kObj, n);
  asm volatile("" ::: "memory");
  return p;
}

TEST_F(TracemallocTest, TrackAndUntrackFollowCpythonsReturnCodes) {
  EXPECT_EQ(Track(5, 0x1000, 123), -2) << "not tracing";
  EXPECT_EQ(Untrack(5, 0x1000), -2);
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(10).ok());
  EXPECT_EQ(Track(5, 0x1000, 123), 0);
  EXPECT_EQ(TracedBytes(5), 123u);
  TraceInfo first;
  ASSERT_TRUE(GetTrace(5, 0x1000, &first));
  EXPECT_FALSE(first.frames.empty());
  EXPECT_EQ(Track(5, 0x1000, 77), 0) << "re-track replaces";
  EXPECT_EQ(TracedBytes(5), 77u);
  EXPECT_EQ(TraceCount(5), 1u);
  EXPECT_EQ(Untrack(5, 0x1000), 0);
  EXPECT_EQ(TracedBytes(5), 0u);
  EXPECT_FALSE(GetTrace(5, 0x1000, &first));
  EXPECT_EQ(Untrack(5, 0x1000), 0) << "untrack twice is fine";
  EXPECT_EQ(Untrack(6, 0x9999), 0) << "unknown pointer";
  ASSERT_TRUE(Runtime::Get().StopTracemalloc().ok());
  EXPECT_EQ(Track(5, 0x1000, 1), -2);
  EXPECT_EQ(Untrack(5, 0x1000), -2);
}

TEST_F(TracemallocTest, FrameLimitIsChecked) {
  for (int bad : {0, -1, 65536}) {
    absl::Status status = Runtime::Get().StartTracemalloc(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              "the number of frames must be in range [1; 65535]");
  }
  EXPECT_FALSE(IsTracing());
}

TEST_F(TracemallocTest, AllThreeDomainsAreTracedWithTheirSite) {
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(16).ok());
  void* raw = Malloc(Domain::kRaw, 40);
  void* mem = Malloc(Domain::kMem, 50);
  void* obj = AllocateFromNamedSite(60);
  TraceInfo info;
  ASSERT_TRUE(GetTrace(kTraceDefaultDomain,
                       reinterpret_cast<std::uintptr_t>(raw), &info));
  EXPECT_EQ(info.size, 40u);
  ASSERT_TRUE(GetTrace(kTraceDefaultDomain,
                       reinterpret_cast<std::uintptr_t>(mem), &info));
  EXPECT_EQ(info.size, 50u);
  EXPECT_EQ(info.interpreter, 0) << "made by the main interpreter";
  ASSERT_TRUE(GetTrace(kTraceDefaultDomain,
                       reinterpret_cast<std::uintptr_t>(obj), &info));
  EXPECT_EQ(info.size, 60u);
  bool named_site_found = false;
  for (void* pc : info.frames) {
    char symbol[256];
    SymbolizeFrame(pc, symbol, sizeof(symbol));
    if (std::strstr(symbol, "AllocateFromNamedSite") != nullptr) {
      named_site_found = true;
    }
  }
  EXPECT_TRUE(named_site_found) << "the allocating function is on the stack";
  // realloc moves the trace; free removes it.
  void* moved = Realloc(Domain::kMem, mem, 5000);
  EXPECT_TRUE(GetTrace(kTraceDefaultDomain,
                       reinterpret_cast<std::uintptr_t>(moved), &info));
  EXPECT_EQ(info.size, 5000u);
  Free(Domain::kRaw, raw);
  Free(Domain::kMem, moved);
  Free(Domain::kObj, obj);
  EXPECT_EQ(TraceCount(kTraceDefaultDomain), 0u);
}

TEST_F(TracemallocTest, PymallocFallbackToRawIsTracedOnce) {
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(4).ok());
  void* big = Malloc(Domain::kObj, 600);  // pymalloc hands it to raw
  EXPECT_EQ(TraceCount(kTraceDefaultDomain), 1u);
  EXPECT_EQ(TracedBytes(kTraceDefaultDomain), 600u);
  Free(Domain::kObj, big);
  EXPECT_EQ(TraceCount(kTraceDefaultDomain), 0u);
}

TEST_F(TracemallocTest, StopRestoresExactlyTheSavedAllocators) {
  const AllocatorTableSnapshot before = AllocatorTable::Global().Snapshot();
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(3).ok());
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() != before);
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(3).ok()) << "already: no-op";
  ASSERT_TRUE(Runtime::Get().StopTracemalloc().ok());
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before);
}

TEST_F(TracemallocTest, StopIsRefusedUnderAnotherHookAndChangesNothing) {
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(3).ok());
  static testing::CountingHook hook;
  ASSERT_TRUE(Runtime::Get()
                  .WrapAllocator(Domain::kObj, hook.allocator(), &hook.previous)
                  .ok());
  const AllocatorTableSnapshot before = AllocatorTable::Global().Snapshot();
  absl::Status status = Runtime::Get().StopTracemalloc();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("obj domain"), std::string::npos) << status;
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before);
  EXPECT_TRUE(IsTracing());
  ASSERT_TRUE(
      Runtime::Get().UnwrapAllocator(Domain::kObj, hook.allocator()).ok());
}

// Found by the fuzz target (tests/fuzz/regressions/): Reset and a new
// cycle's PreInitialize drop every hook, tracemalloc's too, and tracing must
// end with them: it used to stay "on" with no hook installed, so that stop
// was refused forever and start installed nothing.
TEST(TracemallocLifecycleTest, DroppingTheHooksEndsTracing) {
  Runtime& runtime = Runtime::Get();
  interp::RuntimeConfig config;
  config.allocator = "pymalloc";
  config.use_environment = false;
  // Reset in the pre-initialized state.
  testing::ResetRuntime();
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  ASSERT_TRUE(runtime.StartTracemalloc(1).ok());
  ASSERT_EQ(Track(5, 0x1000, 8), 0);
  ASSERT_TRUE(runtime.Reset().ok());
  EXPECT_FALSE(IsTracing());
  EXPECT_EQ(TraceCount(5), 0u) << "the traces go with tracing";
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  EXPECT_TRUE(runtime.StopTracemalloc().ok()) << "not tracing: a no-op";
  const AllocatorTableSnapshot before = AllocatorTable::Global().Snapshot();
  ASSERT_TRUE(runtime.StartTracemalloc(1).ok());
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() != before)
      << "start installs its hooks again";
  ASSERT_TRUE(runtime.StopTracemalloc().ok());
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before);
  // PreInitialize after Finalize (the hooks survive Finalize, not the next
  // cycle).
  ASSERT_TRUE(runtime.Initialize().ok());
  ASSERT_TRUE(runtime.StartTracemalloc(1).ok());
  ASSERT_TRUE(runtime.Finalize().ok());
  EXPECT_TRUE(IsTracing());
  ASSERT_TRUE(runtime.PreInitialize(config).ok());
  EXPECT_FALSE(IsTracing());
  ASSERT_TRUE(runtime.StartTracemalloc(1).ok());
  EXPECT_TRUE(IsTracing());
  ASSERT_TRUE(runtime.StopTracemalloc().ok());
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before);
  testing::ResetRuntime();
}

__attribute__((noinline)) void* SmallSite() { return Malloc(Domain::kMem, 8); }
__attribute__((noinline)) void* LargeSite() {
  return Malloc(Domain::kMem, 400);
}

// One call instruction per site, so that every block of a site has the same
// traceback whatever the optimizer does with loops.
__attribute__((noinline)) void AllocateRepeatedly(void* (*site)(), int times,
                                                  std::vector<void*>* out) {
  for (volatile int i = 0; i < times; i = i + 1) out->push_back(site());
}

TEST_F(TracemallocTest, TopSitesByBytesAndByCount) {
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(8).ok());
  std::vector<void*> blocks;
  blocks.reserve(12);
  AllocateRepeatedly(&SmallSite, 10, &blocks);
  AllocateRepeatedly(&LargeSite, 2, &blocks);
  const std::vector<SiteStats> by_bytes = TopSites(/*by_bytes=*/true, 2);
  const std::vector<SiteStats> by_count = TopSites(/*by_bytes=*/false, 2);
  ASSERT_EQ(by_bytes.size(), 2u);
  EXPECT_EQ(by_bytes[0].bytes, 800u);
  EXPECT_EQ(by_bytes[0].count, 2u);
  ASSERT_EQ(by_count.size(), 2u);
  EXPECT_EQ(by_count[0].count, 10u);
  EXPECT_EQ(by_count[0].bytes, 80u);
  for (void* p : blocks) Free(Domain::kMem, p);
}

TEST_F(TracemallocTest, LeakReportListsLeakedBlocksWithTracebacks) {
  ASSERT_TRUE(Runtime::Get().StartTracemalloc(8).ok());
  ASSERT_TRUE(ThreadState::Detach().ok());
  absl::StatusOr<interp::Interpreter*> leaky =
      Runtime::Get().CreateInterpreter();
  ASSERT_TRUE(leaky.ok());
  const std::int64_t id = (*leaky)->id();
  void* leaked = nullptr;
  {
    interp::ScopedAttach attach(*leaky);
    leaked = AllocateFromNamedSite(72);
  }
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*leaky).ok());
  const std::string report = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(report.find("interpheap: interpreter " + std::to_string(id) +
                        " destroyed with 1 live block(s)"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("Leaked block of 72 bytes at "), std::string::npos);
  EXPECT_NE(report.find("AllocateFromNamedSite"), std::string::npos) << report;
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  Free(Domain::kObj, leaked);  // a leaked pointer stays valid and freeable
}

TEST_F(TracemallocDebugDeathTest, DumpShowsTheAllocationTraceback) {
  EXPECT_DEATH(
      {
        if (!Runtime::Get().StartTracemalloc(8).ok()) std::abort();
        auto* p = static_cast<char*>(AllocateFromNamedSite(16));
        p[16] = 'x';
        Free(Domain::kObj, p);
      },
      "    Data at p: cd cd cd cd cd cd cd cd cd cd cd cd cd cd cd cd\n\n"
      "Memory block allocated at \\(most recent call first\\):\n"
      "(.|\n)*AllocateFromNamedSite(.|\n)*"
      "_PyMem_DebugRawFree: bad trailing pad byte");
}

TEST_F(TracemallocDebugDeathTest, DumpWithoutTracingAsksToEnableIt) {
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(Malloc(Domain::kObj, 16));
        p[16] = 'x';
        Free(Domain::kObj, p);
      },
      "\n\nEnable tracemalloc to get the memory block allocation traceback\n"
      "\n");
}

}  // namespace
}  // namespace interpheap::alloc
