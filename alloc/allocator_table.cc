#include "alloc/allocator_table.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {

ABSL_CONST_INIT AllocatorTable AllocatorTable::global_(absl::kConstInit);

const char* DomainName(Domain domain) noexcept {
  switch (domain) {
    case Domain::kRaw:
      return "raw";
    case Domain::kMem:
      return "mem";
    case Domain::kObj:
      return "obj";
  }
  return "?";
}

bool SameAllocator(const Allocator& a, const Allocator& b) noexcept {
  return a.ctx == b.ctx && a.malloc == b.malloc && a.calloc == b.calloc &&
         a.realloc == b.realloc && a.free == b.free;
}

bool AllocatorTableSnapshot::operator==(
    const AllocatorTableSnapshot& other) const noexcept {
  // Bit-identical layers, as the lifecycle contract says; compared field by
  // field, since Stack has padding after `depth` that memcmp would compare
  // too (an Allocator is five pointers: no padding).
  for (int d = 0; d < kDomainCount; ++d) {
    if (stacks[d].depth != other.stacks[d].depth ||
        std::memcmp(stacks[d].layers, other.stacks[d].layers,
                    sizeof(stacks[d].layers)) != 0) {
      return false;
    }
  }
  return true;
}

namespace {

absl::Status CheckComplete(const Allocator& allocator, const char* what) {
  if (allocator.malloc == nullptr || allocator.calloc == nullptr ||
      allocator.realloc == nullptr || allocator.free == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s refused: every function of the allocator must be set "
        "(malloc, calloc, realloc, free)",
        what));
  }
  return absl::OkStatus();
}

absl::Status LayersFull(const char* what) {
  return absl::ResourceExhaustedError(absl::StrFormat(
      "%s refused: all %d allocator layer slots are used by distinct "
      "allocators",
      what, AllocatorTable::kLayerCapacity));
}

}  // namespace

const AllocatorLayer* AllocatorTable::InternLocked(
    const Allocator& allocator, const AllocatorLayer* below,
    Allocator* previous, const HookLink* link,
    std::initializer_list<const AllocatorLayer*> pinned) {
  const void* const storage =
      link != nullptr ? static_cast<const void*>(link) : previous;
  for (int i = 0; i < layers_used_; ++i) {
    const AllocatorLayer& l = layers_[i];
    Allocator held;
    l.CopyTo(&held);
    if (l.below_ == below && l.storage_ == storage &&
        SameAllocator(held, allocator)) {
      return &l;
    }
  }
  int slot = -1;
  if (layers_used_ < kLayerCapacity) {
    slot = layers_used_++;
  } else {
    bool reachable[kLayerCapacity] = {};
    MarkReachableLocked(reachable);
    for (const AllocatorLayer* p : pinned) {
      if (p != nullptr) reachable[IndexOf(p)] = true;
    }
    for (int i = 0; i < kLayerCapacity && slot < 0; ++i) {
      if (!reachable[i]) slot = i;
    }
    if (slot < 0) return nullptr;
  }
  // Odd while rewritten: a reader that loaded this slot earlier sees the
  // generation move and starts again (header: "Slots and readers").
  AllocatorLayer& l = layers_[slot];
  const std::uint32_t generation =
      l.generation_.load(std::memory_order_relaxed);
  l.generation_.store(generation + 1, std::memory_order_relaxed);
  // Release stores: a reader that loads a new word also sees the odd
  // generation (or a later one) when it checks again.
  l.ctx_.store(allocator.ctx, std::memory_order_release);
  l.malloc_.store(allocator.malloc, std::memory_order_release);
  l.calloc_.store(allocator.calloc, std::memory_order_release);
  l.realloc_.store(allocator.realloc, std::memory_order_release);
  l.free_.store(allocator.free, std::memory_order_release);
  l.below_ = below;
  l.storage_ = storage;
  l.generation_.store(generation + 2, std::memory_order_release);
  return &l;
}

void AllocatorTable::MarkReachableLocked(bool reachable[kLayerCapacity]) const {
  for (Domain domain : kAllDomains) {
    for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below_) {
      reachable[IndexOf(l)] = true;
    }
  }
}

int AllocatorTable::ReachableSlots() const {
  sync::MutexLock lock(&mu_);
  bool reachable[kLayerCapacity] = {};
  MarkReachableLocked(reachable);
  int count = 0;
  for (bool r : reachable) count += r ? 1 : 0;
  return count;
}

int AllocatorTable::DepthLocked(Domain domain) const {
  int depth = 0;
  for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below_) {
    ++depth;
  }
  return depth;
}

void AllocatorTable::PublishLocked(Domain domain, const AllocatorLayer* layer) {
  top_[static_cast<int>(domain)].store(
      HookLink::Pack(IndexOf(layer),
                     layer->generation_.load(std::memory_order_relaxed)),
      std::memory_order_release);
}

void AllocatorTable::LinkLocked(HookLink* link, const AllocatorLayer* below) {
  link->table_.store(this, std::memory_order_relaxed);
  link->below_.store(
      HookLink::Pack(IndexOf(below),
                     below->generation_.load(std::memory_order_relaxed)),
      std::memory_order_release);
}

int AllocatorTable::HookCount(Domain domain) const {
  sync::MutexLock lock(&mu_);
  return DepthLocked(domain) - 1;
}

absl::Status AllocatorTable::Replace(Domain domain,
                                     const Allocator& allocator) {
  if (absl::Status s = CheckComplete(allocator, "replace"); !s.ok()) return s;
  sync::MutexLock lock(&mu_);
  const int hooks = DepthLocked(domain) - 1;
  if (hooks > 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "replace refused: %d hook(s) are wrapped over the %s allocator; "
        "unwrap them first",
        hooks, DomainName(domain)));
  }
  const AllocatorLayer* layer =
      InternLocked(allocator, nullptr, nullptr, nullptr);
  if (layer == nullptr) return LayersFull("replace");
  PublishLocked(domain, layer);
  return absl::OkStatus();
}

absl::Status AllocatorTable::CheckWrapLocked(Domain domain,
                                             const Allocator& hook,
                                             const void* storage) const {
  if (DepthLocked(domain) - 1 >= kMaxHooks) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "wrap refused: the %s domain already has %d hooks (the maximum)",
        DomainName(domain), kMaxHooks));
  }
  for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below_) {
    Allocator held;
    l->CopyTo(&held);
    if (SameAllocator(held, hook)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "wrap refused: this hook is already installed on the %s domain; "
          "wrapping it again would make it call itself",
          DomainName(domain)));
    }
  }
  for (Domain other : kAllDomains) {
    for (const AllocatorLayer* l = top(other); l != nullptr; l = l->below_) {
      if (l->storage_ == storage) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "wrap refused: this previous storage is already used by a hook "
            "installed on the %s domain; each installed hook needs its own",
            DomainName(other)));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status AllocatorTable::Wrap(Domain domain, const Allocator& hook,
                                  HookLink* link) {
  if (absl::Status s = CheckComplete(hook, "wrap"); !s.ok()) return s;
  if (link == nullptr || link->domain() != domain) {
    return absl::InvalidArgumentError(
        "wrap refused: the hook needs a link of the domain it wraps");
  }
  sync::MutexLock lock(&mu_);
  if (absl::Status s = CheckWrapLocked(domain, hook, link); !s.ok()) return s;
  const AllocatorLayer* below = top(domain);
  const AllocatorLayer* layer = InternLocked(hook, below, nullptr, link);
  if (layer == nullptr) return LayersFull("wrap");
  LinkLocked(link, below);
  PublishLocked(domain, layer);
  return absl::OkStatus();
}

absl::Status AllocatorTable::Wrap(Domain domain, const Allocator& hook,
                                  Allocator* previous) {
  if (absl::Status s = CheckComplete(hook, "wrap"); !s.ok()) return s;
  if (previous == nullptr) {
    return absl::InvalidArgumentError(
        "wrap refused: the hook needs storage for the previous allocator");
  }
  sync::MutexLock lock(&mu_);
  if (absl::Status s = CheckWrapLocked(domain, hook, previous); !s.ok()) {
    return s;
  }
  const AllocatorLayer* below = top(domain);
  const AllocatorLayer* layer = InternLocked(hook, below, previous, nullptr);
  if (layer == nullptr) return LayersFull("wrap");
  Allocator below_allocator;
  below->CopyTo(&below_allocator);
  if (!SameAllocator(*previous, below_allocator)) *previous = below_allocator;
  PublishLocked(domain, layer);
  return absl::OkStatus();
}

absl::Status AllocatorTable::Unwrap(Domain domain, const Allocator& hook) {
  sync::MutexLock lock(&mu_);
  const AllocatorLayer* outer = top(domain);
  if (outer->below_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "unwrap refused: the %s domain has no hook", DomainName(domain)));
  }
  Allocator held;
  outer->CopyTo(&held);
  if (!SameAllocator(held, hook)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "unwrap refused: this hook is not the outermost layer of the %s "
        "domain; hooks come off in LIFO order",
        DomainName(domain)));
  }
  PublishLocked(domain, outer->below_);
  return absl::OkStatus();
}

absl::Status AllocatorTable::ResetTo(
    const std::array<Allocator, kDomainCount>& bases) {
  for (const Allocator& base : bases) {
    if (absl::Status s = CheckComplete(base, "configure"); !s.ok()) return s;
  }
  sync::MutexLock lock(&mu_);
  const AllocatorLayer* layers[kDomainCount] = {};
  for (int i = 0; i < kDomainCount; ++i) {
    layers[i] = InternLocked(bases[i], nullptr, nullptr, nullptr,
                             {layers[0], layers[1], layers[2]});
    if (layers[i] == nullptr) return LayersFull("configure");
  }
  for (int i = 0; i < kDomainCount; ++i) {
    PublishLocked(static_cast<Domain>(i), layers[i]);
  }
  return absl::OkStatus();
}

absl::Status AllocatorTable::ResetToWithHooks(
    const std::array<Allocator, kDomainCount>& bases,
    const std::array<Allocator, kDomainCount>& hooks,
    const std::array<HookLink*, kDomainCount>& links) {
  for (int i = 0; i < kDomainCount; ++i) {
    if (absl::Status s = CheckComplete(bases[i], "configure"); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckComplete(hooks[i], "configure"); !s.ok()) {
      return s;
    }
    if (links[i] == nullptr || links[i]->domain() != static_cast<Domain>(i)) {
      return absl::InvalidArgumentError(
          "configure refused: each hook needs a link of its domain");
    }
  }
  sync::MutexLock lock(&mu_);
  const AllocatorLayer* base_layers[kDomainCount] = {};
  const AllocatorLayer* layers[kDomainCount] = {};
  for (int i = 0; i < kDomainCount; ++i) {
    const std::initializer_list<const AllocatorLayer*> pinned = {
        base_layers[0], base_layers[1], base_layers[2],
        layers[0],      layers[1],      layers[2]};
    base_layers[i] = InternLocked(bases[i], nullptr, nullptr, nullptr, pinned);
    if (base_layers[i] == nullptr) return LayersFull("configure");
    const std::initializer_list<const AllocatorLayer*> pinned_base = {
        base_layers[0], base_layers[1], base_layers[2],
        layers[0],      layers[1],      layers[2]};
    layers[i] =
        InternLocked(hooks[i], base_layers[i], nullptr, links[i], pinned_base);
    if (layers[i] == nullptr) return LayersFull("configure");
  }
  for (int i = 0; i < kDomainCount; ++i) {
    LinkLocked(links[i], base_layers[i]);
    PublishLocked(static_cast<Domain>(i), layers[i]);
  }
  return absl::OkStatus();
}

std::optional<Allocator> AllocatorTable::Below(Domain domain) const {
  sync::MutexLock lock(&mu_);
  const AllocatorLayer* below = top(domain)->below_;
  if (below == nullptr) return std::nullopt;
  Allocator allocator;
  below->CopyTo(&allocator);
  return allocator;
}

bool AllocatorTable::AnyLayer(Domain domain,
                              bool (*match)(const Allocator&)) const {
  sync::MutexLock lock(&mu_);
  for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below_) {
    Allocator held;
    l->CopyTo(&held);
    if (match(held)) return true;
  }
  return false;
}

AllocatorTableSnapshot AllocatorTable::Snapshot() const {
  sync::MutexLock lock(&mu_);
  AllocatorTableSnapshot snapshot;
  for (Domain domain : kAllDomains) {
    auto& stack = snapshot.stacks[static_cast<int>(domain)];
    for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below_) {
      l->CopyTo(&stack.layers[stack.depth++]);
    }
  }
  return snapshot;
}

}  // namespace interpheap::alloc
