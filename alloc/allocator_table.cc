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

const AllocatorLayer* AllocatorTable::InternLocked(const Allocator& allocator,
                                                   const AllocatorLayer* below,
                                                   Allocator* previous) {
  for (int i = 0; i < layers_used_; ++i) {
    if (layers_[i].below == below && layers_[i].previous == previous &&
        SameAllocator(layers_[i].allocator, allocator)) {
      return &layers_[i];
    }
  }
  if (layers_used_ == kLayerCapacity) return nullptr;
  AllocatorLayer* layer = &layers_[layers_used_++];
  layer->allocator = allocator;
  layer->below = below;
  layer->previous = previous;
  return layer;
}

int AllocatorTable::DepthLocked(Domain domain) const {
  int depth = 0;
  for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below) {
    ++depth;
  }
  return depth;
}

void AllocatorTable::PublishLocked(Domain domain, const AllocatorLayer* layer) {
  top_[static_cast<int>(domain)].store(layer, std::memory_order_release);
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
  const AllocatorLayer* layer = InternLocked(allocator, nullptr, nullptr);
  if (layer == nullptr) return LayersFull("replace");
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
  if (DepthLocked(domain) - 1 >= kMaxHooks) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "wrap refused: the %s domain already has %d hooks (the maximum)",
        DomainName(domain), kMaxHooks));
  }
  for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below) {
    if (SameAllocator(l->allocator, hook)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "wrap refused: this hook is already installed on the %s domain; "
          "wrapping it again would make it call itself",
          DomainName(domain)));
    }
  }
  for (Domain other : kAllDomains) {
    for (const AllocatorLayer* l = top(other); l != nullptr; l = l->below) {
      if (l->previous == previous) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "wrap refused: this previous storage is already used by a hook "
            "installed on the %s domain; each installed hook needs its own",
            DomainName(other)));
      }
    }
  }
  const AllocatorLayer* below = top(domain);
  const AllocatorLayer* layer = InternLocked(hook, below, previous);
  if (layer == nullptr) return LayersFull("wrap");
  if (!SameAllocator(*previous, below->allocator)) {
    *previous = below->allocator;
  }
  PublishLocked(domain, layer);
  return absl::OkStatus();
}

absl::Status AllocatorTable::Unwrap(Domain domain, const Allocator& hook) {
  sync::MutexLock lock(&mu_);
  const AllocatorLayer* outer = top(domain);
  if (outer->below == nullptr) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "unwrap refused: the %s domain has no hook", DomainName(domain)));
  }
  if (!SameAllocator(outer->allocator, hook)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "unwrap refused: this hook is not the outermost layer of the %s "
        "domain; hooks come off in LIFO order",
        DomainName(domain)));
  }
  PublishLocked(domain, outer->below);
  return absl::OkStatus();
}

absl::Status AllocatorTable::ResetTo(
    const std::array<Allocator, kDomainCount>& bases) {
  for (const Allocator& base : bases) {
    if (absl::Status s = CheckComplete(base, "configure"); !s.ok()) return s;
  }
  sync::MutexLock lock(&mu_);
  const AllocatorLayer* layers[kDomainCount];
  for (Domain domain : kAllDomains) {
    const int i = static_cast<int>(domain);
    layers[i] = InternLocked(bases[i], nullptr, nullptr);
    if (layers[i] == nullptr) return LayersFull("configure");
  }
  for (Domain domain : kAllDomains) {
    PublishLocked(domain, layers[static_cast<int>(domain)]);
  }
  return absl::OkStatus();
}

absl::Status AllocatorTable::ResetToWithHooks(
    const std::array<Allocator, kDomainCount>& bases,
    const std::array<Allocator, kDomainCount>& hooks,
    const std::array<Allocator*, kDomainCount>& previous) {
  for (int i = 0; i < kDomainCount; ++i) {
    if (absl::Status s = CheckComplete(bases[i], "configure"); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckComplete(hooks[i], "configure"); !s.ok()) {
      return s;
    }
  }
  sync::MutexLock lock(&mu_);
  const AllocatorLayer* layers[kDomainCount];
  for (int i = 0; i < kDomainCount; ++i) {
    const AllocatorLayer* base = InternLocked(bases[i], nullptr, nullptr);
    if (base == nullptr) return LayersFull("configure");
    layers[i] = InternLocked(hooks[i], base, previous[i]);
    if (layers[i] == nullptr) return LayersFull("configure");
  }
  for (int i = 0; i < kDomainCount; ++i) {
    if (!SameAllocator(*previous[i], bases[i])) *previous[i] = bases[i];
    PublishLocked(static_cast<Domain>(i), layers[i]);
  }
  return absl::OkStatus();
}

bool AllocatorTable::AnyLayer(Domain domain,
                              bool (*match)(const Allocator&)) const {
  sync::MutexLock lock(&mu_);
  for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below) {
    if (match(l->allocator)) return true;
  }
  return false;
}

AllocatorTableSnapshot AllocatorTable::Snapshot() const {
  sync::MutexLock lock(&mu_);
  AllocatorTableSnapshot snapshot;
  for (Domain domain : kAllDomains) {
    auto& stack = snapshot.stacks[static_cast<int>(domain)];
    for (const AllocatorLayer* l = top(domain); l != nullptr; l = l->below) {
      stack.layers[stack.depth++] = l->allocator;
    }
  }
  return snapshot;
}

}  // namespace interpheap::alloc
