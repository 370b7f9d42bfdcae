// alloc/allocator_table.h: the installed allocator of each domain.
//
// Each domain (raw, mem, obj) has a stack of layers: a base allocator and up
// to kMaxHooks hooks above it. A hook wraps the layer below it: Wrap() hands
// the hook the allocator it replaces on top, so "a hook calls the previous
// allocator" holds by construction. Hooks come off in LIFO order.
//
//   top_[domain] ──► layer {hook B, below} ──► layer {hook A, below}
//                                              ──► layer {base, nullptr}
//
// Layers are immutable after publication and never freed: a thread that
// loaded the old top can still be inside a hook while another thread
// unwraps it. They live in a fixed array inside the table (no allocation,
// constant-initialized); a layer whose contents equal an existing one is
// reused, so wrapping and unwrapping the same hook forever uses no new slot.
//
// This is the mechanism only: which operations are allowed in which
// lifecycle state is decided by interp/runtime_state.h before it calls here.
// The data plane (alloc/domain.h) reads top_ with one acquire load.

#ifndef INTERPHEAP_ALLOC_ALLOCATOR_TABLE_H_
#define INTERPHEAP_ALLOC_ALLOCATOR_TABLE_H_

#include <array>
#include <atomic>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
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

// One layer of a domain's stack. Immutable after publication.
struct AllocatorLayer {
  Allocator allocator;
  const AllocatorLayer* below;  // nullptr for the base allocator
  Allocator* previous;          // the hook's storage; nullptr for a base
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
// reads without it (top()).
class AllocatorTable {
 public:
  static constexpr int kMaxHooks = AllocatorTableSnapshot::kMaxDepth - 1;
  static constexpr int kLayerCapacity = 256;

  // Every domain starts as the C library allocator with no hooks.
  constexpr explicit AllocatorTable(absl::ConstInitType)
      : mu_(absl::kConstInit),
        layers_{AllocatorLayer{kLibcAllocator, nullptr, nullptr}},
        top_{&layers_[0], &layers_[0], &layers_[0]} {}
  AllocatorTable() : AllocatorTable(absl::kConstInit) {}

  AllocatorTable(const AllocatorTable&) = delete;
  AllocatorTable& operator=(const AllocatorTable&) = delete;

  // The process-wide table the domains use.
  static AllocatorTable& Global() noexcept { return global_; }

  // The outermost layer of `domain`; never nullptr. Acquire-loads what
  // Publish() release-stored, so the layer and everything its hook's
  // `previous` storage holds are visible.
  const AllocatorLayer* top(Domain domain) const noexcept {
    return top_[static_cast<int>(domain)].load(std::memory_order_acquire);
  }

  // The outermost allocator of `domain` (a copy).
  Allocator Get(Domain domain) const noexcept { return top(domain)->allocator; }

  // Number of hooks above the base allocator of `domain`.
  int HookCount(Domain domain) const ABSL_LOCKS_EXCLUDED(mu_);

  // Makes `allocator` the base of `domain`.
  // FailedPrecondition if hooks are wrapped over the current base (unwrap
  // them first: replacing under them would silently drop them);
  // InvalidArgument if a function pointer is null; ResourceExhausted if the
  // layer array is full. Changes nothing on failure.
  absl::Status Replace(Domain domain, const Allocator& allocator)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Wraps `hook` over the outermost layer of `domain`. Stores that layer's
  // allocator in `*previous` first (skipping the store when it already holds
  // the same value, so a hook can be re-wrapped while other threads are
  // still inside it), then publishes. The hook calls *previous.
  // FailedPrecondition if `hook` is already a layer of `domain`, or if
  // `previous` is the storage of a hook installed on any domain: either
  // would make a hook call itself until the stack overflows.
  absl::Status Wrap(Domain domain, const Allocator& hook, Allocator* previous)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Removes `hook`, which must be the outermost layer of `domain`.
  // FailedPrecondition if it is not (hooks come off in LIFO order) or if the
  // domain has no hook.
  absl::Status Unwrap(Domain domain, const Allocator& hook)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sets every domain to the given bases with no hooks (pre-initialization
  // of a named configuration). ResourceExhausted if the layer array is full;
  // changes nothing then.
  absl::Status ResetTo(const std::array<Allocator, kDomainCount>& bases)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The same, with `hooks[d]` wrapped over each base in one publication
  // (no caller ever sees a base without its hook); `*previous[d]` receives
  // the base, as Wrap() does.
  absl::Status ResetToWithHooks(
      const std::array<Allocator, kDomainCount>& bases,
      const std::array<Allocator, kDomainCount>& hooks,
      const std::array<Allocator*, kDomainCount>& previous)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The allocator under the outermost layer of `domain`, or nullptr when
  // the outermost layer is the base. Thread-safe.
  const Allocator* Below(Domain domain) const noexcept {
    const AllocatorLayer* below = top(domain)->below;
    return below == nullptr ? nullptr : &below->allocator;
  }

  // True if some layer of `domain` satisfies `match`.
  bool AnyLayer(Domain domain, bool (*match)(const Allocator&)) const
      ABSL_LOCKS_EXCLUDED(mu_);

  AllocatorTableSnapshot Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Returns a published-or-free layer holding {allocator, below}, or nullptr
  // when the array is full.
  const AllocatorLayer* InternLocked(const Allocator& allocator,
                                     const AllocatorLayer* below,
                                     Allocator* previous)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int DepthLocked(Domain domain) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked(Domain domain, const AllocatorLayer* layer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  static AllocatorTable global_;

  mutable sync::Mutex mu_;
  // Slots [0, layers_used_) are written once, under mu_, before the release
  // store that publishes them; afterwards they are only read.
  AllocatorLayer layers_[kLayerCapacity];
  int layers_used_ ABSL_GUARDED_BY(mu_) = 1;
  // Release-stored under mu_ by PublishLocked(); acquire-loaded by top().
  std::atomic<const AllocatorLayer*> top_[kDomainCount];
};

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_ALLOCATOR_TABLE_H_
