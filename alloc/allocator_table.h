// alloc/allocator_table.h: the installed allocator of each domain.
//
// Each domain (raw, mem, obj) has a stack of layers: a base allocator and up
// to kMaxHooks hooks above it. A hook wraps the layer below it: Wrap() hands
// the hook the allocator it replaces on top, so "a hook calls the previous
// allocator" holds by construction. Hooks come off in LIFO order.
//
//   top(domain) ──► layer {hook B, below} ──► layer {hook A, below}
//                                              ──► layer {base, nullptr}
//
// Layers live in a fixed array of slots inside the table (no allocation,
// constant-initialized). A layer is immutable while any domain can reach
// it; a layer whose contents equal an existing one is reused, so wrapping
// and unwrapping the same hook forever uses no new slot, and a slot no
// domain reaches any more is rewritten for a new layer when no free slot is
// left (readers validate their copy: "Slots and readers" below).
//
// This is the mechanism only: which operations are allowed in which
// lifecycle state is decided by interp/runtime_state.h before it calls here.
// The data plane (alloc/domain.h) reads with Load(): lock-free.

#ifndef INTERPHEAP_ALLOC_ALLOCATOR_TABLE_H_
#define INTERPHEAP_ALLOC_ALLOCATOR_TABLE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <optional>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "alloc/allocator.h"
#include "alloc/raw_allocator.h"
#include "sync/mutex.h"

namespace interpheap::alloc {

using Allocator = ih_allocator_t;

enum class Domain : int {
  kRaw = IH_DOMAIN_RAW,
  kMem = IH_DOMAIN_MEM,
  kObj = IH_DOMAIN_OBJ,
};
inline constexpr int kDomainCount = IH_DOMAIN_COUNT;
inline constexpr std::array<Domain, kDomainCount> kAllDomains = {
    Domain::kRaw, Domain::kMem, Domain::kObj};

// "raw", "mem" or "obj".
const char* DomainName(Domain domain) noexcept;

// True for allocators whose five fields are equal.
bool SameAllocator(const Allocator& a, const Allocator& b) noexcept;

class AllocatorTable;

// One slot of the table: a layer of a domain's stack while some domain can
// reach it, and reusable once none can (see "Slots and readers" below).
// One cache line, so that a slot's address is its index shifted.
class alignas(64) AllocatorLayer {
 public:
  constexpr AllocatorLayer() = default;
  constexpr explicit AllocatorLayer(const Allocator& base)
      : ctx_(base.ctx),
        malloc_(base.malloc),
        calloc_(base.calloc),
        realloc_(base.realloc),
        free_(base.free) {}
  AllocatorLayer(const AllocatorLayer&) = delete;
  AllocatorLayer& operator=(const AllocatorLayer&) = delete;

  // Copies the allocator of the generation `expected` into *out; false if
  // the slot holds (or is being rewritten to) another generation.
  // Lock-free: acquire loads between two loads of the generation (each
  // acquire keeps the second generation load after it; no fence, which
  // ThreadSanitizer does not model).
  bool ReadAt(std::uint32_t expected, Allocator* out) const noexcept {
    if (generation_.load(std::memory_order_acquire) != expected) return false;
    CopyTo(out);
    return generation_.load(std::memory_order_relaxed) == expected;
  }
  // Even while the contents are stable, odd while a writer rewrites them.
  std::uint32_t generation() const noexcept {
    return generation_.load(std::memory_order_acquire);
  }
  // One function pointer, for a check that needs no complete copy (the
  // CPython host's "is the top pymalloc" test): whatever generation it
  // reads, the pointer is whole.
  auto free_function() const noexcept {
    return free_.load(std::memory_order_relaxed);
  }

 private:
  friend class AllocatorTable;
  friend class HookLink;

  void CopyTo(Allocator* out) const noexcept {
    out->ctx = ctx_.load(std::memory_order_acquire);
    out->malloc = malloc_.load(std::memory_order_acquire);
    out->calloc = calloc_.load(std::memory_order_acquire);
    out->realloc = realloc_.load(std::memory_order_acquire);
    out->free = free_.load(std::memory_order_acquire);
  }

  std::atomic<std::uint32_t> generation_{0};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<decltype(Allocator::malloc)> malloc_{nullptr};
  std::atomic<decltype(Allocator::calloc)> calloc_{nullptr};
  std::atomic<decltype(Allocator::realloc)> realloc_{nullptr};
  std::atomic<decltype(Allocator::free)> free_{nullptr};
  // Control plane only (the table's lock).
  const AllocatorLayer* below_ = nullptr;  // nullptr for a base allocator
  // A hook's `previous` storage or HookLink (distinct objects, so one
  // pointer tells installed hooks' storage apart).
  const void* storage_ = nullptr;
};

// Where a hook finds the allocator it wraps, safe to read while the hook is
// unwrapped, wrapped again over another layer, or its layers' slots are
// reused: one word naming the slot of the layer below and that slot's
// generation, stored by Wrap() before it publishes. The library's own hooks
// (debug hooks, tracemalloc, fault injection) use one; a hook given plain
// `Allocator* previous` storage instead has that storage rewritten by each
// wrap (see Wrap()).
static_assert(sizeof(AllocatorLayer) == 64);

class HookLink {
 public:
  constexpr explicit HookLink(Domain domain) : domain_(domain) {}
  HookLink(const HookLink&) = delete;
  HookLink& operator=(const HookLink&) = delete;

  // The allocator the hook wraps. If the hook was unwrapped and that
  // layer's slot reused since this thread loaded the hook, the call goes on
  // as a call made now would: to the domain's outermost allocator.
  // Lock-free; the pause runs between the loads (tests park a thread there).
  template <typename Pause>
  Allocator Load(Pause pause) const noexcept;
  Allocator Load() const noexcept {
    return Load([] {});
  }

  // True if the layer the hook wraps is, now, an allocator whose free
  // function is `free_fn` (a hook that calls a known allocator's inline
  // path instead: the debug hooks over pymalloc). False whenever Load()
  // would not return that layer (its slot reused, or being rewritten).
  // Lock-free; reads three words.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool BelowFreeIs(
      decltype(Allocator::free) free_fn) const noexcept;

  Domain domain() const noexcept { return domain_; }

 private:
  friend class AllocatorTable;
  static std::uint64_t Pack(int slot, std::uint32_t generation) {
    return static_cast<std::uint64_t>(generation) << 32 |
           static_cast<std::uint32_t>(slot);
  }

  const Domain domain_;
  std::atomic<const AllocatorTable*> table_{nullptr};
  std::atomic<std::uint64_t> below_{0};
};

// The layers of every domain, outermost first: what tests compare to prove
// that a refused operation changed nothing.
struct AllocatorTableSnapshot {
  static constexpr int kMaxDepth = 1 + 16;
  struct Stack {
    int depth = 0;
    Allocator layers[kMaxDepth] = {};
  };
  Stack stacks[kDomainCount];

  bool operator==(const AllocatorTableSnapshot& other) const noexcept;
  bool operator!=(const AllocatorTableSnapshot& other) const noexcept {
    return !(*this == other);
  }
};

// Thread-safe. Control-plane calls take the table's lock; the data plane
// reads without it (Load()).
//
// Slots and readers. A domain call reads the domain's top word (slot index
// and the generation the slot had when published), copies the function it
// needs and the ctx, and reads the top word again: unchanged, the copy is
// the top's. A slot no domain can reach (not a top, not below one) may be
// reused when no free slot is left: the writer makes the slot's generation
// odd, rewrites it, makes it even again (under the table's lock), then
// publishes. Only an unreachable slot is rewritten and generations only
// grow, so a call that copied a slot reused meanwhile sees a different top
// word and starts again: it never acts on a mix of two layers nor on a layer
// of another domain. A hook reading what it wraps (HookLink) validates the
// same way against the slot's own generation (AllocatorLayer::ReadAt()).
// Reuse never waits for readers: what a reader still holds after its copy is
// the allocator's functions and ctx, which the table does not own. Hence the
// rule for hook owners: after Unwrap() returns, a thread that entered the
// domain before may still call the hook's functions with its ctx until that
// call returns; free the ctx only once every thread that may have been
// allocating then has returned from that call (joined, or synchronised
// with you after it).
class AllocatorTable {
 public:
  static constexpr int kMaxHooks = AllocatorTableSnapshot::kMaxDepth - 1;
  static constexpr int kLayerCapacity = 256;

  // Every domain starts as the C library allocator with no hooks.
  constexpr explicit AllocatorTable(absl::ConstInitType)
      : mu_(absl::kConstInit),
        layers_{AllocatorLayer(kLibcAllocator)},
        top_{0, 0, 0} {}  // slot 0, generation 0
  AllocatorTable() : AllocatorTable(absl::kConstInit) {}

  AllocatorTable(const AllocatorTable&) = delete;
  AllocatorTable& operator=(const AllocatorTable&) = delete;

  // The process-wide table the domains use.
  static AllocatorTable& Global() noexcept { return global_; }

  // The outermost allocator of `domain` (a copy). Lock-free; the pause
  // runs after the copy, before it is validated (tests park a thread
  // there). Retries only when the slot it loaded was reused meanwhile.
  template <typename Pause>
  Allocator Load(Domain domain, Pause pause) const noexcept {
    return ReadTop(
        domain,
        [](const AllocatorLayer& layer) {
          Allocator allocator;
          layer.CopyTo(&allocator);
          return allocator;
        },
        pause);
  }
  Allocator Load(Domain domain) const noexcept {
    return Load(domain, [] {});
  }

  // The data plane's read: one function of the outermost allocator of
  // `domain` with its ctx, validated as Load() validates (two loads fewer
  // than a whole copy).
  template <typename Fn>
  struct Bound {
    void* ctx;
    Fn fn;
  };
  ABSL_ATTRIBUTE_ALWAYS_INLINE auto LoadMalloc(Domain domain) const noexcept {
    return LoadOne(domain, &AllocatorLayer::malloc_);
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE auto LoadCalloc(Domain domain) const noexcept {
    return LoadOne(domain, &AllocatorLayer::calloc_);
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE auto LoadRealloc(Domain domain) const noexcept {
    return LoadOne(domain, &AllocatorLayer::realloc_);
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE auto LoadFree(Domain domain) const noexcept {
    return LoadOne(domain, &AllocatorLayer::free_);
  }
  Allocator Get(Domain domain) const noexcept { return Load(domain); }

  // The outermost slot of `domain`, for one-field checks
  // (AllocatorLayer::free_function()). Never nullptr.
  const AllocatorLayer* top(Domain domain) const noexcept {
    return SlotOf(
        top_[static_cast<int>(domain)].load(std::memory_order_acquire));
  }

  // The top word of `domain`: its outermost slot and that slot's generation
  // (one load). Equal words name the same layer with the same contents
  // (generations only grow), so a caller may remember a word whose layer it
  // validated (Load()) and compare it later instead of reading the layer.
  std::uint64_t TopWord(Domain domain) const noexcept {
    return top_[static_cast<int>(domain)].load(std::memory_order_acquire);
  }

  // Copies the layer `word` (a TopWord()) names into *out, read at that
  // word's generation; false if its slot holds another generation now.
  bool ReadWord(std::uint64_t word, Allocator* out) const noexcept {
    return SlotOf(word)->ReadAt(static_cast<std::uint32_t>(word >> 32), out);
  }

  // Number of hooks above the base allocator of `domain`.
  int HookCount(Domain domain) const ABSL_LOCKS_EXCLUDED(mu_);

  // Makes `allocator` the base of `domain`.
  // FailedPrecondition if hooks are wrapped over the current base (unwrap
  // them first: replacing under them would silently drop them);
  // InvalidArgument if a function pointer is null; ResourceExhausted if
  // every slot is in use by a reachable layer. Changes nothing on failure.
  absl::Status Replace(Domain domain, const Allocator& allocator)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Wraps `hook` over the outermost layer of `domain`; the hook calls what
  // it wrapped through `link` (HookLink::Load()), which Wrap points at the
  // layer below before it publishes. `link` must be of `domain`.
  // FailedPrecondition if `hook` is already a layer of `domain`, or if
  // `link` belongs to a hook installed on any domain: either would make a
  // hook call itself until the stack overflows.
  absl::Status Wrap(Domain domain, const Allocator& hook, HookLink* link)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The same for a hook that calls `*previous` (CPython's
  // PyMem_GetAllocator-then-SetAllocator shape, and the C API's): Wrap
  // stores the layer below into `*previous` before it publishes, skipping
  // the store when it already holds the same allocator. Wrapping such a hook
  // again over a different layer rewrites `*previous` (five words, not
  // atomically) while threads from its earlier installation may still read
  // it: give each installation its own storage, or use a HookLink.
  absl::Status Wrap(Domain domain, const Allocator& hook, Allocator* previous)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Removes `hook`, which must be the outermost layer of `domain`.
  // FailedPrecondition if it is not (hooks come off in LIFO order) or if the
  // domain has no hook.
  absl::Status Unwrap(Domain domain, const Allocator& hook)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sets every domain to the given bases with no hooks (pre-initialization
  // of a named configuration). ResourceExhausted if the slots run out;
  // changes nothing then.
  absl::Status ResetTo(const std::array<Allocator, kDomainCount>& bases)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The same, with `hooks[d]` wrapped over each base in one publication
  // (no caller ever sees a base without its hook), linked by `links[d]`.
  absl::Status ResetToWithHooks(
      const std::array<Allocator, kDomainCount>& bases,
      const std::array<Allocator, kDomainCount>& hooks,
      const std::array<HookLink*, kDomainCount>& links)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The allocator under the outermost layer of `domain`, or nullopt when
  // the outermost layer is the base.
  std::optional<Allocator> Below(Domain domain) const ABSL_LOCKS_EXCLUDED(mu_);

  // True if some layer of `domain` satisfies `match`.
  bool AnyLayer(Domain domain, bool (*match)(const Allocator&)) const
      ABSL_LOCKS_EXCLUDED(mu_);

  AllocatorTableSnapshot Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

  // Slots holding a layer some domain can reach (the rest are free or
  // reusable): what a test checks to prove that unwrapped layers are
  // reclaimed.
  int ReachableSlots() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class HookLink;

  // Returns a slot holding {allocator, below, previous, link}: an equal
  // existing one, a never-used one, or an unreachable one rewritten (never
  // one of `pinned`: slots interned for a publication still to come).
  // nullptr when every slot is reachable or pinned.
  const AllocatorLayer* InternLocked(
      const Allocator& allocator, const AllocatorLayer* below,
      Allocator* previous, const HookLink* link,
      std::initializer_list<const AllocatorLayer*> pinned = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int DepthLocked(Domain domain) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkReachableLocked(bool reachable[kLayerCapacity]) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckWrapLocked(Domain domain, const Allocator& hook,
                               const void* storage) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LinkLocked(HookLink* link, const AllocatorLayer* below)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked(Domain domain, const AllocatorLayer* layer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int IndexOf(const AllocatorLayer* layer) const {
    return static_cast<int>(layer - layers_);
  }

  // The core of Load() and the Load*() of one function: copies what `copy`
  // reads of the top layer, then checks the top word (slot and generation)
  // is unchanged; otherwise starts again.
  template <typename Copy, typename Pause>
  ABSL_ATTRIBUTE_ALWAYS_INLINE auto ReadTop(Domain domain, Copy copy,
                                            Pause pause) const noexcept {
    const std::atomic<std::uint64_t>& top = top_[static_cast<int>(domain)];
    for (;;) {
      const std::uint64_t word = top.load(std::memory_order_acquire);
      auto copied = copy(*SlotOf(word));  // acquire loads: the check is after
      pause();
      // The same slot and generation still on top: the slot was not
      // rewritten in between (only an unreachable slot is, and generations
      // only grow), so the copy is the top's.
      if (ABSL_PREDICT_TRUE(top.load(std::memory_order_acquire) == word)) {
        return copied;
      }
    }
  }

  // A top word: the slot index in the low half, the generation the slot
  // had when it was published in the high half (HookLink's encoding).
  const AllocatorLayer* SlotOf(std::uint64_t word) const noexcept {
    return &layers_[word & 0xFFFFFFFFu];
  }

  template <typename Fn>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Bound<Fn> LoadOne(
      Domain domain, std::atomic<Fn> AllocatorLayer::*field) const noexcept {
    return ReadTop(
        domain,
        [field](const AllocatorLayer& layer) {
          return Bound<Fn>{layer.ctx_.load(std::memory_order_acquire),
                           (layer.*field).load(std::memory_order_acquire)};
        },
        [] {});
  }

  static AllocatorTable global_;

  mutable sync::Mutex mu_;
  // Written only under mu_ (generation odd while rewritten); read lock-free
  // through AllocatorLayer::ReadAt() and Load().
  AllocatorLayer layers_[kLayerCapacity];
  int layers_used_ ABSL_GUARDED_BY(mu_) = 1;
  // The outermost slot of each domain and its generation (SlotOf()).
  // Release-stored under mu_ by PublishLocked(); acquire-loaded by readers.
  std::atomic<std::uint64_t> top_[kDomainCount];
};

template <typename Pause>
Allocator HookLink::Load(Pause pause) const noexcept {
  const AllocatorTable* table = table_.load(std::memory_order_acquire);
  if (table == nullptr) table = &AllocatorTable::Global();  // never wrapped
  for (;;) {
    const std::uint64_t below = below_.load(std::memory_order_acquire);
    pause();
    Allocator allocator;
    if (table->layers_[below & 0xFFFFFFFFu].ReadAt(
            static_cast<std::uint32_t>(below >> 32), &allocator)) {
      return allocator;
    }
    // The slot was reused: the hook was unwrapped since. Unless it was
    // wrapped again meanwhile (the link moved: read that), go on as a call
    // made now.
    if (below_.load(std::memory_order_acquire) == below) {
      return table->Load(domain_);
    }
  }
}

inline bool HookLink::BelowFreeIs(
    decltype(Allocator::free) free_fn) const noexcept {
  const AllocatorTable* table = table_.load(std::memory_order_acquire);
  if (ABSL_PREDICT_FALSE(table == nullptr)) return false;  // never wrapped
  const std::uint64_t below = below_.load(std::memory_order_acquire);
  const AllocatorLayer& layer = table->layers_[below & 0xFFFFFFFFu];
  // The generation first (acquire keeps the function load after it), then
  // again: unchanged, the function is the one of that generation.
  const auto generation = static_cast<std::uint32_t>(below >> 32);
  if (ABSL_PREDICT_FALSE(layer.generation() != generation)) return false;
  const bool same = layer.free_.load(std::memory_order_acquire) == free_fn;
  return same &&
         layer.generation_.load(std::memory_order_relaxed) == generation;
}

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_ALLOCATOR_TABLE_H_
