// alloc/hooks/forwarding_hook.h: a hook that forwards every call to the
// allocator it wraps, after a per-call "before" step.
//
// Every pass-through hook (fault injection, the tests' counting hook, the
// stress run's toggled hook) is this one template with its own Policy:
//
//   struct Policy {
//     // The allocator this hook wraps: the `previous` storage Wrap filled.
//     static const ih_allocator_t& Previous(void* ctx);
//     // Runs before the call is forwarded; false makes malloc, calloc and
//     // realloc return nullptr without forwarding (free always forwards).
//     static bool Before(void* ctx, HookCall call);
//   };
//
// Hooks that do more than forward (tracemalloc) use PreviousOf() only.

#ifndef INTERPHEAP_ALLOC_HOOKS_FORWARDING_HOOK_H_
#define INTERPHEAP_ALLOC_HOOKS_FORWARDING_HOOK_H_

#include <cstddef>

#include "alloc/allocator.h"

namespace interpheap::alloc {

enum class HookCall { kMalloc, kCalloc, kRealloc, kFree };

// The wrapped allocator of a hook whose ctx is its `previous` storage.
inline const ih_allocator_t& PreviousOf(void* ctx) {
  return *static_cast<const ih_allocator_t*>(ctx);
}

// A Policy base for hooks whose ctx is their `previous` storage.
struct CtxIsPrevious {
  static const ih_allocator_t& Previous(void* ctx) { return PreviousOf(ctx); }
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
    const ih_allocator_t& previous = Policy::Previous(ctx);
    return previous.malloc(previous.ctx, size);
  }
  static void* Calloc(void* ctx, std::size_t nelem, std::size_t elsize) {
    if (!Policy::Before(ctx, HookCall::kCalloc)) return nullptr;
    const ih_allocator_t& previous = Policy::Previous(ctx);
    return previous.calloc(previous.ctx, nelem, elsize);
  }
  static void* Realloc(void* ctx, void* ptr, std::size_t size) {
    if (!Policy::Before(ctx, HookCall::kRealloc)) return nullptr;
    const ih_allocator_t& previous = Policy::Previous(ctx);
    return previous.realloc(previous.ctx, ptr, size);
  }
  static void Free(void* ctx, void* ptr) {
    (void)Policy::Before(ctx, HookCall::kFree);
    const ih_allocator_t& previous = Policy::Previous(ctx);
    previous.free(previous.ctx, ptr);
  }
};

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_FORWARDING_HOOK_H_
