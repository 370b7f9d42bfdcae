// Debug hooks: CPython's block layout, fill bytes, validation order, dump
// text and fatal messages; the exact lock and owner checks; idempotent
// setup; the lifecycle refusals.

#include "alloc/hooks/debug_hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "alloc/config.h"
#include "alloc/domain.h"
#include "alloc/fatal.h"
#include "alloc/pymalloc/pymalloc.h"
#include "gtest/gtest.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "tests/testing/counting_hook.h"
#include "tests/testing/runtime_testing.h"

namespace interpheap::alloc {
namespace {

using interp::Runtime;
using interp::ThreadState;

// A pointer as printed by %p, as a regex.
constexpr char kPtr[] = "(0x)?[0-9a-fA-F]+";

std::string TrailingOverflowDump(const char* api) {
  return std::string("Debug memory block at address p=") + kPtr + ": API '" +
         api +
         "'\n"
         "    16 bytes originally requested\n"
         "    The 7 pad bytes at p-7 are FORBIDDENBYTE, as expected.\n"
         "    The 8 pad bytes at tail=" +
         kPtr +
         " are not all FORBIDDENBYTE \\(0xfd\\):\n"
         "        at tail\\+0: 0x78 \\*\\*\\* OUCH\n"
         "        at tail\\+1: 0xfd\n"
         "        at tail\\+2: 0xfd\n"
         "        at tail\\+3: 0xfd\n"
         "        at tail\\+4: 0xfd\n"
         "        at tail\\+5: 0xfd\n"
         "        at tail\\+6: 0xfd\n"
         "        at tail\\+7: 0xfd\n"
         "    Data at p: cd cd cd cd cd cd cd cd cd cd cd cd cd cd cd cd\n"
         "\n"
         "Enable tracemalloc to get the memory block allocation traceback\n"
         "\n";
}

// Reads what `write_dump` writes to a file descriptor.
template <typename F>
std::string Captured(F write_dump) {
  char path[] = "/tmp/interpheap_dump_XXXXXX";
  const int fd = mkstemp(path);
  write_dump(fd);
  std::string text;
  lseek(fd, 0, SEEK_SET);
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  unlink(path);
  return text;
}

class DebugHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::InitializeRuntime("pymalloc_debug");
    ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  }
  void TearDown() override { testing::ResetRuntime(); }
};
using DebugHooksDeathTest = DebugHooksTest;

TEST_F(DebugHooksDeathTest, OneByteOverflowFoundByFree) {
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(Malloc(Domain::kMem, 16));
        p[16] = 'x';
        Free(Domain::kMem, p);
      },
      TrailingOverflowDump("m") +
          "interpheap: fatal error: _PyMem_DebugRawFree: bad trailing pad "
          "byte");
}

TEST_F(DebugHooksDeathTest, OverflowFoundByRealloc) {
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(Malloc(Domain::kObj, 16));
        p[16] = 'x';
        Realloc(Domain::kObj, p, 32);
      },
      TrailingOverflowDump("o") +
          "interpheap: fatal error: _PyMem_DebugRawRealloc: bad trailing pad "
          "byte");
}

TEST_F(DebugHooksDeathTest, MemBlockFreedWithRawFree) {
  EXPECT_DEATH(Free(Domain::kRaw, Malloc(Domain::kMem, 16)),
               "_PyMem_DebugRawFree: bad ID: Allocated using API 'm', "
               "verified using API 'r'");
}

TEST_F(DebugHooksDeathTest, MemBlockFreedWithObjFree) {
  EXPECT_DEATH(Free(Domain::kObj, Malloc(Domain::kMem, 16)),
               "Debug memory block at address p=.*: API 'm'\n(.|\n)*"
               "_PyMem_DebugRawFree: bad ID: Allocated using API 'm', "
               "verified using API 'o'");
}

TEST_F(DebugHooksDeathTest, UnderflowReportsLeadingPadWithCaution) {
  EXPECT_DEATH(
      {
        auto* p = static_cast<unsigned char*>(Malloc(Domain::kMem, 16));
        p[-1] = 0x41;
        Free(Domain::kMem, p);
      },
      std::string("    The 7 pad bytes at p-7 are not all FORBIDDENBYTE "
                  "\\(0xfd\\):\n"
                  "        at p-7: 0xfd\n"
                  "        at p-6: 0xfd\n"
                  "        at p-5: 0xfd\n"
                  "        at p-4: 0xfd\n"
                  "        at p-3: 0xfd\n"
                  "        at p-2: 0xfd\n"
                  "        at p-1: 0x41 \\*\\*\\* OUCH\n"
                  "    Because memory is corrupted at the start, the count of "
                  "bytes requested\n"
                  "       may be bogus, and checking the trailing pad bytes "
                  "may segfault.\n"
                  "    The 8 pad bytes at tail=") +
          kPtr +
          " are FORBIDDENBYTE, as expected.\n(.|\n)*"
          "_PyMem_DebugRawFree: bad leading pad byte");
}

TEST_F(DebugHooksDeathTest, MemCallWithoutTheLockDies) {
  ASSERT_TRUE(ThreadState::Detach().ok());
  EXPECT_DEATH(Malloc(Domain::kMem, 8),
               "_PyMem_DebugMalloc: Python memory allocator called without "
               "holding the GIL");
  EXPECT_DEATH(Calloc(Domain::kObj, 1, 8),
               "_PyMem_DebugCalloc: Python memory allocator called without "
               "holding the GIL");
  EXPECT_DEATH(Free(Domain::kObj, nullptr),
               "_PyMem_DebugFree: Python memory allocator called without "
               "holding the GIL");
}

TEST_F(DebugHooksDeathTest, LockOfAnotherInterpreterDoesNotCount) {
  // Holding some lock is not enough: it must be the current interpreter's.
  absl::StatusOr<interp::Interpreter*> other =
      Runtime::Get().CreateInterpreter();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(ThreadState::Detach().ok());
  EXPECT_DEATH(
      {
        (*other)->lock().LockAcrossScopes();  // held, but not attached there
        Malloc(Domain::kMem, 8);
      },
      "_PyMem_DebugMalloc: Python memory allocator called without holding "
      "the GIL");
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*other).ok());
}

TEST_F(DebugHooksDeathTest, RawDomainIsNeverLockChecked) {
  ASSERT_TRUE(ThreadState::Detach().ok());
  void* p = Malloc(Domain::kRaw, 8);
  ASSERT_NE(p, nullptr);
  Free(Domain::kRaw, p);
}

TEST_F(DebugHooksDeathTest, CrossInterpreterFreeNamesBothInterpreters) {
  absl::StatusOr<interp::Interpreter*> other =
      Runtime::Get().CreateInterpreter();
  ASSERT_TRUE(other.ok());
  void* p = Malloc(Domain::kObj, 32);
  ASSERT_TRUE(ThreadState::Detach().ok());
  EXPECT_DEATH(
      {
        ASSERT_TRUE(ThreadState::Attach(*other).ok());
        Free(Domain::kObj, p);
      },
      "_PyMem_DebugFree: cross-interpreter free: the block was allocated by "
      "interpreter 0 and is freed under interpreter [1-9][0-9]*");
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  Free(Domain::kObj, p);
  ASSERT_TRUE(ThreadState::Detach().ok());
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*other).ok());
}

// Issue "bad input and debug mode", item 8: a main-interpreter block of an
// earlier runtime cycle freed under the next cycle's main interpreter is
// named as such. Before: "the block was allocated by interpreter 0 and is
// freed under interpreter 0". (The cycle numbers are a pattern: a death
// test's child re-runs the test in a fresh process, where the cycles are
// counted from 1 again.)
TEST(DebugHooksCycleDeathTest, BlockOfAnEarlierCycleNamesTheCycle) {
  testing::InitializeRuntime("pymalloc_debug");
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  void* p = Malloc(Domain::kObj, 32);
  const std::uint64_t first_cycle = RuntimeCycle();
  testing::InitializeRuntime("pymalloc_debug");  // finalize, reset, again
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  EXPECT_EQ(RuntimeCycle(), first_cycle + 1);
  EXPECT_DEATH(Free(Domain::kObj, p),
               "interpheap: fatal error: _PyMem_DebugFree: cross-interpreter "
               "free: the block was allocated by interpreter 0 of an earlier "
               "runtime cycle \\(cycle [0-9]+, finalized\\) and is freed "
               "under interpreter 0 of cycle [0-9]+\n");
  EXPECT_DEATH(Realloc(Domain::kObj, p, 64),
               "_PyMem_DebugRealloc: cross-interpreter free: the block was "
               "allocated by interpreter 0 of an earlier runtime cycle");
  // Reported, the block goes home to the earlier cycle's heap.
  SetCrossInterpreterFreePolicy(CrossInterpreterFreePolicy::kReport);
  const std::int64_t reported = CrossInterpreterFrees();
  Free(Domain::kObj, p);
  EXPECT_EQ(CrossInterpreterFrees(), reported + 1);
  SetCrossInterpreterFreePolicy(CrossInterpreterFreePolicy::kFatal);
  testing::ResetRuntime();
}

// Issue 11 item 6: misuse that used to die by SIGSEGV inside the dump is
// named, through the fatal handler, before any byte at p is read. Under
// both configurations whose hooks see every block.
class DebugMisuseDeathTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    testing::InitializeRuntime(GetParam());
    ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  }
  void TearDown() override { testing::ResetRuntime(); }
};

TEST_P(DebugMisuseDeathTest, DoubleFree) {
  void* p = Malloc(Domain::kMem, 16);
  Free(Domain::kMem, p);
  EXPECT_DEATH(Free(Domain::kMem, p),
               "interpheap: fatal error: _PyMem_DebugFree: double free: the "
               "block was already freed\n");
  EXPECT_DEATH(Free(Domain::kRaw, p),
               "_PyMem_DebugRawFree: double free: the block was already "
               "freed\n");
}

TEST_P(DebugMisuseDeathTest, ReallocOfAFreedBlock) {
  void* p = Malloc(Domain::kObj, 16);
  Free(Domain::kObj, p);
  EXPECT_DEATH(Realloc(Domain::kObj, p, 64),
               "interpheap: fatal error: _PyMem_DebugRealloc: realloc of a "
               "freed block \\(use after free\\)\n");
}

TEST_P(DebugMisuseDeathTest, InteriorPointer) {
  auto* p = static_cast<char*>(Malloc(Domain::kObj, 64));
  const bool pymalloc = std::string(GetParam()) == "pymalloc_debug";
  EXPECT_DEATH(Free(Domain::kObj, p + 16),
               pymalloc ? "_PyMem_DebugFree: pointer not allocated by the "
                          "debug hooks \\(inside a pymalloc arena but not a "
                          "block's start: an interior pointer\\)\n"
                        : "_PyMem_DebugFree: pointer not allocated by the "
                          "debug hooks\n");
  Free(Domain::kObj, p);
}

TEST_P(DebugMisuseDeathTest, MisalignedPointer) {
  auto* p = static_cast<char*>(Malloc(Domain::kMem, 64));
  EXPECT_DEATH(Realloc(Domain::kMem, p + 1, 8),
               "_PyMem_DebugRealloc: pointer not allocated by the debug hooks "
               "\\(misaligned\\)\n");
  Free(Domain::kMem, p);
}

TEST_P(DebugMisuseDeathTest, ForeignPointer) {
  alignas(16) static char foreign[64];
  EXPECT_DEATH(Free(Domain::kMem, foreign + 16),
               "_PyMem_DebugFree: pointer not allocated by the debug hooks\n");
  EXPECT_DEATH(Free(Domain::kRaw, foreign + 16),
               "_PyMem_DebugRawFree: pointer not allocated by the debug "
               "hooks\n");
}

TEST_P(DebugMisuseDeathTest, PointerIntoAFreedArena) {
  absl::StatusOr<interp::Interpreter*> other =
      Runtime::Get().CreateInterpreter();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(ThreadState::Detach().ok());
  ASSERT_TRUE(ThreadState::Attach(*other).ok());
  auto* p = static_cast<char*>(Malloc(Domain::kObj, 32));
  Free(Domain::kObj, p);
  ASSERT_TRUE(ThreadState::Detach().ok());
  ASSERT_TRUE(Runtime::Get().DestroyInterpreter(*other).ok());
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  EXPECT_DEATH(Free(Domain::kObj, p),
               "_PyMem_DebugFree: double free: the block was already freed\n");
  EXPECT_DEATH(Free(Domain::kObj, p + 16),
               "_PyMem_DebugFree: pointer not allocated by the debug hooks\n");
}

TEST_P(DebugMisuseDeathTest, DumpOfAPointerThatIsNoBlockReadsNothing) {
  void* p = Malloc(Domain::kMem, 16);
  Free(Domain::kMem, p);
  EXPECT_NE(Captured([&](int fd) {
              DumpDebugBlock(fd, p);
            }).find(": freed by the debug hooks; not read\n"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Configurations, DebugMisuseDeathTest,
                         ::testing::Values("pymalloc_debug", "malloc_debug"));

void CustomHandler(const char* function, const char* message) {
  char line[256];
  const int n = std::snprintf(
      line, sizeof(line), "Fatal Python error: %s: %s\n", function, message);
  WriteFully(2, line, static_cast<std::size_t>(n));
}

TEST_F(DebugHooksDeathTest, FatalHandlerIsPluggable) {
  EXPECT_DEATH(
      {
        SetFatalHandler(&CustomHandler);
        Free(Domain::kRaw, Malloc(Domain::kObj, 8));
      },
      "\nFatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using "
      "API 'o', verified using API 'r'\n");
}

TEST_F(DebugHooksTest, BlockLayoutAndFillBytes) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kMem, 20));
  ASSERT_NE(p, nullptr);
  const unsigned char* q = p - 16;
  // Size, big-endian.
  for (int i = 0; i < 7; ++i) EXPECT_EQ(q[i], 0) << i;
  EXPECT_EQ(q[7], 20);
  EXPECT_EQ(q[8], 'm');
  for (int i = 9; i < 16; ++i) EXPECT_EQ(q[i], kForbiddenByte) << i;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p[i], kCleanByte) << i;
  for (int i = 20; i < 28; ++i) EXPECT_EQ(p[i], kForbiddenByte) << i;
  // Growth is clean, the old data is kept, the decorations move.
  std::memset(p, 0x11, 20);
  p = static_cast<unsigned char*>(Realloc(Domain::kMem, p, 200));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p[i], 0x11) << i;
  for (int i = 20; i < 200; ++i) EXPECT_EQ(p[i], kCleanByte) << i;
  for (int i = 200; i < 208; ++i) EXPECT_EQ(p[i], kForbiddenByte) << i;
  EXPECT_EQ((p - 16)[7], 200);
  Free(Domain::kMem, p);

  auto* z = static_cast<unsigned char*>(Calloc(Domain::kObj, 4, 4));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(z[i], 0) << "calloc stays zero";
  EXPECT_EQ((z - 16)[8], 'o');
  Free(Domain::kObj, z);
}

// The form a caller uses when it knows pymalloc is below (pyhost): the
// same blocks from the current heap, the same record, the same checks.
TEST_F(DebugHooksTest, OverPymallocFormMakesTheSameBlocks) {
  const Allocator hook = DebugHookOverPymalloc(Domain::kObj);
  EXPECT_EQ(hook.ctx, DebugHook(Domain::kObj).ctx);
  EXPECT_TRUE(IsDebugHook(hook));
  Heap* const heap = CurrentHeap();
  heap->guard().AssumeHeld();  // attached: the interpreter's lock
  const std::int64_t before = heap->PoolBlocks();
  auto* p = static_cast<unsigned char*>(hook.malloc(hook.ctx, 20));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(heap->PoolBlocks(), before + 1);  // the current heap's
  EXPECT_EQ((p - 16)[7], 20);
  EXPECT_EQ((p - 16)[8], 'o');
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p[i], kCleanByte) << i;
  for (int i = 20; i < 28; ++i) EXPECT_EQ(p[i], kForbiddenByte) << i;
  // A block of one form is a block of the other.
  void* q = Realloc(Domain::kObj, p, 40);
  ASSERT_NE(q, nullptr);
  hook.free(hook.ctx, q);
  EXPECT_EQ(heap->PoolBlocks(), before);
  void* r = Malloc(Domain::kObj, 24);
  hook.free(hook.ctx, r);
  EXPECT_EQ(heap->PoolBlocks(), before);
  // The raw domain has no such form.
  EXPECT_TRUE(SameAllocator(DebugHookOverPymalloc(Domain::kRaw),
                            DebugHook(Domain::kRaw)));
}

TEST_F(DebugHooksDeathTest, OverPymallocFormKeepsEveryCheck) {
  const Allocator hook = DebugHookOverPymalloc(Domain::kMem);
  void* p = hook.malloc(hook.ctx, 16);
  hook.free(hook.ctx, p);
  EXPECT_DEATH(hook.free(hook.ctx, p),
               "interpheap: fatal error: _PyMem_DebugFree: double free: the "
               "block was already freed\n");
  EXPECT_DEATH(
      {
        auto* b = static_cast<char*>(hook.malloc(hook.ctx, 16));
        b[16] = 'x';
        hook.free(hook.ctx, b);
      },
      "_PyMem_DebugRawFree: bad trailing pad byte");
  ASSERT_TRUE(ThreadState::Detach().ok());
  EXPECT_DEATH(hook.malloc(hook.ctx, 8),
               "_PyMem_DebugMalloc: Python memory allocator called without "
               "holding the GIL");
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
}

TEST_F(DebugHooksTest, ReallocPreservesDataAcrossLongBlocks) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kObj, 300));
  for (int i = 0; i < 300; ++i) p[i] = static_cast<unsigned char>(i * 7);
  p = static_cast<unsigned char*>(Realloc(Domain::kObj, p, 5000));
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(p[i], static_cast<unsigned char>(i * 7)) << i;
  p = static_cast<unsigned char*>(Realloc(Domain::kObj, p, 100));
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(p[i], static_cast<unsigned char>(i * 7)) << i;
  EXPECT_EQ(p[100], kForbiddenByte);
  Free(Domain::kObj, p);
}

TEST_F(DebugHooksTest, FailedReallocKeepsTheBlockIntact) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kMem, 200));
  for (int i = 0; i < 200; ++i) p[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(Realloc(Domain::kMem, p, kMaxRequest - 100), nullptr);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(p[i], i) << i;
  EXPECT_EQ(p[200], kForbiddenByte);
  EXPECT_EQ((p - 16)[8], 'm');
  Free(Domain::kMem, p);  // still a valid debug block: no fatal error
}

TEST_F(DebugHooksTest, DataLineShowsAllOf16Bytes) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kMem, 16));
  for (int i = 0; i < 16; ++i) p[i] = static_cast<unsigned char>(i);
  const std::string dump = Captured([&](int fd) { DumpDebugBlock(fd, p); });
  EXPECT_NE(dump.find("    Data at p: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c "
                      "0d 0e 0f\n\n"),
            std::string::npos)
      << dump;
  Free(Domain::kMem, p);
}

TEST_F(DebugHooksTest, DataLineElidesTheMiddleOf40Bytes) {
  auto* p = static_cast<unsigned char*>(Malloc(Domain::kMem, 40));
  for (int i = 0; i < 40; ++i) p[i] = static_cast<unsigned char>(i);
  const std::string dump = Captured([&](int fd) { DumpDebugBlock(fd, p); });
  EXPECT_NE(dump.find("    Data at p: 00 01 02 03 04 05 06 07 ... 20 21 22 23 "
                      "24 25 26 27\n"),
            std::string::npos)
      << dump;
  EXPECT_NE(dump.find("    40 bytes originally requested\n"),
            std::string::npos);
  Free(Domain::kMem, p);
}

TEST_F(DebugHooksTest, NullPointerDumpIsOneLine) {
  EXPECT_EQ(Captured([](int fd) { DumpDebugBlock(fd, nullptr); }),
            Captured([](int fd) {
              char line[64];
              const int n = std::snprintf(
                  line, sizeof(line), "Debug memory block at address p=%p:\n",
                  static_cast<void*>(nullptr));
              WriteFully(fd, line, static_cast<std::size_t>(n));
            }));
}

TEST_F(DebugHooksTest, SetupIsIdempotentAlsoUnderAnotherHook) {
  AllocatorTable& table = AllocatorTable::Global();
  static testing::CountingHook hook;
  ASSERT_TRUE(Runtime::Get()
                  .WrapAllocator(Domain::kMem, hook.allocator(), &hook.previous)
                  .ok());
  ASSERT_TRUE(Runtime::Get().SetupDebugHooks().ok());
  ASSERT_TRUE(Runtime::Get().SetupDebugHooks().ok());
  for (Domain domain : kAllDomains) {
    int debug_layers = 0;
    const AllocatorTableSnapshot snapshot = table.Snapshot();
    const auto& stack = snapshot.stacks[static_cast<int>(domain)];
    for (int i = 0; i < stack.depth; ++i) {
      if (IsDebugHook(stack.layers[i])) ++debug_layers;
    }
    EXPECT_EQ(debug_layers, 1) << DomainName(domain);
  }
  ASSERT_TRUE(
      Runtime::Get().UnwrapAllocator(Domain::kMem, hook.allocator()).ok());
}

TEST_F(DebugHooksTest, DebugHooksCannotBeUnwrapped) {
  absl::Status status =
      Runtime::Get().UnwrapAllocator(Domain::kObj, DebugHook(Domain::kObj));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("live blocks carry their debug header"),
            std::string::npos);
}

// Issue 11 item 4: after initialization the hooks go on whatever is live,
// in every domain, and pass the blocks they never handed out down.
TEST(DebugHooksSetupTest, AfterInitBlocksWithoutHeaderArePassedDown) {
  for (const char* name : {"pymalloc", "malloc"}) {
    testing::InitializeRuntime(name);
    ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
    void* obj = Malloc(Domain::kObj, 24);
    void* raw = Malloc(Domain::kRaw, 24);
    void* mem = Malloc(Domain::kMem, 24);
    ASSERT_TRUE(Runtime::Get().SetupDebugHooks().ok()) << name;
    void* p = Malloc(Domain::kObj, 24);
    EXPECT_EQ(static_cast<unsigned char*>(p)[0], kCleanByte);
    Free(Domain::kObj, obj);
    Free(Domain::kRaw, raw);
    mem = Realloc(Domain::kMem, mem, 4000);
    ASSERT_NE(mem, nullptr);
    Free(Domain::kMem, mem);
    Free(Domain::kObj, p);
    testing::ResetRuntime();
  }
}

// A raw base allocator over one static buffer whose answers the tests
// choose: malloc hands out the buffer at `slot_offset` (or fails when
// `slot_malloc_fails`), realloc moves to `slot_realloc_target`, free records
// the pointer. It lets a test put a block without a debug header exactly
// where the debug hooks once freed one of theirs.
alignas(64) unsigned char slot_memory[512];
std::size_t slot_offset = 0;
std::size_t slot_realloc_target = 0;
bool slot_malloc_fails = false;
void* slot_last_freed = nullptr;

void* SlotMalloc(void*, std::size_t n) {
  if (slot_malloc_fails || slot_offset + n > sizeof(slot_memory)) {
    return nullptr;
  }
  return slot_memory + slot_offset;
}
void* SlotCalloc(void*, std::size_t nelem, std::size_t elsize) {
  void* p = SlotMalloc(nullptr, nelem * elsize);
  if (p != nullptr) std::memset(p, 0, nelem * elsize);
  return p;
}
void* SlotRealloc(void*, void* p, std::size_t n) {
  if (p == nullptr) return SlotMalloc(nullptr, n);
  unsigned char* moved = slot_memory + slot_realloc_target;
  std::memmove(moved, p, n);
  return moved;
}
void SlotFree(void*, void* p) { slot_last_freed = p; }
constexpr ih_allocator_t kSlotAllocator = {nullptr, SlotMalloc, SlotCalloc,
                                           SlotRealloc, SlotFree};

void PreInitializeWithSlotRaw() {
  testing::ResetRuntime();
  interp::RuntimeConfig config;
  config.allocator = "malloc";
  config.use_environment = false;
  ASSERT_TRUE(Runtime::Get().PreInitialize(config).ok());
  ASSERT_TRUE(
      Runtime::Get().ReplaceAllocator(Domain::kRaw, kSlotAllocator).ok());
  slot_offset = 0;
  slot_realloc_target = 0;
  slot_malloc_fails = false;
  slot_last_freed = nullptr;
}

// Found by the fuzz target (tests/fuzz/regressions/): the hooks remember
// the blocks they freed, to name a double free. Set up after the fact, they
// pass blocks they never made down; a block the allocator below handed out
// since at an address where an earlier debug period freed one of theirs
// used to die as a "double free" instead.
TEST(DebugHooksSetupTest, BlockAtAnAddressFreedInAnEarlierPeriodIsPassedDown) {
  PreInitializeWithSlotRaw();
  ASSERT_TRUE(Runtime::Get().SetupDebugHooks().ok());
  void* debug_block = Malloc(Domain::kRaw, 8);
  ASSERT_EQ(debug_block, slot_memory + 16);
  Free(Domain::kRaw, debug_block);
  ASSERT_EQ(slot_last_freed, slot_memory);
  // A new period: no hooks while the allocator below hands out that address.
  PreInitializeWithSlotRaw();
  slot_offset = 16;
  void* plain = Malloc(Domain::kRaw, 8);
  ASSERT_EQ(plain, slot_memory + 16);
  ASSERT_TRUE(Runtime::Get().SetupDebugHooks().ok());
  Free(Domain::kRaw, plain);
  EXPECT_EQ(slot_last_freed, plain) << "passed down";
  testing::ResetRuntime();
}

// Found by the fuzz target (tests/fuzz/regressions/
// debug_realloc_unknown_returns_raw_block): a realloc of a block the hooks
// never made used to resize it below first and, when the new debug block
// could not be had, return the resized block as it was. Under pymalloc that
// block can be a raw fallback carrying the raw hook's header, so freeing it
// through mem died with "bad ID: Allocated using API 'r', verified using
// API 'm'". Now the new block comes first and any failure leaves the old
// block as it was. Every fault point of the realloc is tried.
TEST(DebugHooksSetupTest,
     ReallocOfAPassedDownBlockFailsCleanlyAtEveryFaultPoint) {
  testing::InitializeRuntime("pymalloc");
  Runtime& runtime = Runtime::Get();
  ASSERT_TRUE(ThreadState::Attach(runtime.main_interpreter()).ok());
  constexpr int kPoints = 6;
  unsigned char* plain[kPoints];
  for (int i = 0; i < kPoints; ++i) {
    plain[i] = static_cast<unsigned char*>(Malloc(Domain::kMem, 2));
    plain[i][0] = static_cast<unsigned char>('a' + i);
    plain[i][1] = static_cast<unsigned char>('A' + i);
  }
  // Fault injection under the debug hooks, so that it counts their calls to
  // the allocator below (and pymalloc's raw fallbacks) one by one.
  constexpr std::int64_t kNever = std::int64_t{1} << 40;
  ASSERT_TRUE(runtime.SetNoMemory(kNever).ok());
  ASSERT_TRUE(runtime.SetupDebugHooks().ok());
  int failed = 0;
  for (int i = 0; i < kPoints; ++i) {
    ASSERT_TRUE(runtime.SetNoMemory(i, i + 1).ok());  // call i + 1 fails
    // To 0 bytes: pymalloc moves the block to a raw fallback.
    void* resized = Realloc(Domain::kMem, plain[i], 0);
    ASSERT_TRUE(runtime.SetNoMemory(kNever).ok());
    if (resized == nullptr) {
      ++failed;
      EXPECT_EQ(plain[i][0], 'a' + i) << "fault point " << i;
      EXPECT_EQ(plain[i][1], 'A' + i) << "fault point " << i;
      Free(Domain::kMem, plain[i]);
    } else {
      Free(Domain::kMem, resized);
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_LT(failed, kPoints);
  ASSERT_TRUE(ThreadState::Detach().ok());
  testing::ResetRuntime();
}

// Issue 11 item 1: a refused setup leaves no debug hook on raw or mem.
TEST(DebugHooksSetupTest, RefusedSetupChangesNothing) {
  testing::ResetRuntime();
  interp::RuntimeConfig config;
  config.allocator = "pymalloc";
  config.use_environment = false;
  ASSERT_TRUE(Runtime::Get().PreInitialize(config).ok());
  static testing::CountingHook hooks[AllocatorTable::kMaxHooks];
  for (testing::CountingHook& hook : hooks) {
    ASSERT_TRUE(
        Runtime::Get()
            .WrapAllocator(Domain::kObj, hook.allocator(), &hook.previous)
            .ok());
  }
  DebugHookOptions serial;
  serial.serial_numbers = true;
  const AllocatorTableSnapshot before = AllocatorTable::Global().Snapshot();
  absl::Status status = Runtime::Get().SetupDebugHooks(serial);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(),
            "wrap refused: the obj domain already has 16 hooks (the maximum)");
  EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before)
      << "raw and mem must not keep their debug hooks";
  EXPECT_FALSE(GetDebugHookOptions().serial_numbers);
  for (int i = AllocatorTable::kMaxHooks - 1; i >= 0; --i) {
    ASSERT_TRUE(Runtime::Get()
                    .UnwrapAllocator(Domain::kObj, hooks[i].allocator())
                    .ok());
  }
  testing::ResetRuntime();
}

// Issue 11 item 3: after initialization, setting up hooks that a *_debug
// configuration already installed succeeds and changes nothing, as
// CPython's PyMem_SetupDebugHooks.
TEST(DebugHooksSetupTest, AfterInitIdempotentUnderDebugConfigurations) {
  for (const char* name :
       {"malloc_debug", "pymalloc_debug", "mimalloc_debug"}) {
    if (!ParseNamedConfig(name).ok() ||
        !BaseAllocators(*ParseNamedConfig(name)).ok()) {
      continue;  // mimalloc not built in
    }
    testing::InitializeRuntime(name);
    const AllocatorTableSnapshot before = AllocatorTable::Global().Snapshot();
    EXPECT_TRUE(Runtime::Get().SetupDebugHooks().ok()) << name;
    EXPECT_TRUE(AllocatorTable::Global().Snapshot() == before) << name;
    testing::ResetRuntime();
  }
}

// A raw base allocator that puts an 8-byte canary right after each block
// and checks it on free: it finds a write past a block without ASan.
struct CanaryAllocator {
  static constexpr std::uint64_t kCanary = 0x5AFE5AFE5AFE5AFEull;
  static inline std::atomic<int> overruns{0};
  static void* Malloc(void*, std::size_t n) {
    auto* base = static_cast<unsigned char*>(std::malloc(16 + n + 8));
    if (base == nullptr) return nullptr;
    std::memcpy(base, &n, sizeof(n));
    std::memcpy(base + 16 + n, &kCanary, 8);
    return base + 16;
  }
  static void* Calloc(void* ctx, std::size_t nelem, std::size_t elsize) {
    void* p = Malloc(ctx, nelem * elsize);
    if (p != nullptr) std::memset(p, 0, nelem * elsize);
    return p;
  }
  static void Free(void*, void* p) {
    if (p == nullptr) return;
    auto* base = static_cast<unsigned char*>(p) - 16;
    std::size_t n;
    std::memcpy(&n, base, sizeof(n));
    std::uint64_t canary;
    std::memcpy(&canary, base + 16 + n, 8);
    if (canary != kCanary) overruns.fetch_add(1);
    std::free(base);
  }
  static void* Realloc(void* ctx, void* p, std::size_t n) {
    void* fresh = Malloc(ctx, n);
    if (fresh == nullptr || p == nullptr) return fresh;
    std::size_t old;
    std::memcpy(&old, static_cast<unsigned char*>(p) - 16, sizeof(old));
    std::memcpy(fresh, p, std::min(old, n));
    Free(ctx, p);
    return fresh;
  }
  static ih_allocator_t Get() {
    return {nullptr, &Malloc, &Calloc, &Realloc, &Free};
  }
};

// Pre-initializes "malloc" with the canary allocator as raw base and debug
// hooks with `serial_numbers`, then initializes.
void StartCanaryCycle(bool serial_numbers) {
  testing::ResetRuntime();
  interp::RuntimeConfig config;
  config.allocator = "malloc";
  config.use_environment = false;
  ASSERT_TRUE(Runtime::Get().PreInitialize(config).ok());
  ASSERT_TRUE(Runtime::Get()
                  .ReplaceAllocator(Domain::kRaw, CanaryAllocator::Get())
                  .ok());
  DebugHookOptions options;
  options.serial_numbers = serial_numbers;
  ASSERT_TRUE(Runtime::Get().SetupDebugHooks(options).ok());
  ASSERT_TRUE(Runtime::Get().Initialize().ok());
}

// Issue 11 item 5: a block keeps its own layout across cycles. Freeing a
// block made without serial numbers under hooks with serial numbers (and
// the reverse) writes nothing past it, and reallocating it keeps its data.
TEST(DebugHooksSetupTest, BlockFromAnEarlierCycleKeepsItsLayout) {
  for (bool first_serial : {false, true}) {
    CanaryAllocator::overruns = 0;
    StartCanaryCycle(first_serial);
    void* freed = Malloc(Domain::kRaw, 16);
    void* resized = Malloc(Domain::kRaw, 16);
    std::memset(resized, 'x', 16);
    StartCanaryCycle(!first_serial);
    Free(Domain::kRaw, freed);
    void* moved = Realloc(Domain::kRaw, resized, 32);
    ASSERT_NE(moved, nullptr);
    EXPECT_EQ(std::string(static_cast<char*>(moved), 16), std::string(16, 'x'));
    Free(Domain::kRaw, moved);
    EXPECT_EQ(CanaryAllocator::overruns.load(), 0)
        << "first cycle with serial numbers: " << first_serial;
  }
  testing::ResetRuntime();
  SetDebugHookOptions({});
}

TEST(DebugHooksSetupTest, SerialNumbersAreAnOption) {
  testing::ResetRuntime();
  interp::RuntimeConfig config;
  config.allocator = "pymalloc";
  config.use_environment = false;
  ASSERT_TRUE(Runtime::Get().PreInitialize(config).ok());
  DebugHookOptions options;
  options.serial_numbers = true;
  ASSERT_TRUE(Runtime::Get().SetupDebugHooks(options).ok());
  EXPECT_EQ(Runtime::Get().SetupDebugHooks().code(),
            absl::StatusCode::kFailedPrecondition)
      << "the layout cannot change under live hooks";
  ASSERT_TRUE(Runtime::Get().Initialize().ok());
  ASSERT_TRUE(ThreadState::Attach(Runtime::Get().main_interpreter()).ok());
  void* first = Malloc(Domain::kMem, 8);
  void* second = Malloc(Domain::kMem, 8);
  const std::string dump =
      Captured([&](int fd) { DumpDebugBlock(fd, second); });
  EXPECT_NE(dump.find("    The block was made by call #"), std::string::npos)
      << dump;
  EXPECT_NE(dump.find(" to debug malloc/realloc.\n"), std::string::npos);
  Free(Domain::kMem, first);
  Free(Domain::kMem, second);
  testing::ResetRuntime();
  SetDebugHookOptions({});
}

}  // namespace
}  // namespace interpheap::alloc
