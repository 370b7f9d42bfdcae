// tests/fuzz/interpheap_fuzz.cc: a model-based fuzz target for interpheap.
//
// LLVMFuzzerTestOneInput reads its input as a sequence of operations (at most
// kMaxOps), runs each through the C API (api/interpheap.h), and checks every
// answer against a model kept here:
//
//   data plane   malloc, calloc, realloc (also of NULL) and free in the raw,
//                mem and obj domains, sizes from 0 to 325000 bytes and past
//                PTRDIFF_MAX. Every block holds a pattern derived from its id,
//                checked in full before each realloc and free (the kept prefix
//                after a realloc); live blocks never overlap; blocks are
//                16-byte aligned; calloc's bytes are zero.
//   interpreters create (own lock and heap, main lock and heap, main lock and
//                own heap, and refused shapes), destroy, attach and detach. One
//                thread plays several threads by switching attachment, so a
//                block made under one interpreter is freed or reallocated under
//                another, also after its interpreter was destroyed.
//   lifecycle    pre-initialize and apply-configuration with every named
//                configuration (and a bad name), initialize, finalize, reset:
//                each runs whether or not the lifecycle table allows it.
//   hooks        three counting hooks wrapped and unwrapped on any domain in
//                any order (out-of-LIFO unwraps, double wraps and a borrowed
//                `previous` storage are refused), tracemalloc start and stop,
//                Track/Untrack, fault injection windows, the debug hooks'
//                setup with and without serial numbers.
//
// The model predicts the status of every control-plane call exactly; a
// refused call must also leave a snapshot (state, every allocator stack, the
// configuration name, tracing, counts, the attachment) unchanged. After every
// operation the model's allocator stacks must equal the library's table layer
// by layer, and the block counts must match: ih_global_allocated_blocks()
// counts the live mem/obj blocks served by pymalloc, ih_allocated_blocks()
// the pool blocks and raw fallbacks of the attached interpreter's own heap
// (pymalloc's rules: 1..512 bytes, including the debug header when debug
// hooks sit above it, come from the pools; a raw fallback is counted by the
// interpreter that frees it), and tracemalloc must hold one trace per block
// the model says is traced. A counting hook must see each call once unless a
// fault-injection layer above it failed the call. An allocation fails exactly
// when one of the calls it made was counted in the fault window, and a
// failure changes nothing.
//
// At the end of every input the model frees every block (running one more
// lifecycle cycle with the block's configuration when the current one
// cannot free it) and returns the runtime to kUninitialized, so inputs are
// independent. Process-wide state that survives (the allocator layer slots,
// interpreter ids, the debug hooks' serial option) is modelled across inputs.
//
// Any mismatch prints "interpheap_fuzz: MODEL MISMATCH", the message and the
// last operations to stderr, then aborts. INTERPHEAP_FUZZ_TRACE=1 prints every
// operation as it runs. The model's own containers use the C++ allocator
// (glibc, or the sanitizer's), never interpheap.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "alloc/allocator_table.h"
#include "alloc/external/mimalloc_allocator.h"
#include "alloc/hooks/debug_block_set.h"
#include "alloc/hooks/debug_hooks.h"
#include "alloc/hooks/fault_injection.h"
#include "alloc/hooks/tracemalloc.h"
#include "alloc/pymalloc/pymalloc_allocator.h"
#include "alloc/raw_allocator.h"
#include "interp/runtime.h"
#include "interpheap/interpheap.h"

namespace {

namespace ia = interpheap::alloc;

constexpr int kMaxOps = 512;
constexpr std::size_t kMaxLiveBlocks = 160;
constexpr int kMaxLiveInterps = 6;
constexpr int kUserHooks = 3;
constexpr int kDomains = 3;
constexpr int kRaw = IH_DOMAIN_RAW;
constexpr std::size_t kPymallocMax = 512;
constexpr std::size_t kTooBig = static_cast<std::size_t>(PTRDIFF_MAX) + 1;
constexpr unsigned kTrackDomain = 7;

// ---- Failure reporting ----

constexpr int kTraceLines = 48;
char trace_ring[kTraceLines][200];
int trace_next = 0;
long op_number = 0;
bool trace_live = false;

void Note(const char* format, ...) __attribute__((format(printf, 1, 2)));
void Note(const char* format, ...) {
  char* line = trace_ring[trace_next];
  const int prefix =
      std::snprintf(line, sizeof(trace_ring[0]), "#%ld ", op_number);
  va_list args;
  va_start(args, format);
  std::vsnprintf(line + prefix, sizeof(trace_ring[0]) - prefix, format, args);
  va_end(args);
  trace_next = (trace_next + 1) % kTraceLines;
  if (trace_live) std::fprintf(stderr, "interpheap_fuzz: %s\n", line);
}

void PrintTrace() {
  std::fprintf(stderr, "interpheap_fuzz: last operations, oldest first:\n");
  for (int i = 0; i < kTraceLines; ++i) {
    const char* line = trace_ring[(trace_next + i) % kTraceLines];
    if (line[0] != '\0') std::fprintf(stderr, "  %s\n", line);
  }
}

[[noreturn]] void Fail(const char* format, ...)
    __attribute__((format(printf, 1, 2)));
[[noreturn]] void Fail(const char* format, ...) {
  std::fprintf(stderr, "interpheap_fuzz: MODEL MISMATCH: ");
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  PrintTrace();
  std::fflush(stderr);
  std::abort();
}

void OnLibraryFatal(const char* function, const char* message) {
  std::fprintf(stderr, "interpheap_fuzz: library fatal error: %s: %s\n",
               function, message);
  PrintTrace();
  std::fflush(stderr);
}

// ---- Input ----

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Sizes a CPython program asks for, pymalloc's edges (with and without the
// debug header), the C library's mmap threshold region, and too big.
std::size_t DecodeSize(std::uint8_t a, std::uint8_t b) {
  static constexpr std::size_t kEdges[] = {
      0,   1,   15,  16,  17,   31,   32,   33,   463,   464,  465,
      479, 480, 481, 487, 488,  489,  495,  496,  497,   511,  512,
      513, 520, 536, 537, 1024, 4095, 4096, 4097, 16384, 65536};
  switch (a % 8) {
    case 0:
      return b % 17;
    case 1:
      return b;
    case 2:
      return 256 + b;
    case 3:
      return kEdges[b % (sizeof(kEdges) / sizeof(kEdges[0]))];
    case 4:
      return 512 + std::size_t{b} * 4;
    case 5:
      return std::size_t{b} * 64;
    case 6:
      return 1 + b % 64;
    default:
      if (b >= 252) return b == 255 ? SIZE_MAX : kTooBig;
      if (b < 6) return 70000 + std::size_t{b} * 51000;
      return b % 48;
  }
}

// ---- User hooks: counting hooks, each with its own `previous` per domain ----

enum CallKind { kMallocCall, kCallocCall, kReallocCall, kFreeCall };

struct UserHookState {
  ih_allocator_t previous;
  long calls[4];
};
UserHookState user_hooks[kUserHooks][kDomains];

UserHookState* HookState(void* ctx) { return static_cast<UserHookState*>(ctx); }
void* HookMalloc(void* ctx, std::size_t n) {
  UserHookState* s = HookState(ctx);
  ++s->calls[kMallocCall];
  return s->previous.malloc(s->previous.ctx, n);
}
void* HookCalloc(void* ctx, std::size_t nelem, std::size_t elsize) {
  UserHookState* s = HookState(ctx);
  ++s->calls[kCallocCall];
  return s->previous.calloc(s->previous.ctx, nelem, elsize);
}
void* HookRealloc(void* ctx, void* p, std::size_t n) {
  UserHookState* s = HookState(ctx);
  ++s->calls[kReallocCall];
  return s->previous.realloc(s->previous.ctx, p, n);
}
void HookFree(void* ctx, void* p) {
  UserHookState* s = HookState(ctx);
  ++s->calls[kFreeCall];
  s->previous.free(s->previous.ctx, p);
}

ih_allocator_t UserHook(int h, int d) {
  return {&user_hooks[h][d], HookMalloc, HookCalloc, HookRealloc, HookFree};
}

// ---- The model ----

enum class Base : std::uint8_t { kLibc, kPymalloc, kMimalloc };
enum class Kind : std::uint8_t { kBase, kUser, kTrace, kNoMem, kDebug };

struct Layer {
  Kind kind;
  int index;  // the Base for kBase, the hook number for kUser, else 0
  bool operator==(const Layer& o) const {
    return kind == o.kind && index == o.index;
  }
};
Layer BaseLayer(Base b) { return {Kind::kBase, static_cast<int>(b)}; }

ia::Domain D(int d) { return static_cast<ia::Domain>(d); }

ih_allocator_t AllocatorOf(const Layer& layer, int d) {
  switch (layer.kind) {
    case Kind::kBase:
      switch (static_cast<Base>(layer.index)) {
        case Base::kLibc:
          // mem and obj on the C library route leftover pool blocks home.
          return d == kRaw ? ia::kLibcAllocator : ia::kLibcMemAllocator;
        case Base::kPymalloc:
          return ia::kPymallocAllocator;
        case Base::kMimalloc:
          return ia::kMimallocAllocator;
      }
      break;
    case Kind::kUser:
      return UserHook(layer.index, d);
    case Kind::kTrace:
      return ia::TracemallocHook(D(d));
    case Kind::kNoMem:
      return ia::NoMemoryHook(D(d));
    case Kind::kDebug:
      return ia::DebugHook(D(d));
  }
  Fail("bad layer");
}

// A layer's identity in the library's table is (allocator, layer below,
// previous storage): a base is shared by domains, a hook is per domain.
int LayerCode(const Layer& layer, int d) {
  if (layer.kind == Kind::kBase) return layer.index;
  return 16 + d * 64 + static_cast<int>(layer.kind) * 8 + layer.index;
}

const char* LayerName(const Layer& layer) {
  static const char* const kBases[] = {"libc", "pymalloc", "mimalloc"};
  static const char* const kUsers[] = {"hookA", "hookB", "hookC"};
  switch (layer.kind) {
    case Kind::kBase:
      return kBases[layer.index];
    case Kind::kUser:
      return kUsers[layer.index];
    case Kind::kTrace:
      return "tracemalloc";
    case Kind::kNoMem:
      return "nomemory";
    case Kind::kDebug:
      return "debug";
  }
  return "?";
}

struct Block {
  unsigned char* p;
  std::size_t size;
  std::uint32_t id;
  int domain;
  Base base;   // the base allocator it came from
  bool debug;  // carries a debug header
  // pymalloc's bookkeeping (mem/obj blocks of the pymalloc base only).
  bool pool;               // a pool block (else a raw fallback)
  int heap;                // the model heap owning the pool block
  std::size_t pool_bytes;  // its pool block size (a multiple of 16)
  bool traced;             // tracemalloc holds a trace of it
};

struct Interp {
  ih_interp_t* handle;
  bool alive;
  bool is_main;
  bool own_heap;
  int heap;
  std::int64_t id;
};

struct HeapCount {
  std::int64_t pool = 0;
  std::int64_t raw = 0;  // raw fallbacks made minus raw fallbacks freed here
};

// Configuration names in the order of alloc/config.h, then a bad one.
struct ConfigName {
  const char* name;
  Base base;
  bool debug;
};
constexpr ConfigName kConfigs[] = {
    {"default", Base::kPymalloc, false},
    {"debug", Base::kPymalloc, true},
    {"malloc", Base::kLibc, false},
    {"malloc_debug", Base::kLibc, true},
    {"pymalloc", Base::kPymalloc, false},
    {"pymalloc_debug", Base::kPymalloc, true},
    {"mimalloc", Base::kMimalloc, false},
    {"mimalloc_debug", Base::kMimalloc, true},
};
constexpr int kConfigCount = sizeof(kConfigs) / sizeof(kConfigs[0]);
constexpr int kBadConfig = kConfigCount;  // "pymalloc2"

struct Model {
  ih_runtime_state_t state = IH_RUNTIME_UNINITIALIZED;
  std::vector<Layer> stack[kDomains];  // bottom (base) first
  bool tracing = false;
  std::int64_t nomem_start = 0;
  std::int64_t nomem_stop = 0;
  bool pass_down = false;  // debug hooks pass unknown pointers down
  bool serial = false;     // debug hooks' serial-number option
  std::vector<Interp> interps;
  int attached = -1;
  std::vector<HeapCount> heaps;
  std::vector<Block> blocks;
  std::map<std::uintptr_t, std::size_t> ranges;  // address -> extent
  std::uint32_t next_block_id = 1;
  std::int64_t next_interp_id = 1;
};

Model m;
bool mimalloc_loads = false;
std::int64_t global_baseline = 0;
int dev_null = -1;

bool Has(int d, Kind kind) {
  for (const Layer& l : m.stack[d]) {
    if (l.kind == kind) return true;
  }
  return false;
}
bool HasLayer(int d, const Layer& layer) {
  for (const Layer& l : m.stack[d]) {
    if (l == layer) return true;
  }
  return false;
}
Base CurBase(int d) { return static_cast<Base>(m.stack[d][0].index); }
bool CurDebug(int d) { return Has(d, Kind::kDebug); }
bool NoMemInstalled() { return Has(kRaw, Kind::kNoMem); }
std::size_t DebugExtra() { return (m.serial ? 4 : 3) * sizeof(std::size_t); }
std::size_t Round16(std::size_t n) { return (n + 15) / 16 * 16; }
int CurHeap() { return m.attached < 0 ? -1 : m.interps[m.attached].heap; }

bool PymallocBlock(const Block& b) {
  return b.domain != kRaw && b.base == Base::kPymalloc;
}

// Whether the current stack of the block's domain can take it back: the
// same base, and a debug header exactly when debug hooks are installed
// (or none while hooks set up after the fact pass unknown pointers down).
bool Compatible(const Block& b) {
  if (b.domain != kRaw && m.attached < 0) return false;
  if (CurBase(b.domain) != b.base) return false;
  const bool debug = CurDebug(b.domain);
  return b.debug == debug || (!b.debug && debug && m.pass_down);
}

std::vector<int> PathOf(int d, std::size_t depth) {
  std::vector<int> path;
  for (std::size_t i = 0; i < depth; ++i) {
    path.push_back(LayerCode(m.stack[d][i], d));
  }
  return path;
}

// The table's InternLocked: reuse an equal layer, else a free slot, else a
// slot no domain reaches any more. At most 3 x 17 layers are reachable (and
// a configuration pins 6 more), far below the 256 slots: a layer is always
// found, however many distinct layers came before.
bool Intern(const std::vector<int>&) { return true; }

// ---- Observations of the library ----

struct HookCalls {
  long calls[kUserHooks][kDomains][4];
};
HookCalls ReadHookCalls() {
  HookCalls c;
  for (int h = 0; h < kUserHooks; ++h) {
    for (int d = 0; d < kDomains; ++d) {
      std::memcpy(c.calls[h][d], user_hooks[h][d].calls, sizeof(c.calls[h][d]));
    }
  }
  return c;
}

struct Snapshot {
  ih_runtime_state_t state;
  ih_allocator_t top[kDomains];
  ia::AllocatorTableSnapshot table;
  const char* config;
  int tracing;
  std::int64_t global;
  std::int64_t heap;
  ih_interp_t* current;
  int interp_count;
  bool serial;
};

Snapshot Take() {
  Snapshot s;
  s.state = ih_runtime_state();
  for (int d = 0; d < kDomains; ++d) {
    ih_get_allocator(static_cast<ih_domain_t>(d), &s.top[d]);
  }
  s.table = ia::AllocatorTable::Global().Snapshot();
  s.config = ih_current_configuration_name();
  s.tracing = ih_tracemalloc_is_tracing();
  s.global = ih_global_allocated_blocks();
  s.heap = ih_allocated_blocks(nullptr);
  s.current = ih_thread_current();
  s.interp_count = interpheap::interp::Runtime::Get().interpreter_count();
  s.serial = ia::GetDebugHookOptions().serial_numbers;
  return s;
}

void ExpectUnchanged(const Snapshot& before, const char* what) {
  const Snapshot after = Take();
  if (after.state != before.state) {
    Fail("refused %s changed the runtime state", what);
  }
  if (std::memcmp(after.top, before.top, sizeof(after.top)) != 0) {
    Fail("refused %s changed an outermost allocator", what);
  }
  if (after.table != before.table) {
    Fail("refused %s changed an allocator stack", what);
  }
  if (after.config != before.config) {
    Fail("refused %s changed the configuration name", what);
  }
  if (after.tracing != before.tracing) Fail("refused %s changed tracing", what);
  if (after.global != before.global || after.heap != before.heap) {
    Fail("refused %s changed a block count", what);
  }
  if (after.current != before.current) {
    Fail("refused %s changed the attachment", what);
  }
  if (after.interp_count != before.interp_count) {
    Fail("refused %s changed the interpreter count", what);
  }
  if (after.serial != before.serial) {
    Fail("refused %s changed the debug hooks' options", what);
  }
}

const char* CodeName(int code) {
  switch (code) {
    case IH_OK:
      return "OK";
    case IH_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case IH_NOT_FOUND:
      return "NOT_FOUND";
    case IH_RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case IH_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case IH_INTERNAL:
      return "INTERNAL";
  }
  return "?";
}

void ExpectStatus(const char* what, int rc, const ih_status_t& st, int want) {
  if (rc != want || st.code != want) {
    Fail("%s returned %s (status %s: \"%s\"); the model expects %s", what,
         CodeName(rc), CodeName(st.code), st.message, CodeName(want));
  }
  if ((want == IH_OK) != (st.message[0] == '\0')) {
    Fail("%s: message \"%s\" with code %s", what, st.message, CodeName(want));
  }
}

// CPython's rule, from the model's stacks (alloc/config.h).
const char* ExpectedConfigName() {
  static const char* const kPlain[] = {"malloc", "pymalloc", "mimalloc"};
  static const char* const kDebug[] = {"malloc_debug", "pymalloc_debug",
                                       "mimalloc_debug"};
  bool all_debug = true;
  for (int d = 0; d < kDomains; ++d) {
    all_debug = all_debug && m.stack[d].back().kind == Kind::kDebug;
  }
  const std::size_t below = all_debug ? 2 : 1;
  for (int d = 0; d < kDomains; ++d) {
    if (m.stack[d].size() != below) return nullptr;
  }
  if (CurBase(kRaw) != Base::kLibc || CurBase(1) != CurBase(2)) return nullptr;
  const int base = static_cast<int>(CurBase(1));
  return all_debug ? kDebug[base] : kPlain[base];
}

int AliveInterps() {
  int n = 0;
  for (const Interp& i : m.interps) n += i.alive ? 1 : 0;
  return n;
}

std::int64_t ModelPymallocBlocks() {
  std::int64_t n = 0;
  for (const Block& b : m.blocks) n += PymallocBlock(b) ? 1 : 0;
  return n;
}

void CheckCounts(const char* what) {
  const std::int64_t live = ModelPymallocBlocks();
  std::int64_t in_heaps = 0;
  for (const HeapCount& h : m.heaps) in_heaps += h.pool + h.raw;
  if (in_heaps != live) {
    Fail("(model) %s: heaps hold %lld blocks, %lld pymalloc blocks live", what,
         static_cast<long long>(in_heaps), static_cast<long long>(live));
  }
  const std::int64_t global = ih_global_allocated_blocks();
  if (global != global_baseline + live) {
    Fail(
        "after %s: ih_global_allocated_blocks() is %lld, the model has %lld "
        "live pymalloc blocks (baseline %lld)",
        what, static_cast<long long>(global), static_cast<long long>(live),
        static_cast<long long>(global_baseline));
  }
  ih_status_t st;
  const std::int64_t heap = ih_allocated_blocks(&st);
  if (m.attached >= 0 && m.interps[m.attached].own_heap) {
    const HeapCount& h = m.heaps[m.interps[m.attached].heap];
    if (heap != h.pool + h.raw || st.code != IH_OK) {
      Fail(
          "after %s: ih_allocated_blocks() is %lld (%s), the model has %lld "
          "pool blocks and %lld raw fallbacks in interpreter %lld's heap",
          what, static_cast<long long>(heap), CodeName(st.code),
          static_cast<long long>(h.pool), static_cast<long long>(h.raw),
          static_cast<long long>(m.interps[m.attached].id));
    }
  } else if (heap != -1 || st.code != IH_FAILED_PRECONDITION) {
    Fail(
        "after %s: ih_allocated_blocks() is %lld (%s) with no own heap "
        "attached",
        what, static_cast<long long>(heap), CodeName(st.code));
  }
  if (m.tracing) {
    std::size_t traced = 0;
    for (const Block& b : m.blocks) traced += b.traced ? 1 : 0;
    if (ia::TraceCount(ia::kTraceDefaultDomain) != traced) {
      Fail(
          "after %s: tracemalloc holds %zu traces, the model %zu traced "
          "blocks",
          what, ia::TraceCount(ia::kTraceDefaultDomain), traced);
    }
  }
}

// Everything observable against the model; after every operation.
void Verify(const char* what) {
  if (ih_runtime_state() != m.state) {
    Fail("after %s: runtime is %s, the model says %s", what,
         ih_runtime_state_name(ih_runtime_state()),
         ih_runtime_state_name(m.state));
  }
  const ia::AllocatorTableSnapshot table =
      ia::AllocatorTable::Global().Snapshot();
  for (int d = 0; d < kDomains; ++d) {
    const auto& got = table.stacks[d];
    const std::vector<Layer>& want = m.stack[d];
    if (got.depth != static_cast<int>(want.size())) {
      Fail("after %s: domain %d has %d layers, the model %zu (top: %s)", what,
           d, got.depth, want.size(), LayerName(want.back()));
    }
    for (int i = 0; i < got.depth; ++i) {
      const Layer& layer = want[want.size() - 1 - i];
      const ih_allocator_t expected = AllocatorOf(layer, d);
      if (!ia::SameAllocator(got.layers[i], expected)) {
        Fail("after %s: domain %d layer %d from the top is not %s", what, d, i,
             LayerName(layer));
      }
    }
    for (std::size_t i = 1; i < want.size(); ++i) {
      if (want[i].kind == Kind::kUser &&
          !ia::SameAllocator(user_hooks[want[i].index][d].previous,
                             AllocatorOf(want[i - 1], d))) {
        Fail("after %s: %s's previous allocator on domain %d is not %s", what,
             LayerName(want[i]), d, LayerName(want[i - 1]));
      }
    }
    ih_allocator_t top;
    ih_get_allocator(static_cast<ih_domain_t>(d), &top);
    if (!ia::SameAllocator(top, AllocatorOf(want.back(), d))) {
      Fail("after %s: ih_get_allocator(%d) is not %s", what, d,
           LayerName(want.back()));
    }
  }
  const char* name = ih_current_configuration_name();
  const char* expected = ExpectedConfigName();
  if ((name == nullptr) != (expected == nullptr) ||
      (name != nullptr && std::strcmp(name, expected) != 0)) {
    Fail("after %s: configuration name %s, the model says %s", what,
         name ? name : "NULL", expected ? expected : "NULL");
  }
  if ((ih_tracemalloc_is_tracing() != 0) != m.tracing) {
    Fail("after %s: ih_tracemalloc_is_tracing() is %d, the model says %d", what,
         ih_tracemalloc_is_tracing(), m.tracing ? 1 : 0);
  }
  if (ia::GetDebugHookOptions().serial_numbers != m.serial) {
    Fail("after %s: the debug hooks' serial option differs from the model",
         what);
  }
  ih_interp_t* current = ih_thread_current();
  ih_interp_t* want_current =
      m.attached < 0 ? nullptr : m.interps[m.attached].handle;
  if (current != want_current || ih_thread_lock_held() != (m.attached >= 0)) {
    Fail("after %s: attached to %p (lock held %d), the model to %p", what,
         static_cast<void*>(current), ih_thread_lock_held(),
         static_cast<void*>(want_current));
  }
  const int count = interpheap::interp::Runtime::Get().interpreter_count();
  if (count != AliveInterps()) {
    Fail("after %s: %d interpreters live, the model has %d", what, count,
         AliveInterps());
  }
  for (const Interp& i : m.interps) {
    const std::int64_t id = ih_interp_id(i.handle);
    if (id != (i.alive ? i.id : -1)) {
      Fail("after %s: ih_interp_id of interpreter %lld is %lld", what,
           static_cast<long long>(i.id), static_cast<long long>(id));
    }
  }
  CheckCounts(what);
}

// ---- Blocks: patterns and the address map ----

unsigned char PatternByte(std::uint32_t id, std::size_t i) {
  const std::uint32_t x = id * 0x9E3779B1u;
  return static_cast<unsigned char>((x >> 13) + i * 0x3B + (i >> 8));
}

void FillPattern(const Block& b, std::size_t from) {
  for (std::size_t i = from; i < b.size; ++i) b.p[i] = PatternByte(b.id, i);
}

void CheckPattern(const Block& b, std::size_t upto, const char* what) {
  for (std::size_t i = 0; i < upto; ++i) {
    if (b.p[i] != PatternByte(b.id, i)) {
      Fail(
          "%s: byte %zu of block %u (%zu bytes, domain %d, at %p) is 0x%02x, "
          "written 0x%02x",
          what, i, b.id, b.size, b.domain, static_cast<void*>(b.p), b.p[i],
          PatternByte(b.id, i));
    }
  }
}

void AddRange(const Block& b, const char* what) {
  const auto start = reinterpret_cast<std::uintptr_t>(b.p);
  const std::size_t extent = std::max<std::size_t>(b.size, 1);
  if (start % 16 != 0) {
    Fail("%s returned %p, not 16-byte aligned", what, static_cast<void*>(b.p));
  }
  auto next = m.ranges.lower_bound(start);
  if (next != m.ranges.end() && next->first < start + extent) {
    Fail("%s returned [%p, +%zu), which overlaps the live block at 0x%zx", what,
         static_cast<void*>(b.p), b.size,
         static_cast<std::size_t>(next->first));
  }
  if (next != m.ranges.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second > start) {
      Fail("%s returned %p inside the live block [0x%zx, +%zu)", what,
           static_cast<void*>(b.p), static_cast<std::size_t>(prev->first),
           prev->second);
    }
  }
  m.ranges[start] = extent;
}

void RemoveRange(const Block& b) {
  m.ranges.erase(reinterpret_cast<std::uintptr_t>(b.p));
}

void CheckDebugRecord(const Block& b, const char* what) {
  const bool live = ia::DebugBlockSet::Global().Lookup(b.p).state ==
                    ia::DebugBlockState::kLive;
  if (live != b.debug) {
    Fail(
        "%s: block %u at %p is %s the debug hooks' live set, the model says "
        "it %s a debug header",
        what, b.id, static_cast<void*>(b.p), live ? "in" : "not in",
        b.debug ? "has" : "has no");
  }
}

// ---- Data plane ----

// The fault-injection window as the model knows it.
bool InWindow(std::int64_t call) {
  return call > m.nomem_start && (m.nomem_stop == 0 || call <= m.nomem_stop);
}
// Some counted call in (before, after] fell in the window.
bool WindowHit(std::int64_t before, std::int64_t after) {
  if (!NoMemInstalled()) return false;
  const std::int64_t lo = std::max(before + 1, m.nomem_start + 1);
  const std::int64_t hi =
      m.nomem_stop == 0 ? after : std::min(after, m.nomem_stop);
  return lo <= hi;
}

// What each counting hook must have seen for one call of `kind` on domain
// `d`: the call, once, on every hook of that domain it reached (not past a
// fault-injection layer that failed it; hooks under the debug hooks see the
// debug hooks' own calls and are not checked). Nothing elsewhere, except the
// raw domain under pymalloc (its fallbacks).
void CheckHookCalls(const HookCalls& before, int d, CallKind kind, bool reached,
                    bool first_call_failed, const char* what) {
  const HookCalls after = ReadHookCalls();
  const bool skip_raw = d != kRaw && CurBase(d) == Base::kPymalloc;
  for (int h = 0; h < kUserHooks; ++h) {
    for (int dd = 0; dd < kDomains; ++dd) {
      long delta[4];
      for (int k = 0; k < 4; ++k) {
        delta[k] = after.calls[h][dd][k] - before.calls[h][dd][k];
      }
      const Layer layer{Kind::kUser, h};
      int pos = -1;
      for (std::size_t i = 0; i < m.stack[dd].size(); ++i) {
        if (m.stack[dd][i] == layer) pos = static_cast<int>(i);
      }
      long want[4] = {0, 0, 0, 0};
      if (pos >= 0 && dd == d && reached) {
        bool blocked = false;
        bool unknown = false;
        for (std::size_t i = pos + 1; i < m.stack[dd].size(); ++i) {
          if (m.stack[dd][i].kind == Kind::kDebug) unknown = true;
          if (m.stack[dd][i].kind == Kind::kNoMem && first_call_failed) {
            blocked = true;
          }
        }
        if (unknown) continue;
        if (!blocked) want[kind] = 1;
      } else if (pos >= 0 && dd == kRaw && skip_raw) {
        continue;
      }
      if (std::memcmp(delta, want, sizeof(want)) != 0) {
        Fail(
            "%s: %s on domain %d saw malloc/calloc/realloc/free calls "
            "+%ld/+%ld/+%ld/+%ld, the model expects +%ld/+%ld/+%ld/+%ld%s",
            what, LayerName(layer), dd, delta[0], delta[1], delta[2], delta[3],
            want[0], want[1], want[2], want[3],
            pos < 0 ? " (not installed)" : "");
      }
    }
  }
}

void* DomainMalloc(int d, std::size_t n) {
  switch (d) {
    case IH_DOMAIN_RAW:
      return ih_raw_malloc(n);
    case IH_DOMAIN_MEM:
      return ih_mem_malloc(n);
    default:
      return ih_obj_malloc(n);
  }
}
void* DomainCalloc(int d, std::size_t nelem, std::size_t elsize) {
  switch (d) {
    case IH_DOMAIN_RAW:
      return ih_raw_calloc(nelem, elsize);
    case IH_DOMAIN_MEM:
      return ih_mem_calloc(nelem, elsize);
    default:
      return ih_obj_calloc(nelem, elsize);
  }
}
void* DomainRealloc(int d, void* p, std::size_t n) {
  switch (d) {
    case IH_DOMAIN_RAW:
      return ih_raw_realloc(p, n);
    case IH_DOMAIN_MEM:
      return ih_mem_realloc(p, n);
    default:
      return ih_obj_realloc(p, n);
  }
}
void DomainFree(int d, void* p) {
  switch (d) {
    case IH_DOMAIN_RAW:
      ih_raw_free(p);
      break;
    case IH_DOMAIN_MEM:
      ih_mem_free(p);
      break;
    default:
      ih_obj_free(p);
  }
}

// pymalloc's accounting of a new block of `n` bytes (the size pymalloc is
// asked for) made under the current heap.
void AccountNew(Block& b, std::size_t n) {
  b.pool = n >= 1 && n <= kPymallocMax;
  b.heap = b.pool ? CurHeap() : -1;
  b.pool_bytes = b.pool ? Round16(n) : 0;
  if (b.pool) {
    ++m.heaps[CurHeap()].pool;
  } else {
    ++m.heaps[CurHeap()].raw;
  }
}

// pymalloc's accounting of freeing `b` under the current heap: a pool block
// goes home; a raw fallback is counted by whoever frees it.
void AccountFree(const Block& b) {
  if (b.pool) {
    --m.heaps[b.heap].pool;
  } else {
    --m.heaps[CurHeap()].raw;
  }
}

// pymalloc's Realloc of `b` to `n` bytes under the current heap; true when it
// stays in place.
bool AccountRealloc(Block& b, std::size_t n) {
  if (!b.pool) return false;  // a raw fallback stays one (no count moves)
  if (b.heap == CurHeap() && n <= b.pool_bytes && 4 * n > 3 * b.pool_bytes) {
    return true;
  }
  AccountFree(b);
  AccountNew(b, n);
  return false;
}

bool AllocationAllowedHere(int d) { return d == kRaw || m.attached >= 0; }

// kind: 0 malloc, 1 calloc, 2 realloc(NULL, n).

// An allowed allocation call is counted once by the fault-injection hook
// when it is installed, and not at all otherwise.
void CheckFaultCount(std::int64_t calls_before, std::int64_t calls_after,
                     const char* what) {
  if (NoMemInstalled() ? calls_after <= calls_before
                       : calls_after != calls_before) {
    Fail("%s: the fault-injection count went from %lld to %lld", what,
         static_cast<long long>(calls_before),
         static_cast<long long>(calls_after));
  }
}
void DoAlloc(int d, int kind, std::size_t n, std::size_t elsize) {
  if (!AllocationAllowedHere(d) || m.blocks.size() >= kMaxLiveBlocks) return;
  static const char* const kNames[] = {"malloc", "calloc", "realloc(NULL)"};
  char what[96];
  if (kind == 1) {
    std::snprintf(what, sizeof(what), "domain %d calloc(%zu x %zu)", d, n,
                  elsize);
  } else {
    std::snprintf(what, sizeof(what), "domain %d %s(%zu)", d, kNames[kind], n);
  }
  Note("%s", what);
  // A request past PTRDIFF_MAX (or a calloc whose product overflows) is
  // refused before any allocator is called.
  const bool too_big =
      kind == 1
          ? (elsize != 0 && n > static_cast<std::size_t>(PTRDIFF_MAX) / elsize)
          : n > static_cast<std::size_t>(PTRDIFF_MAX);
  const std::size_t bytes = too_big ? 0 : (kind == 1 ? n * elsize : n);
  const HookCalls hooks_before = ReadHookCalls();
  const std::int64_t calls_before = ia::NoMemoryCallCount();
  void* p = nullptr;
  switch (kind) {
    case 0:
      p = DomainMalloc(d, n);
      break;
    case 1:
      p = DomainCalloc(d, n, elsize);
      break;
    default:
      p = DomainRealloc(d, nullptr, n);
  }
  const std::int64_t calls_after = ia::NoMemoryCallCount();
  const CallKind call = kind == 0   ? kMallocCall
                        : kind == 1 ? kCallocCall
                                    : kReallocCall;
  if (too_big) {
    if (p != nullptr) Fail("%s returned %p past PTRDIFF_MAX", what, p);
    if (calls_after != calls_before) {
      Fail("%s: a refused request reached the fault-injection hook", what);
    }
    CheckHookCalls(hooks_before, d, call, false, false, what);
    Verify(what);
    return;
  }
  CheckFaultCount(calls_before, calls_after, what);
  const bool hit = WindowHit(calls_before, calls_after);
  CheckHookCalls(hooks_before, d, call, true,
                 NoMemInstalled() && InWindow(calls_before + 1), what);
  if (p == nullptr) {
    if (!hit) Fail("%s failed outside the fault-injection window", what);
    Verify(what);
    return;
  }
  if (hit) {
    Fail("%s succeeded although a call in the fault window failed", what);
  }
  Block b{};
  b.p = static_cast<unsigned char*>(p);
  b.size = bytes;
  b.id = m.next_block_id++;
  b.domain = d;
  b.base = CurBase(d);
  b.debug = CurDebug(d);
  b.traced = m.tracing;
  if (PymallocBlock(b)) AccountNew(b, bytes + (b.debug ? DebugExtra() : 0));
  if (kind == 1) {
    for (std::size_t i = 0; i < bytes; ++i) {
      if (b.p[i] != 0)
        Fail("%s: byte %zu is 0x%02x, not zero", what, i, b.p[i]);
    }
  }
  AddRange(b, what);
  CheckDebugRecord(b, what);
  FillPattern(b, 0);
  m.blocks.push_back(b);
  Verify(what);
}

void RemoveBlock(std::size_t index) {
  m.blocks[index] = m.blocks.back();
  m.blocks.pop_back();
}

void DoFree(int d, std::size_t index) {
  const HookCalls hooks_before = ReadHookCalls();
  const std::int64_t calls_before = ia::NoMemoryCallCount();
  char what[96];
  if (index == SIZE_MAX) {
    std::snprintf(what, sizeof(what), "domain %d free(NULL)", d);
    Note("%s", what);
    DomainFree(d, nullptr);
  } else {
    Block b = m.blocks[index];
    std::snprintf(what, sizeof(what), "domain %d free(block %u, %zu bytes)", d,
                  b.id, b.size);
    Note("%s", what);
    CheckPattern(b, b.size, what);
    CheckDebugRecord(b, what);
    DomainFree(d, b.p);
    RemoveRange(b);
    if (PymallocBlock(b)) AccountFree(b);
    RemoveBlock(index);
  }
  if (ia::NoMemoryCallCount() != calls_before) {
    Fail("%s: a free was counted by the fault-injection hook", what);
  }
  CheckHookCalls(hooks_before, d, kFreeCall, true, false, what);
  Verify(what);
}

void DoRealloc(int d, std::size_t index, std::size_t n) {
  Block& b = m.blocks[index];
  char what[112];
  std::snprintf(what, sizeof(what), "domain %d realloc(block %u, %zu -> %zu)",
                d, b.id, b.size, n);
  Note("%s", what);
  CheckPattern(b, b.size, what);
  CheckDebugRecord(b, what);
  const bool too_big = n > static_cast<std::size_t>(PTRDIFF_MAX);
  // A block the debug hooks never made (set up after it) moves into a new
  // debug block.
  const bool unknown_path = CurDebug(d) && !b.debug;
  const HookCalls hooks_before = ReadHookCalls();
  const std::int64_t calls_before = ia::NoMemoryCallCount();
  void* q = DomainRealloc(d, b.p, n);
  const std::int64_t calls_after = ia::NoMemoryCallCount();
  if (too_big) {
    if (q != nullptr) Fail("%s returned %p past PTRDIFF_MAX", what, q);
    if (calls_after != calls_before) {
      Fail("%s: a refused request reached the fault-injection hook", what);
    }
    CheckHookCalls(hooks_before, d, kReallocCall, false, false, what);
    CheckPattern(b, b.size, what);
    Verify(what);
    return;
  }
  CheckFaultCount(calls_before, calls_after, what);
  const bool hit = WindowHit(calls_before, calls_after);
  CheckHookCalls(hooks_before, d, kReallocCall, true,
                 NoMemInstalled() && InWindow(calls_before + 1), what);
  if (q == nullptr) {
    if (!hit) Fail("%s failed outside the fault-injection window", what);
    // A failed realloc leaves the block as it was.
    CheckPattern(b, b.size, what);
    CheckDebugRecord(b, what);
    Verify(what);
    return;
  }
  if (hit) {
    Fail("%s succeeded although a call in the fault window failed", what);
  }
  const std::size_t old_size = b.size;
  RemoveRange(b);
  if (PymallocBlock(b)) {
    bool in_place = false;
    if (!CurDebug(d)) {
      in_place = AccountRealloc(b, n);
    } else if (!unknown_path) {
      in_place = AccountRealloc(b, n + DebugExtra());
    } else {
      AccountFree(b);
      AccountNew(b, n + DebugExtra());
    }
    if (in_place && q != b.p) {
      Fail(
          "%s moved the block to %p; pymalloc keeps a block in place when "
          "the size stays in its class above 3/4",
          what, q);
    }
  }
  b.p = static_cast<unsigned char*>(q);
  b.size = n;
  b.debug = CurDebug(d);
  b.traced = m.tracing;
  AddRange(b, what);
  CheckPattern(b, std::min(old_size, n), what);
  CheckDebugRecord(b, what);
  FillPattern(b, std::min(old_size, n));
  Verify(what);
}

// Picks a block of domain `d` that the current configuration can take back.
std::size_t PickBlock(int d, std::uint8_t pick) {
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < m.blocks.size(); ++i) {
    if (m.blocks[i].domain == d && Compatible(m.blocks[i])) {
      candidates.push_back(i);
    }
  }
  if (candidates.empty()) return SIZE_MAX;
  return candidates[pick % candidates.size()];
}

// ---- Interpreters ----

void DoCreate(int shape) {
  // 0: NULL config; 1: own lock and heap; 2: main lock and heap; 3: main lock,
  // own heap; then refused shapes: own lock with main's heap, host lock
  // without predicate, unknown lock kind, a predicate with the main lock.
  static const char* const kShapes[] = {
      "NULL",           "own/own",
      "main/main",      "main/own",
      "own/main (bad)", "host, no predicate (bad)",
      "lock 7 (bad)",   "main + predicate (bad)"};
  char what[80];
  std::snprintf(what, sizeof(what), "create interpreter %s", kShapes[shape]);
  Note("%s", what);
  if (AliveInterps() >= kMaxLiveInterps && shape < 4) return;
  ih_interp_config_t config{};
  config.host_lock_held = nullptr;
  config.host_lock_ctx = nullptr;
  bool own_heap = true;
  int want = IH_OK;
  switch (shape) {
    case 1:
      config.lock = IH_LOCK_OWN;
      config.own_heap = 1;
      break;
    case 2:
      config.lock = IH_LOCK_MAIN;
      config.own_heap = 0;
      own_heap = false;
      break;
    case 3:
      config.lock = IH_LOCK_MAIN;
      config.own_heap = 1;
      break;
    case 4:
      config.lock = IH_LOCK_OWN;
      config.own_heap = 0;
      want = IH_INVALID_ARGUMENT;
      break;
    case 5:
      config.lock = IH_LOCK_HOST;
      config.own_heap = 1;
      want = IH_INVALID_ARGUMENT;
      break;
    case 6:
      config.lock = 7;
      config.own_heap = 1;
      want = IH_INVALID_ARGUMENT;
      break;
    case 7:
      config.lock = IH_LOCK_MAIN;
      config.own_heap = 0;
      config.host_lock_held = [](void*) { return 1; };
      want = IH_INVALID_ARGUMENT;
      break;
    default:
      break;
  }
  // An unknown lock kind is refused by the C API before the runtime looks.
  if (shape != 6 && m.state != IH_RUNTIME_INITIALIZED) {
    want = IH_FAILED_PRECONDITION;
  }
  const Snapshot before = Take();
  ih_status_t st;
  ih_interp_t* made = ih_interp_create(shape == 0 ? nullptr : &config, &st);
  ExpectStatus(what, st.code, st, want);
  if (want != IH_OK) {
    if (made != nullptr) Fail("%s: refused but returned a handle", what);
    ExpectUnchanged(before, what);
  } else {
    if (made == nullptr) Fail("%s: OK without a handle", what);
    Interp interp{};
    interp.handle = made;
    interp.alive = true;
    interp.is_main = false;
    interp.own_heap = own_heap;
    interp.id = m.next_interp_id++;
    if (own_heap) {
      interp.heap = static_cast<int>(m.heaps.size());
      m.heaps.emplace_back();
    } else {
      for (const Interp& i : m.interps) {
        if (i.alive && i.is_main) interp.heap = i.heap;
      }
    }
    m.interps.push_back(interp);
  }
  Verify(what);
}

// `which` indexes m.interps (live or destroyed); past the end: NULL.
ih_interp_t* HandleOf(int which) {
  return which < static_cast<int>(m.interps.size()) ? m.interps[which].handle
                                                    : nullptr;
}

void DoDestroy(int which) {
  char what[64];
  std::snprintf(what, sizeof(what), "destroy interpreter [%d]", which);
  Note("%s", what);
  const bool known = which < static_cast<int>(m.interps.size());
  int want = IH_OK;
  if (m.state != IH_RUNTIME_INITIALIZED) {
    want = IH_FAILED_PRECONDITION;
  } else if (!known || !m.interps[which].alive) {
    want = IH_NOT_FOUND;
  } else if (m.interps[which].is_main || m.attached == which) {
    want = IH_FAILED_PRECONDITION;
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_interp_destroy(HandleOf(which), &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else {
    m.interps[which].alive = false;
  }
  Verify(what);
}

void DoAttach(int which) {
  char what[64];
  std::snprintf(what, sizeof(what), "attach to interpreter [%d]", which);
  Note("%s", what);
  const bool known = which < static_cast<int>(m.interps.size());
  int want = IH_OK;
  if (!known || !m.interps[which].alive) {
    want = IH_NOT_FOUND;
  } else if (m.attached >= 0) {
    want = IH_FAILED_PRECONDITION;
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_thread_attach(HandleOf(which), &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else {
    m.attached = which;
  }
  Verify(what);
}

void DoDetach() {
  Note("detach");
  const int want = m.attached >= 0 ? IH_OK : IH_FAILED_PRECONDITION;
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_thread_detach(&st);
  ExpectStatus("detach", rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, "detach");
  } else {
    m.attached = -1;
  }
  Verify("detach");
}

// ---- Lifecycle ----

const char* ConfigNameOf(int config) {
  return config == kBadConfig ? "pymalloc2" : kConfigs[config].name;
}

// The code applying a named configuration gives once the lifecycle allows
// it; interns its layers as the table does (also when it then fails).
int PredictConfiguration(int config) {
  if (config == kBadConfig) return IH_INVALID_ARGUMENT;
  const ConfigName& c = kConfigs[config];
  if (c.base == Base::kMimalloc && !mimalloc_loads) {
    return IH_FAILED_PRECONDITION;
  }
  for (int d = 0; d < kDomains; ++d) {
    const Layer base = BaseLayer(d == kRaw ? Base::kLibc : c.base);
    if (!Intern({LayerCode(base, d)})) return IH_RESOURCE_EXHAUSTED;
    if (c.debug &&
        !Intern({LayerCode(base, d), LayerCode({Kind::kDebug, 0}, d)})) {
      return IH_RESOURCE_EXHAUSTED;
    }
  }
  return IH_OK;
}

void ApplyConfiguration(int config) {
  const ConfigName& c = kConfigs[config];
  for (int d = 0; d < kDomains; ++d) {
    m.stack[d] = {BaseLayer(d == kRaw ? Base::kLibc : c.base)};
    if (c.debug) m.stack[d].push_back({Kind::kDebug, 0});
  }
  if (c.debug) m.pass_down = false;
  // Hooks of the previous cycle are gone, tracemalloc's with them.
  m.tracing = false;
  for (Block& b : m.blocks) b.traced = false;
}

void DoPreInitialize(int config) {
  char what[64];
  std::snprintf(what, sizeof(what), "pre-initialize(%s)", ConfigNameOf(config));
  Note("%s", what);
  int want = IH_OK;
  if (m.state != IH_RUNTIME_UNINITIALIZED && m.state != IH_RUNTIME_FINALIZED) {
    want = IH_FAILED_PRECONDITION;
  } else {
    want = PredictConfiguration(config);
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_runtime_pre_initialize(ConfigNameOf(config), &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else {
    ApplyConfiguration(config);
    m.state = IH_RUNTIME_PRE_INITIALIZED;
  }
  Verify(what);
}

void DoApplyConfiguration(int config) {
  char what[64];
  std::snprintf(what, sizeof(what), "apply configuration(%s)",
                ConfigNameOf(config));
  Note("%s", what);
  int want = IH_OK;
  if (m.state != IH_RUNTIME_PRE_INITIALIZED) {
    want = IH_FAILED_PRECONDITION;
  } else {
    for (int d = 0; d < kDomains; ++d) {
      const std::size_t hooks = m.stack[d].size() - 1;
      const bool only_debug =
          hooks == 1 && m.stack[d].back().kind == Kind::kDebug;
      if (hooks > 0 && !only_debug) want = IH_FAILED_PRECONDITION;
    }
    if (want == IH_OK) want = PredictConfiguration(config);
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_runtime_apply_configuration(ConfigNameOf(config), &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else {
    ApplyConfiguration(config);
  }
  Verify(what);
}

void DoInitialize() {
  Note("initialize");
  const int want =
      m.state == IH_RUNTIME_PRE_INITIALIZED ? IH_OK : IH_FAILED_PRECONDITION;
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_runtime_initialize(&st);
  ExpectStatus("initialize", rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, "initialize");
  } else {
    m.state = IH_RUNTIME_INITIALIZED;
    Interp main{};
    main.handle = ih_interp_main();
    main.alive = true;
    main.is_main = true;
    main.own_heap = true;
    main.heap = static_cast<int>(m.heaps.size());
    main.id = 0;
    m.heaps.emplace_back();
    if (main.handle == nullptr) Fail("initialize: no main interpreter");
    m.interps.push_back(main);
  }
  Verify("initialize");
}

void DoFinalize() {
  Note("finalize");
  int want = IH_OK;
  if (m.state != IH_RUNTIME_INITIALIZED || AliveInterps() > 1) {
    want = IH_FAILED_PRECONDITION;
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_runtime_finalize(&st);
  ExpectStatus("finalize", rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, "finalize");
  } else {
    m.state = IH_RUNTIME_FINALIZED;
    m.attached = -1;  // the caller was attached to main, or to nothing
    for (Interp& i : m.interps) i.alive = false;
  }
  Verify("finalize");
}

void DoReset() {
  Note("reset");
  const int want =
      m.state == IH_RUNTIME_PRE_INITIALIZED || m.state == IH_RUNTIME_FINALIZED
          ? IH_OK
          : IH_FAILED_PRECONDITION;
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_runtime_reset(&st);
  ExpectStatus("reset", rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, "reset");
  } else {
    m.state = IH_RUNTIME_UNINITIALIZED;
    for (int d = 0; d < kDomains; ++d) m.stack[d] = {BaseLayer(Base::kLibc)};
    m.tracing = false;
    for (Block& b : m.blocks) b.traced = false;
  }
  Verify("reset");
}

// ---- Hooks ----

bool WrapAllowed() {
  return m.state == IH_RUNTIME_PRE_INITIALIZED ||
         m.state == IH_RUNTIME_INITIALIZED;
}
bool UnwrapAllowed() { return m.state != IH_RUNTIME_UNINITIALIZED; }

// AllocatorTable::Wrap's checks after the lifecycle's, for `layer` on `d`;
// `previous_in_use`: the given storage belongs to an installed hook.
int PredictWrap(int d, const Layer& layer, bool previous_in_use) {
  if (static_cast<int>(m.stack[d].size()) - 1 >=
      ia::AllocatorTable::kMaxHooks) {
    return IH_RESOURCE_EXHAUSTED;
  }
  if (HasLayer(d, layer) || previous_in_use) return IH_FAILED_PRECONDITION;
  std::vector<int> path = PathOf(d, m.stack[d].size());
  path.push_back(LayerCode(layer, d));
  return Intern(std::move(path)) ? IH_OK : IH_RESOURCE_EXHAUSTED;
}

// Runtime::WrapAllLocked: one layer per domain, undone on the first refusal.
int PredictWrapAll(Kind kind) {
  for (int d = 0; d < kDomains; ++d) {
    const int code = PredictWrap(d, {kind, 0}, false);
    if (code != IH_OK) return code;
  }
  return IH_OK;
}

// The installed layers whose `previous` storage another hook could borrow.
std::vector<std::pair<int, Layer>> InstalledHooks() {
  std::vector<std::pair<int, Layer>> hooks;
  for (int d = 0; d < kDomains; ++d) {
    for (std::size_t i = 1; i < m.stack[d].size(); ++i) {
      hooks.push_back({d, m.stack[d][i]});
    }
  }
  return hooks;
}

// The `previous` storage of an installed user hook; nullptr for the
// library's hooks, which read what they wrap through a HookLink that the C
// API cannot name.
ih_allocator_t* PreviousStorage(int d, const Layer& layer) {
  if (layer.kind != Kind::kUser) return nullptr;
  return &user_hooks[layer.index][d].previous;
}

// variant 0-4: wrap; 5: with the `previous` storage of an installed hook;
// 6: with no `previous` storage; 7: an unknown domain.
void DoWrap(int h, int d, int variant, std::uint8_t pick) {
  char what[80];
  std::snprintf(what, sizeof(what), "wrap %s on domain %d (variant %d)",
                LayerName({Kind::kUser, h}), d, variant);
  Note("%s", what);
  const Layer layer{Kind::kUser, h};
  ih_allocator_t* previous = &user_hooks[h][d].previous;
  int domain = d;
  int want = IH_OK;
  bool borrowed = false;
  if (variant == 5) {
    const std::vector<std::pair<int, Layer>> hooks = InstalledHooks();
    if (hooks.empty()) return;  // nothing to borrow: it would succeed
    const auto& victim = hooks[pick % hooks.size()];
    previous = PreviousStorage(victim.first, victim.second);
    if (previous == nullptr) return;
    borrowed = previous != &user_hooks[h][d].previous || HasLayer(d, layer);
    if (!borrowed) return;
  } else if (variant == 6) {
    previous = nullptr;
  } else if (variant == 7) {
    domain = 3;
  }
  if (domain == 3) {
    want = IH_INVALID_ARGUMENT;
  } else if (!WrapAllowed()) {
    want = IH_FAILED_PRECONDITION;
  } else if (previous == nullptr) {
    want = IH_INVALID_ARGUMENT;
  } else {
    want = PredictWrap(d, layer, borrowed);
  }
  const Snapshot before = Take();
  const ih_allocator_t hook = UserHook(h, d);
  ih_status_t st;
  const int rc =
      ih_wrap_allocator(static_cast<ih_domain_t>(domain), &hook, previous, &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else {
    m.stack[d].push_back(layer);
  }
  Verify(what);
}

// variant 0-2: unwrap the user hook; 3: unwrap the debug hook of `d`.
void DoUnwrap(int h, int d, int variant) {
  const Layer layer =
      variant == 3 ? Layer{Kind::kDebug, 0} : Layer{Kind::kUser, h};
  char what[80];
  std::snprintf(what, sizeof(what), "unwrap %s from domain %d",
                LayerName(layer), d);
  Note("%s", what);
  int want = IH_OK;
  if (!UnwrapAllowed() || layer.kind == Kind::kDebug ||
      m.stack[d].size() == 1 || !(m.stack[d].back() == layer)) {
    want = IH_FAILED_PRECONDITION;
  }
  const Snapshot before = Take();
  const ih_allocator_t hook = AllocatorOf(layer, d);
  ih_status_t st;
  const int rc = ih_unwrap_allocator(static_cast<ih_domain_t>(d), &hook, &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else {
    m.stack[d].pop_back();
  }
  Verify(what);
}

void DoTraceStart(int nframe) {
  char what[64];
  std::snprintf(what, sizeof(what), "tracemalloc start(%d)", nframe);
  Note("%s", what);
  int want = IH_OK;
  if (nframe < 1 || nframe > 65535) {
    want = IH_INVALID_ARGUMENT;
  } else if (!WrapAllowed()) {
    want = IH_FAILED_PRECONDITION;
  } else if (!m.tracing) {
    want = PredictWrapAll(Kind::kTrace);
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_tracemalloc_start(nframe, &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else if (!m.tracing) {
    for (int d = 0; d < kDomains; ++d) m.stack[d].push_back({Kind::kTrace, 0});
    m.tracing = true;
  }
  Verify(what);
}

void DoTraceStop() {
  Note("tracemalloc stop");
  int want = IH_OK;
  if (!UnwrapAllowed()) {
    want = IH_FAILED_PRECONDITION;
  } else if (m.tracing) {
    for (int d = 0; d < kDomains; ++d) {
      if (m.stack[d].back().kind != Kind::kTrace) {
        want = IH_FAILED_PRECONDITION;
      }
    }
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_tracemalloc_stop(&st);
  ExpectStatus("tracemalloc stop", rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, "tracemalloc stop");
  } else if (m.tracing) {
    for (int d = 0; d < kDomains; ++d) m.stack[d].pop_back();
    m.tracing = false;
    for (Block& b : m.blocks) b.traced = false;
  }
  Verify("tracemalloc stop");
}

void DoTrack(std::uint8_t arg) {
  const std::uintptr_t ptr = 0x1000 + arg % 4 * 0x10;
  Note("tracemalloc track/untrack(0x%zx)", static_cast<std::size_t>(ptr));
  const int tracked = ih_tracemalloc_track(kTrackDomain, ptr, 32 + arg);
  const std::size_t with = ia::TraceCount(kTrackDomain);
  const int untracked = ih_tracemalloc_untrack(kTrackDomain, ptr);
  const std::size_t without = ia::TraceCount(kTrackDomain);
  const int want = m.tracing ? 0 : -2;
  if (tracked != want || untracked != want) {
    Fail(
        "ih_tracemalloc_track/untrack returned %d/%d, the model expects %d "
        "(tracing %d)",
        tracked, untracked, want, m.tracing ? 1 : 0);
  }
  if (with != (m.tracing ? 1u : 0u) || without != 0) {
    Fail(
        "trace domain %u held %zu traces after track, %zu after untrack "
        "(tracing %d)",
        kTrackDomain, with, without, m.tracing ? 1 : 0);
  }
  Verify("tracemalloc track/untrack");
}

void DoNoMemory(std::int64_t start, std::int64_t stop) {
  char what[80];
  std::snprintf(what, sizeof(what), "set nomemory(%lld, %lld)",
                static_cast<long long>(start), static_cast<long long>(stop));
  Note("%s", what);
  int want = IH_OK;
  if (start < 0 || stop < 0 || (stop != 0 && stop <= start)) {
    want = IH_INVALID_ARGUMENT;
  } else if (!WrapAllowed()) {
    want = IH_FAILED_PRECONDITION;
  } else if (!NoMemInstalled()) {
    want = PredictWrapAll(Kind::kNoMem);
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_set_nomemory(start, stop, &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else {
    if (!NoMemInstalled()) {
      for (int d = 0; d < kDomains; ++d) {
        m.stack[d].push_back({Kind::kNoMem, 0});
      }
    }
    m.nomem_start = start;
    m.nomem_stop = stop;
    if (ia::NoMemoryCallCount() != 0) {
      Fail("%s: the call count did not restart", what);
    }
  }
  Verify(what);
}

void DoRemoveNoMemory() {
  Note("remove nomemory");
  int want = IH_OK;
  if (!UnwrapAllowed()) {
    want = IH_FAILED_PRECONDITION;
  } else if (NoMemInstalled()) {
    for (int d = 0; d < kDomains; ++d) {
      if (m.stack[d].back().kind != Kind::kNoMem) {
        want = IH_FAILED_PRECONDITION;
      }
    }
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_remove_nomemory(&st);
  ExpectStatus("remove nomemory", rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, "remove nomemory");
  } else if (NoMemInstalled()) {
    for (int d = 0; d < kDomains; ++d) m.stack[d].pop_back();
  }
  Verify("remove nomemory");
}

void DoSetupDebugHooks(bool serial) {
  char what[64];
  std::snprintf(what, sizeof(what), "setup debug hooks(serial %d)",
                serial ? 1 : 0);
  Note("%s", what);
  int want = IH_OK;
  const bool installed = CurDebug(kRaw);
  if (!WrapAllowed()) {
    want = IH_FAILED_PRECONDITION;
  } else if (installed && m.serial != serial) {
    want = IH_FAILED_PRECONDITION;
  } else if (!installed) {
    want = PredictWrapAll(Kind::kDebug);
  }
  const Snapshot before = Take();
  ih_status_t st;
  const int rc = ih_setup_debug_hooks(serial ? 1 : 0, &st);
  ExpectStatus(what, rc, st, want);
  if (want != IH_OK) {
    ExpectUnchanged(before, what);
  } else if (!installed) {
    for (int d = 0; d < kDomains; ++d) m.stack[d].push_back({Kind::kDebug, 0});
    m.serial = serial;
    m.pass_down = true;
  }
  Verify(what);
}

void DoCheck(std::uint8_t pick, bool json) {
  Note("check (stats %s)", json ? "json" : "text");
  if (!m.blocks.empty()) {
    const Block& b = m.blocks[pick % m.blocks.size()];
    CheckPattern(b, b.size, "check");
  }
  ih_status_t st;
  const int rc = ih_write_stats(dev_null, json ? 1 : 0, &st);
  const bool own = m.attached >= 0 && m.interps[m.attached].own_heap;
  ExpectStatus("write stats", rc, st, own ? IH_OK : IH_FAILED_PRECONDITION);
  Verify("check");
}

// ---- Ending an input ----

void FreeAllCompatible() {
  bool freed = true;
  while (freed) {
    freed = false;
    for (std::size_t i = 0; i < m.blocks.size(); ++i) {
      if (Compatible(m.blocks[i])) {
        DoFree(m.blocks[i].domain, i);
        freed = true;
        break;
      }
    }
  }
}

// A configuration that can take `b` back.
int ConfigFor(const Block& b) {
  if (b.domain == kRaw) return b.debug ? 3 : 2;  // malloc_debug / malloc
  switch (b.base) {
    case Base::kLibc:
      return b.debug ? 3 : 2;
    case Base::kPymalloc:
      return b.debug ? 5 : 4;
    case Base::kMimalloc:
      return b.debug ? 7 : 6;
  }
  return 4;
}

int MainIndex() {
  for (std::size_t i = 0; i < m.interps.size(); ++i) {
    if (m.interps[i].alive && m.interps[i].is_main) return static_cast<int>(i);
  }
  return -1;
}

// Frees every block and leaves the runtime kUninitialized, through the same
// checked operations.
void EndInput() {
  Note("-- end of input: free everything, back to kUninitialized --");
  if (m.attached >= 0) DoDetach();
  for (int round = 0;; ++round) {
    if (round > 16) Fail("cleaning up did not converge");
    switch (m.state) {
      case IH_RUNTIME_INITIALIZED:
        for (std::size_t i = 0; i < m.interps.size(); ++i) {
          if (m.interps[i].alive && !m.interps[i].is_main) {
            DoDestroy(static_cast<int>(i));
          }
        }
        DoAttach(MainIndex());
        FreeAllCompatible();
        DoDetach();
        DoFinalize();
        break;
      case IH_RUNTIME_PRE_INITIALIZED:
      case IH_RUNTIME_FINALIZED:
        FreeAllCompatible();
        DoReset();
        break;
      case IH_RUNTIME_UNINITIALIZED:
        FreeAllCompatible();
        if (m.blocks.empty()) {
          if (ih_global_allocated_blocks() != global_baseline) {
            Fail("every block is freed but the global count is %lld",
                 static_cast<long long>(ih_global_allocated_blocks()));
          }
          m.interps.clear();
          m.heaps.clear();
          m.ranges.clear();
          return;
        }
        DoPreInitialize(ConfigFor(m.blocks.front()));
        DoInitialize();
        break;
      default:
        Fail("runtime left in state %d", m.state);
    }
  }
}

void SetUpOnce() {
  static bool done = false;
  if (done) return;
  done = true;
  trace_live = std::getenv("INTERPHEAP_FUZZ_TRACE") != nullptr;
  ih_set_fatal_handler(&OnLibraryFatal);
  // Cross-interpreter frees under the debug hooks are reported, not fatal
  // (CPython hosts' setting), so the model can free across interpreters in
  // every configuration.
  ia::SetCrossInterpreterFreePolicy(ia::CrossInterpreterFreePolicy::kReport);
  mimalloc_loads = ia::LoadMimalloc().ok();
  dev_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (ih_runtime_state() != IH_RUNTIME_UNINITIALIZED) {
    Fail("the runtime is not kUninitialized at start");
  }
  for (int d = 0; d < kDomains; ++d) m.stack[d] = {BaseLayer(Base::kLibc)};
  m.serial = ia::GetDebugHookOptions().serial_numbers;
  global_baseline = ih_global_allocated_blocks();
  // Every named configuration's layers exist from the start, so the clean-up
  // at the end of an input can always apply one.
  for (int config = 0; config < kConfigCount; ++config) {
    DoPreInitialize(config);
    if (m.state == IH_RUNTIME_PRE_INITIALIZED) DoReset();
  }
}

// The input format (tests/fuzz/make_corpus.py writes it): one opcode byte,
// taken modulo 32, then its argument bytes (0 once the input runs out).
//   0-2, 9-11    allocate in domain op%3: kind (%8: 4 calloc(n, 1), 5
//                calloc(n/16, 16), 6 realloc(NULL, n), else malloc), size a, b
//   3-5, 29-31   realloc in domain op%3: block pick, size a, b
//   6-8, 12-14   free in domain op%3: block pick (255: free(NULL))
//   15 create (shape %8), 16 destroy, 17-18 attach (interpreter pick), 19
//   detach, 20-21 lifecycle (sub %5: pre-initialize, initialize, finalize,
//   reset, apply; configuration %9), 22-23 wrap (hook + 3 * domain, variant,
//   pick), 24 unwrap (hook + 3 * domain, variant), 25 tracemalloc (sub, arg),
//   26 fault injection (sub, a, b), 27 debug hooks (serial), 28 check (pick).
void RunOne(Input& in) {
  for (int ops = 0; ops < kMaxOps && !in.empty(); ++ops) {
    ++op_number;
    const std::uint8_t op = in.U8();
    switch (op % 32) {
      case 0:
      case 1:
      case 2:
      case 9:
      case 10:
      case 11: {
        const int d = op % 32 % 3;
        const std::uint8_t kind = in.U8();
        const std::uint8_t a = in.U8();
        const std::uint8_t b = in.U8();
        const std::size_t n = DecodeSize(a, b);
        switch (kind % 8) {
          case 4:
            DoAlloc(d, 1, n, 1);
            break;
          case 5:
            DoAlloc(d, 1, n / 16 + (b == 255 ? SIZE_MAX / 8 : 0), 16);
            break;
          case 6:
            DoAlloc(d, 2, n, 0);
            break;
          default:
            DoAlloc(d, 0, n, 0);
        }
        break;
      }
      case 3:
      case 4:
      case 5:
      case 29:
      case 30:
      case 31: {
        const int d = op % 32 % 3;
        const std::uint8_t pick = in.U8();
        const std::uint8_t a = in.U8();
        const std::uint8_t b = in.U8();
        const std::size_t index = PickBlock(d, pick);
        if (index != SIZE_MAX) DoRealloc(d, index, DecodeSize(a, b));
        break;
      }
      case 6:
      case 7:
      case 8:
      case 12:
      case 13:
      case 14: {
        const int d = op % 32 % 3;
        const std::uint8_t pick = in.U8();
        if (pick == 255) {
          if (AllocationAllowedHere(d)) DoFree(d, SIZE_MAX);
        } else {
          const std::size_t index = PickBlock(d, pick);
          if (index != SIZE_MAX) DoFree(d, index);
        }
        break;
      }
      case 15:
        DoCreate(in.U8() % 8);
        break;
      case 16:
        DoDestroy(in.U8() % (m.interps.size() + 1));
        break;
      case 17:
      case 18:
        DoAttach(in.U8() % (m.interps.size() + 1));
        break;
      case 19:
        DoDetach();
        break;
      case 20:
      case 21: {
        const std::uint8_t sub = in.U8();
        const int config = in.U8() % (kConfigCount + 1);
        switch (sub % 5) {
          case 0:
            DoPreInitialize(config);
            break;
          case 1:
            DoInitialize();
            break;
          case 2:
            DoFinalize();
            break;
          case 3:
            DoReset();
            break;
          default:
            DoApplyConfiguration(config);
        }
        break;
      }
      case 22:
      case 23: {
        const std::uint8_t which = in.U8();
        const std::uint8_t variant = in.U8();
        DoWrap(which % 9 % kUserHooks, which % 9 / kUserHooks, variant % 8,
               in.U8());
        break;
      }
      case 24: {
        const std::uint8_t which = in.U8();
        const std::uint8_t variant = in.U8();
        DoUnwrap(which % 9 % kUserHooks, which % 9 / kUserHooks, variant % 4);
        break;
      }
      case 25: {
        const std::uint8_t sub = in.U8();
        const std::uint8_t arg = in.U8();
        switch (sub % 6) {
          case 0:
          case 1:
            DoTraceStart(1 + arg % 8);
            break;
          case 2:
            DoTraceStart(arg % 2 == 0 ? 0 : 65536);
            break;
          case 3:
          case 4:
            DoTraceStop();
            break;
          default:
            DoTrack(arg);
        }
        break;
      }
      case 26: {
        const std::uint8_t sub = in.U8();
        const std::int64_t a = in.U8() % 8;
        const std::int64_t b = in.U8() % 4;
        switch (sub % 4) {
          case 0:
            DoNoMemory(a, 0);
            break;
          case 1:
            DoNoMemory(a, a + 1 + b);
            break;
          case 2:
            DoNoMemory(b % 2 == 0 ? -1 : a + 1, b % 2 == 0 ? 0 : a);
            break;
          default:
            DoRemoveNoMemory();
        }
        break;
      }
      case 27:
        DoSetupDebugHooks((in.U8() & 1) != 0);
        break;
      default: {  // 28
        const std::uint8_t pick = in.U8();
        DoCheck(pick, (pick & 1) != 0);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  SetUpOnce();
  Input in(data, size);
  RunOne(in);
  EndInput();
  return 0;
}
