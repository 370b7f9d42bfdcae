// alloc/hooks/forwarding_hook.h: a hook that forwards every call to the
// allocator it wraps, after a per-call "before" step.
//
// Every pass-through hook (fault injection, the tests' counting hook, the
// stress run's toggled hook) is this one template with its own Policy:
//
//   struct Policy {
//     // The allocator this hook wraps (for the library's hooks, whose ctx
//     // is their HookLink: CtxIsLink).
//     static ih_allocator_t Previous(void* ctx);
//     // Runs before the call is forwarded; false makes malloc, calloc and
//     // realloc return nullptr without forwarding (free always forwards).
//     static bool Before(void* ctx, HookCall call);
//   };
//
// Hooks that do more than forward (tracemalloc) use LinkedBelow() only.

#ifndef INTERPHEAP_ALLOC_HOOKS_FORWARDING_HOOK_H_
#define INTERPHEAP_ALLOC_HOOKS_FORWARDING_HOOK_H_

#include <cstddef>

#include "alloc/allocator.h"
#include "alloc/allocator_table.h"

namespace interpheap::alloc {

enum class HookCall { kMalloc, kCalloc, kRealloc, kFree };

// The wrapped allocator of a hook whose ctx is its HookLink (read safely
// while the hook is unwrapped and wrapped again: alloc/allocator_table.h).
inline ih_allocator_t LinkedBelow(void* ctx) {
  return static_cast<const HookLink*>(ctx)->Load();
}

// One call to what a hook wraps, read through its link once per call.
inline void* LinkedMalloc(const HookLink& link, std::size_t n) {
  const ih_allocator_t below = link.Load();
  return below.malloc(below.ctx, n);
}
inline void* LinkedCalloc(const HookLink& link, std::size_t nelem,
                          std::size_t elsize) {
  const ih_allocator_t below = link.Load();
  return below.calloc(below.ctx, nelem, elsize);
}
inline void* LinkedRealloc(const HookLink& link, void* p, std::size_t n) {
  const ih_allocator_t below = link.Load();
  return below.realloc(below.ctx, p, n);
}
inline void LinkedFree(const HookLink& link, void* p) {
  const ih_allocator_t below = link.Load();
  below.free(below.ctx, p);
}

// A Policy base for hooks whose ctx is their HookLink.
struct CtxIsLink {
  static ih_allocator_t Previous(void* ctx) { return LinkedBelow(ctx); }
};

template <typename Policy>
class ForwardingHook {
 public:
  // The hook allocator with `ctx` (what Policy::Previous receives).
  static ih_allocator_t Make(void* ctx) {
    return ih_allocator_t{ctx, &Malloc, &Calloc, &Realloc, &Free};
  }

 private:
  static void* Malloc(void* ctx, std::size_t size) {
    if (!Policy::Before(ctx, HookCall::kMalloc)) return nullptr;
    const ih_allocator_t previous = Policy::Previous(ctx);
    return previous.malloc(previous.ctx, size);
  }
  static void* Calloc(void* ctx, std::size_t nelem, std::size_t elsize) {
    if (!Policy::Before(ctx, HookCall::kCalloc)) return nullptr;
    const ih_allocator_t previous = Policy::Previous(ctx);
    return previous.calloc(previous.ctx, nelem, elsize);
  }
  static void* Realloc(void* ctx, void* ptr, std::size_t size) {
    if (!Policy::Before(ctx, HookCall::kRealloc)) return nullptr;
    const ih_allocator_t previous = Policy::Previous(ctx);
    return previous.realloc(previous.ctx, ptr, size);
  }
  static void Free(void* ctx, void* ptr) {
    (void)Policy::Before(ctx, HookCall::kFree);
    const ih_allocator_t previous = Policy::Previous(ctx);
    previous.free(previous.ctx, ptr);
  }
};

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_FORWARDING_HOOK_H_
