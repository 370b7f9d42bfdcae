#include "alloc/hooks/debug_hooks.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "absl/base/optimization.h"
#include "alloc/fatal.h"
#include "alloc/hooks/debug_block_set.h"
#include "alloc/hooks/forwarding_hook.h"
#include "alloc/hooks/tracemalloc.h"
#include "alloc/pymalloc/arena_map.h"
#include "alloc/pymalloc/pymalloc.h"
#include "alloc/pymalloc/pymalloc_allocator.h"

namespace interpheap::alloc {
namespace {

constexpr std::size_t S = sizeof(std::size_t);
static_assert(S == 8);
constexpr std::size_t kErasedSize = 64;

struct DebugContext {
  char api_id;
  Domain domain;
  HookLink wrapped;  // what the hook wraps
  // Set when the hook went on over a domain that may already hold blocks
  // without a debug header: a pointer the hooks never handed out is then
  // passed down instead of diagnosed.
  std::atomic<bool> pass_unknown_down;
};

DebugContext contexts[kDomainCount] = {
    {'r', Domain::kRaw, HookLink(Domain::kRaw), {false}},
    {'m', Domain::kMem, HookLink(Domain::kMem), {false}},
    {'o', Domain::kObj, HookLink(Domain::kObj), {false}},
};

std::atomic<bool> serial_numbers{false};
std::atomic<std::size_t> serial_counter{0};

std::atomic<LockHeldPredicate> lock_held{&DefaultLockHeld};
std::atomic<void (*)()> lock_check_pause{nullptr};

// Bytes a block adds to the request.
constexpr std::size_t ExtraBytes(bool with_serial) {
  return with_serial ? 4 * S : 3 * S;
}
// The current layout: serial numbers for new blocks or not.
bool SerialNumbers() { return serial_numbers.load(std::memory_order_relaxed); }
// Bytes a live block added (its own layout, recorded when it was made).
std::size_t ExtraBytes(const DebugBlockInfo& block) {
  return block.has_serial ? 4 * S : 3 * S;
}

void WriteBigEndian(unsigned char* at, std::size_t value) {
  const std::uint64_t big = __builtin_bswap64(value);
  std::memcpy(at, &big, S);
}

std::size_t ReadBigEndian(const unsigned char* at) {
  std::uint64_t big;
  std::memcpy(&big, at, S);
  return __builtin_bswap64(big);
}

constexpr std::uint64_t kForbiddenWord = 0xFDFDFDFDFDFDFDFDull;

std::uint64_t LoadWord(const unsigned char* at) {
  std::uint64_t word;
  std::memcpy(&word, at, S);
  return word;
}

// Writes header and pads around p[0:n] (three word stores), and the serial
// word `serial` when it is not 0.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void DecorateWithSerial(
    unsigned char* q, std::size_t n, char api_id, std::size_t serial) {
  WriteBigEndian(q, n);
  const std::uint64_t id_and_pads =
      (kForbiddenWord << 8) | static_cast<unsigned char>(api_id);
  std::memcpy(q + S, &id_and_pads, S);  // little-endian: the id byte first
  unsigned char* tail = q + 2 * S + n;
  std::memcpy(tail, &kForbiddenWord, S);
  if (serial != 0) WriteBigEndian(tail + S, serial);
}

// Decorates a new block in the current layout (`with_serial`: the
// serial_numbers value the caller read once for the call).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Decorate(unsigned char* q,
                                                  std::size_t n, char api_id,
                                                  bool with_serial) {
  DecorateWithSerial(
      q, n, api_id,
      ABSL_PREDICT_FALSE(with_serial)
          ? serial_counter.fetch_add(1, std::memory_order_relaxed) + 1
          : 0);
}

// A fixed buffer for dump lines: formatted with vsnprintf (which does not
// allocate for these formats) and written with write(2).
class DumpWriter {
 public:
  explicit DumpWriter(int fd) : fd_(fd) {}
  void Printf(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    char line[256];
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(line, sizeof(line), format, args);
    va_end(args);
    if (n > 0) {
      WriteFully(fd_, line,
                 std::min(static_cast<std::size_t>(n), sizeof(line) - 1));
    }
  }

 private:
  int fd_;
};

[[noreturn]] void DumpAndDie(const void* p, const char* function,
                             const char* message) {
  DumpDebugBlock(STDERR_FILENO, p);
  FatalError(function, message);
}

// A pointer the debug hooks cannot read through: not a live block they
// handed out. Names the case without touching the memory at p.
[[noreturn]] void DieNotLive(const char* function, const void* p,
                             const DebugBlockInfo& block, bool realloc) {
  if (block.state == DebugBlockState::kFreed) {
    FatalError(function, realloc ? "realloc of a freed block (use after free)"
                                 : "double free: the block was already freed");
  }
  if (reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t) != 0) {
    FatalError(function,
               "pointer not allocated by the debug hooks (misaligned)");
  }
  if (const Heap* owner = ArenaMap::Global().Owner(p); owner != nullptr) {
    std::size_t block_size;
    if (IsPoolBlockStart(owner, p, &block_size)) {
      FatalError(function,
                 "pointer not allocated by the debug hooks (a pymalloc block "
                 "they did not hand out: made before they were installed, "
                 "or under an earlier configuration)");
    }
    FatalError(function,
               "pointer not allocated by the debug hooks (inside a pymalloc "
               "arena but not a block's start: an interior pointer)");
  }
  FatalError(function, "pointer not allocated by the debug hooks");
}

// The cell of `p` if it is a live block of the debug hooks (its layout in
// *block); nullptr if it is unknown and `ctx` passes unknown pointers down;
// dies otherwise. One lookup: the free marks the same cell.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline DebugBlockSet::Cell* CheckLive(
    const char* function, DebugContext* ctx, const void* p, bool realloc,
    DebugBlockInfo* block) {
  DebugBlockSet::Cell* cell = DebugBlockSet::Global().CellFor(p);
  *block = cell == nullptr
               ? DebugBlockInfo{}
               : DebugBlockSet::Unpack(cell->load(std::memory_order_acquire));
  if (ABSL_PREDICT_TRUE(block->state == DebugBlockState::kLive)) return cell;
  if (block->state == DebugBlockState::kUnknown &&
      ctx->pass_unknown_down.load(std::memory_order_relaxed)) {
    return nullptr;
  }
  DieNotLive(function, p, *block, realloc);
}

// Marks the live block of `cell` freed. Another thread freeing the same
// block at the same time (a double free racing this one) finds it marked:
// exactly one of the two goes on, the other dies here.
// `block` is what CheckLive saw.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void MarkFreed(const char* function,
                                                   DebugBlockSet::Cell* cell,
                                                   const DebugBlockInfo& block,
                                                   const void* p,
                                                   bool realloc) {
  const DebugBlockInfo before = DebugBlockSet::TakeLive(
      cell, DebugBlockSet::Pack(DebugBlockState::kLive, block.has_serial));
  if (ABSL_PREDICT_FALSE(before.state != DebugBlockState::kLive)) {
    DieNotLive(function, p, before, realloc);
  }
}

// CheckAddress's diagnosis of a block whose words differ: byte by byte,
// in CPython's order, to report it exactly. Returns if all is well.
ABSL_ATTRIBUTE_NOINLINE void DiagnoseAddress(const char* function, char api_id,
                                             const void* p) {
  const auto* q = static_cast<const unsigned char*>(p);
  const char id = static_cast<char>(q[-static_cast<std::ptrdiff_t>(S)]);
  if (id != api_id) {
    char message[96];
    std::snprintf(message, sizeof(message),
                  "bad ID: Allocated using API '%c', verified using API '%c'",
                  id, api_id);
    DumpAndDie(p, function, message);
  }
  for (std::size_t i = 1; i <= S - 1; ++i) {
    if (q[-static_cast<std::ptrdiff_t>(i)] != kForbiddenByte) {
      DumpAndDie(p, function, "bad leading pad byte");
    }
  }
  const std::size_t n = ReadBigEndian(q - 2 * S);
  const unsigned char* tail = q + n;
  for (std::size_t i = 0; i < S; ++i) {
    if (tail[i] != kForbiddenByte) {
      DumpAndDie(p, function, "bad trailing pad byte");
    }
  }
}

// CPython's _PyMem_DebugCheckAddress: API id, leading pads, trailing pads.
// The common case in two word compares: the id byte and the 7 leading pads,
// then the 8 trailing pads.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void CheckAddress(const char* function,
                                                      char api_id,
                                                      const void* p) {
  const auto* q = static_cast<const unsigned char*>(p);
  if (ABSL_PREDICT_FALSE(
          LoadWord(q - S) !=
              ((kForbiddenWord << 8) | static_cast<unsigned char>(api_id)) ||
          LoadWord(q + ReadBigEndian(q - 2 * S)) != kForbiddenWord)) {
    DiagnoseAddress(function, api_id, p);
  }
}

// Mem and obj only: the lock check that comes first in every call.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void CheckLock(const char* function) {
  const LockHeldPredicate predicate = lock_held.load(std::memory_order_acquire);
  if (void (*pause)() = lock_check_pause.load(std::memory_order_relaxed);
      ABSL_PREDICT_FALSE(pause != nullptr)) {
    pause();
  }
  if (ABSL_PREDICT_FALSE(!predicate())) {
    FatalError(function,
               "Python memory allocator called without holding the GIL");
  }
}

std::atomic<CrossInterpreterFreePolicy> cross_interpreter_policy{
    CrossInterpreterFreePolicy::kFatal};
std::atomic<std::int64_t> cross_interpreter_frees{0};

// Mem and obj only: a pool block must be freed or reallocated under the
// interpreter whose heap owns it. Blocks outside pymalloc arenas (raw
// fallbacks, C library blocks) carry no owner and are not checked.
ABSL_ATTRIBUTE_NOINLINE void CrossInterpreterFree(const char* function,
                                                  const void* p,
                                                  const Heap* owner,
                                                  const Heap* current) {
  {
    char message[256];
    if (owner->cycle() != current->cycle()) {
      // Every cycle's main interpreter is 0: name the cycles, or the
      // message would read "by interpreter 0 ... under interpreter 0".
      std::snprintf(message, sizeof(message),
                    "cross-interpreter free: the block was allocated by "
                    "interpreter %lld of an earlier runtime cycle (cycle "
                    "%llu, finalized) and is freed under interpreter %lld of "
                    "cycle %llu",
                    static_cast<long long>(owner->owner_id()),
                    static_cast<unsigned long long>(owner->cycle()),
                    static_cast<long long>(current->owner_id()),
                    static_cast<unsigned long long>(current->cycle()));
    } else {
      std::snprintf(message, sizeof(message),
                    "cross-interpreter free: the block was allocated by "
                    "interpreter %lld and is freed under interpreter %lld",
                    static_cast<long long>(owner->owner_id()),
                    static_cast<long long>(current->owner_id()));
    }
    if (cross_interpreter_policy.load(std::memory_order_relaxed) ==
        CrossInterpreterFreePolicy::kFatal) {
      DumpAndDie(p, function, message);
    }
    if (cross_interpreter_frees.fetch_add(1, std::memory_order_relaxed) == 0) {
      WriteFully(2, "interpheap: ");
      WriteFully(2, message);
      WriteFully(2, " (routed home; reported once per process)\n");
    }
  }
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void CheckOwner(const char* function,
                                                    const void* p) {
  const void* q = static_cast<const unsigned char*>(p) - 2 * S;
  const Heap* owner = ArenaMap::Global().Owner(q);
  const Heap* current = CurrentHeap();
  if (ABSL_PREDICT_FALSE(owner != nullptr && current != nullptr &&
                         owner != current)) {
    CrossInterpreterFree(function, p, owner, current);
  }
}

// What the hook wraps, called. The mem and obj hooks over pymalloc (the
// *_debug configurations) call the current heap's inline paths, which is
// what pymalloc's entry points would do, minus reading the whole layer and
// one indirect call; anything else goes through the link.
// kKnownPymalloc: the caller knows the layer below is pymalloc for this
// call (DebugHookOverPymalloc()).
template <bool kKnownPymalloc = false>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Heap* PymallocBelow(DebugContext* ctx) {
  if constexpr (kKnownPymalloc) return CurrentHeap();
  if (ctx->domain == Domain::kRaw ||
      !ctx->wrapped.BelowFreeIs(kPymallocAllocator.free)) {
    return nullptr;
  }
  // nullptr: through the link, where pymalloc's entry point says why. The
  // mem/obj hooks checked the lock (CheckLock) before.
  return CurrentHeap();
}

template <bool kKnownPymalloc = false>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void* BelowMalloc(DebugContext* ctx,
                                                      std::size_t n) {
  if (Heap* heap = PymallocBelow<kKnownPymalloc>(ctx);
      ABSL_PREDICT_TRUE(heap != nullptr)) {
    heap->guard().AssumeHeld();
    return heap->Malloc(n);
  }
  return LinkedMalloc(ctx->wrapped, n);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void* BelowCalloc(DebugContext* ctx,
                                                      std::size_t n) {
  if (Heap* heap = PymallocBelow(ctx); ABSL_PREDICT_TRUE(heap != nullptr)) {
    heap->guard().AssumeHeld();
    return heap->Calloc(1, n);
  }
  return LinkedCalloc(ctx->wrapped, 1, n);
}

void* BelowRealloc(DebugContext* ctx, void* p, std::size_t n) {
  if (Heap* heap = PymallocBelow(ctx); ABSL_PREDICT_TRUE(heap != nullptr)) {
    heap->guard().AssumeHeld();
    return heap->Realloc(p, n);
  }
  return LinkedRealloc(ctx->wrapped, p, n);
}

template <bool kKnownPymalloc = false>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void BelowFree(DebugContext* ctx, void* p) {
  if (Heap* heap = PymallocBelow<kKnownPymalloc>(ctx);
      ABSL_PREDICT_TRUE(heap != nullptr && p != nullptr)) {
    heap->guard().AssumeHeld();
    return heap->Free(p);
  }
  LinkedFree(ctx->wrapped, p);
}

template <bool kKnownPymalloc = false>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void* RawMalloc(DebugContext* ctx,
                                                    std::size_t n,
                                                    bool zeroed) {
  const bool with_serial = SerialNumbers();
  const std::size_t extra = ExtraBytes(with_serial);
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) - extra) return nullptr;
  const std::size_t total = n + extra;
  auto* q = static_cast<unsigned char*>(
      zeroed ? BelowCalloc(ctx, total)
             : BelowMalloc<kKnownPymalloc>(ctx, total));
  if (q == nullptr) return nullptr;
  Decorate(q, n, ctx->api_id, with_serial);
  if (!DebugBlockSet::Global().AddLive(q + 2 * S, with_serial)) {
    BelowFree<kKnownPymalloc>(ctx, q);  // no record, no block
    return nullptr;
  }
  if (!zeroed && n > 0) std::memset(q + 2 * S, kCleanByte, n);
  return q + 2 * S;
}

// `cell` is CheckLive's answer for p.
template <bool kKnownPymalloc = false>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void FreeChecked(
    const char* function, DebugContext* ctx, void* p,
    const DebugBlockInfo& block, DebugBlockSet::Cell* cell) {
  MarkFreed(function, cell, block, p, /*realloc=*/false);
  auto* q = static_cast<unsigned char*>(p) - 2 * S;
  const std::size_t n = ReadBigEndian(q);
  std::memset(q, kDeadByte, n + ExtraBytes(block));
  BelowFree<kKnownPymalloc>(ctx, q);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void RawFree(DebugContext* ctx, void* p) {
  if (p == nullptr) return;
  DebugBlockInfo block;
  DebugBlockSet::Cell* cell =
      CheckLive("_PyMem_DebugRawFree", ctx, p, /*realloc=*/false, &block);
  if (cell == nullptr) return BelowFree(ctx, p);
  CheckAddress("_PyMem_DebugRawFree", ctx->api_id, p);
  FreeChecked("_PyMem_DebugRawFree", ctx, p, block, cell);
}

// Reallocates a block that CheckAddress has accepted.
void* ReallocChecked(const char* function, DebugContext* ctx, void* p,
                     std::size_t n, const DebugBlockInfo& block,
                     DebugBlockSet::Cell* cell) {
  const bool with_serial = SerialNumbers();
  if (n > static_cast<std::size_t>(PTRDIFF_MAX) - ExtraBytes(with_serial)) {
    return nullptr;
  }

  auto* head = static_cast<unsigned char*>(p) - 2 * S;
  unsigned char* data = head + 2 * S;
  const std::size_t old_n = ReadBigEndian(head);
  const std::size_t old_extra = ExtraBytes(block);
  unsigned char* tail = data + old_n;
  const std::size_t old_serial = block.has_serial ? ReadBigEndian(tail + S) : 0;

  // Mark the decorations and up to 64 bytes at each end dead, keeping the
  // data bytes, so that the old block reads as dead if realloc moves it.
  unsigned char saved[2 * kErasedSize];
  if (old_n <= sizeof(saved)) {
    std::memcpy(saved, data, old_n);
    std::memset(head, kDeadByte, old_n + old_extra);
  } else {
    std::memcpy(saved, data, kErasedSize);
    std::memset(head, kDeadByte, kErasedSize + 2 * S);
    std::memcpy(saved + kErasedSize, tail - kErasedSize, kErasedSize);
    std::memset(tail - kErasedSize, kDeadByte, kErasedSize + old_extra - 2 * S);
  }

  // The old address stops being live before the wrapped realloc may give it
  // to another thread; a failed realloc makes it live again below.
  MarkFreed(function, cell, block, p, /*realloc=*/true);
  auto* resized = static_cast<unsigned char*>(
      BelowRealloc(ctx, head, n + ExtraBytes(with_serial)));
  const std::size_t new_n = resized == nullptr ? old_n : n;
  if (resized != nullptr) head = resized;
  data = head + 2 * S;

  if (resized == nullptr) {
    // Keep the old block exactly as it was: its layout, its serial.
    DecorateWithSerial(head, new_n, ctx->api_id, old_serial);
    (void)DebugBlockSet::Global().AddLive(p, block.has_serial);
  } else {
    Decorate(head, new_n, ctx->api_id, with_serial);
    if (!DebugBlockSet::Global().AddLive(data, with_serial)) {
      // The block was already resized: it cannot be given back.
      FatalError("_PyMem_DebugRawRealloc", "failed to record a debug block");
    }
  }

  // Restore the saved bytes that the new size keeps.
  if (old_n <= sizeof(saved)) {
    std::memcpy(data, saved, std::min(new_n, old_n));
  } else {
    std::memcpy(data, saved, std::min(new_n, kErasedSize));
    const std::size_t last_start = old_n - kErasedSize;
    if (new_n > last_start) {
      std::memcpy(data + last_start, saved + kErasedSize,
                  std::min(new_n - last_start, kErasedSize));
    }
  }
  if (resized == nullptr) return nullptr;
  if (new_n > old_n) std::memset(data + old_n, kCleanByte, new_n - old_n);
  return data;
}

// Reallocates a block the hooks never handed out (passed down): its first n
// bytes move into a new debug block, so that what the caller gets back is a
// block of this hook. The new block comes first: when it cannot be had, or
// the wrapped realloc fails, the old block is left as it was and the caller
// gets nullptr. (Resizing first left only the resized block to return on a
// failure, undecorated, and under pymalloc a raw fallback that carries the
// raw hook's header: freeing it through mem died with "bad ID".)
void* ReallocUnknown(DebugContext* ctx, void* p, std::size_t n) {
  void* block = RawMalloc(ctx, n, false);
  if (block == nullptr) return nullptr;
  // Only the wrapped allocator knows the old block's size: it resizes the
  // block to n bytes, which are then copied.
  void* resized = BelowRealloc(ctx, p, n);
  if (resized == nullptr) {
    RawFree(ctx, block);
    return nullptr;
  }
  std::memcpy(block, resized, n);
  BelowFree(ctx, resized);
  return block;
}

void* RawRealloc(DebugContext* ctx, void* p, std::size_t n) {
  if (p == nullptr) return RawMalloc(ctx, n, false);
  DebugBlockInfo block;
  DebugBlockSet::Cell* cell =
      CheckLive("_PyMem_DebugRawRealloc", ctx, p, /*realloc=*/true, &block);
  if (cell == nullptr) return ReallocUnknown(ctx, p, n);
  CheckAddress("_PyMem_DebugRawRealloc", ctx->api_id, p);
  return ReallocChecked("_PyMem_DebugRawRealloc", ctx, p, n, block, cell);
}

DebugContext* Ctx(void* ctx) { return static_cast<DebugContext*>(ctx); }

// Raw hooks: no lock check.
void* DebugRawMalloc(void* ctx, std::size_t n) {
  return RawMalloc(Ctx(ctx), n, false);
}
void* DebugRawCalloc(void* ctx, std::size_t nelem, std::size_t elsize) {
  return RawMalloc(Ctx(ctx), nelem * elsize, true);
}
void* DebugRawRealloc(void* ctx, void* p, std::size_t n) {
  return RawRealloc(Ctx(ctx), p, n);
}
void DebugRawFree(void* ctx, void* p) { RawFree(Ctx(ctx), p); }

// Mem and obj hooks: the lock check first, even for free(NULL).
template <bool kKnownPymalloc>
void* DebugMalloc(void* ctx, std::size_t n) {
  CheckLock("_PyMem_DebugMalloc");
  return RawMalloc<kKnownPymalloc>(Ctx(ctx), n, false);
}
void* DebugCalloc(void* ctx, std::size_t nelem, std::size_t elsize) {
  CheckLock("_PyMem_DebugCalloc");
  return RawMalloc(Ctx(ctx), nelem * elsize, true);
}
void* DebugRealloc(void* ctx, void* p, std::size_t n) {
  CheckLock("_PyMem_DebugRealloc");
  if (p == nullptr) return RawMalloc(Ctx(ctx), n, false);
  DebugBlockInfo block;
  DebugBlockSet::Cell* cell = CheckLive("_PyMem_DebugRealloc", Ctx(ctx), p,
                                        /*realloc=*/true, &block);
  if (cell == nullptr) return ReallocUnknown(Ctx(ctx), p, n);
  CheckAddress("_PyMem_DebugRawRealloc", Ctx(ctx)->api_id, p);
  CheckOwner("_PyMem_DebugRealloc", p);
  return ReallocChecked("_PyMem_DebugRealloc", Ctx(ctx), p, n, block, cell);
}
template <bool kKnownPymalloc>
void DebugFree(void* ctx, void* p) {
  CheckLock("_PyMem_DebugFree");
  if (p == nullptr) return;
  DebugBlockInfo block;
  DebugBlockSet::Cell* cell = CheckLive("_PyMem_DebugFree", Ctx(ctx), p,
                                        /*realloc=*/false, &block);
  if (cell == nullptr) return BelowFree<kKnownPymalloc>(Ctx(ctx), p);
  CheckAddress("_PyMem_DebugRawFree", Ctx(ctx)->api_id, p);
  CheckOwner("_PyMem_DebugFree", p);
  FreeChecked<kKnownPymalloc>("_PyMem_DebugFree", Ctx(ctx), p, block, cell);
}

}  // namespace

bool DefaultLockHeld() {
  const Heap* heap = CurrentHeap();
  return heap != nullptr && heap->guard().IsHeldByCurrentThread();
}

void SetLockCheckPauseForTesting(void (*pause)()) {
  lock_check_pause.store(pause, std::memory_order_relaxed);
}

ih_allocator_t DebugHook(Domain domain) {
  DebugContext* ctx = &contexts[static_cast<int>(domain)];
  if (domain == Domain::kRaw) {
    return {ctx, DebugRawMalloc, DebugRawCalloc, DebugRawRealloc, DebugRawFree};
  }
  return {ctx, DebugMalloc<false>, DebugCalloc, DebugRealloc, DebugFree<false>};
}

ih_allocator_t DebugHookOverPymalloc(Domain domain) {
  if (domain == Domain::kRaw) return DebugHook(domain);
  return {&contexts[static_cast<int>(domain)], DebugMalloc<true>, DebugCalloc,
          DebugRealloc, DebugFree<true>};
}

HookLink* DebugHookLink(Domain domain) {
  return &contexts[static_cast<int>(domain)].wrapped;
}

bool IsDebugHook(const ih_allocator_t& allocator) {
  return allocator.malloc == DebugRawMalloc ||
         allocator.malloc == DebugMalloc<false> ||
         allocator.malloc == DebugMalloc<true>;
}

void SetDebugHookOptions(const DebugHookOptions& options) {
  serial_numbers.store(options.serial_numbers);
}

DebugHookOptions GetDebugHookOptions() {
  return DebugHookOptions{serial_numbers.load()};
}

void SetCrossInterpreterFreePolicy(CrossInterpreterFreePolicy policy) {
  cross_interpreter_policy.store(policy, std::memory_order_relaxed);
}
CrossInterpreterFreePolicy GetCrossInterpreterFreePolicy() {
  return cross_interpreter_policy.load(std::memory_order_relaxed);
}
std::int64_t CrossInterpreterFrees() {
  return cross_interpreter_frees.load(std::memory_order_relaxed);
}

void SetLockHeldPredicate(LockHeldPredicate predicate) {
  lock_held.store(predicate == nullptr ? &DefaultLockHeld : predicate,
                  std::memory_order_release);
}

void SetPassUnknownPointersDown(Domain domain, bool pass) {
  contexts[static_cast<int>(domain)].pass_unknown_down.store(pass);
}

void ForgetFreedDebugBlocks() { DebugBlockSet::Global().ForgetFreed(); }

void DumpDebugBlock(int fd, const void* p) {
  DumpWriter out(fd);
  const auto* q = static_cast<const unsigned char*>(p);
  out.Printf("Debug memory block at address p=%p:", p);
  if (p == nullptr) {
    out.Printf("\n");
    return;
  }
  // Read through p only if it is a live block of the hooks.
  const DebugBlockInfo block = DebugBlockSet::Global().Lookup(p);
  if (block.state != DebugBlockState::kLive) {
    out.Printf(block.state == DebugBlockState::kFreed
                   ? " freed by the debug hooks; not read\n\n"
                   : " not a block of the debug hooks; not read\n\n");
    return;
  }
  out.Printf(" API '%c'\n",
             static_cast<char>(q[-static_cast<std::ptrdiff_t>(S)]));
  const std::size_t n = ReadBigEndian(q - 2 * S);
  out.Printf("    %zu bytes originally requested\n", n);

  out.Printf("    The %d pad bytes at p-%d are ", static_cast<int>(S - 1),
             static_cast<int>(S - 1));
  bool ok = true;
  for (std::size_t i = 1; i <= S - 1; ++i) {
    if (q[-static_cast<std::ptrdiff_t>(i)] != kForbiddenByte) ok = false;
  }
  if (ok) {
    out.Printf("FORBIDDENBYTE, as expected.\n");
  } else {
    out.Printf("not all FORBIDDENBYTE (0x%02x):\n", kForbiddenByte);
    for (int i = static_cast<int>(S) - 1; i >= 1; --i) {
      const unsigned char byte = q[-i];
      out.Printf("        at p-%d: 0x%02x%s\n", i, byte,
                 byte != kForbiddenByte ? " *** OUCH" : "");
    }
    out.Printf(
        "    Because memory is corrupted at the start, the count of bytes "
        "requested\n"
        "       may be bogus, and checking the trailing pad bytes may "
        "segfault.\n");
  }

  const unsigned char* tail = q + n;
  out.Printf("    The %d pad bytes at tail=%p are ", static_cast<int>(S),
             static_cast<const void*>(tail));
  ok = true;
  for (std::size_t i = 0; i < S; ++i) {
    if (tail[i] != kForbiddenByte) ok = false;
  }
  if (ok) {
    out.Printf("FORBIDDENBYTE, as expected.\n");
  } else {
    out.Printf("not all FORBIDDENBYTE (0x%02x):\n", kForbiddenByte);
    for (std::size_t i = 0; i < S; ++i) {
      out.Printf("        at tail+%d: 0x%02x%s\n", static_cast<int>(i), tail[i],
                 tail[i] != kForbiddenByte ? " *** OUCH" : "");
    }
  }

  if (block.has_serial) {
    out.Printf("    The block was made by call #%zu to debug malloc/realloc.\n",
               ReadBigEndian(tail + S));
  }

  if (n > 0) {
    out.Printf("    Data at p:");
    const unsigned char* at = q;
    for (int i = 0; at < tail && i < 8; ++i, ++at) out.Printf(" %02x", *at);
    if (at < tail) {
      if (tail - at > 8) {
        out.Printf(" ...");
        at = tail - 8;
      }
      for (; at < tail; ++at) out.Printf(" %02x", *at);
    }
    out.Printf("\n");
  }
  out.Printf("\n");
  WriteTracebackSection(fd, p);
}

}  // namespace interpheap::alloc
