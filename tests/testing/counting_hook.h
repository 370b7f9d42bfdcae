// tests/testing/counting_hook.h: a hook that counts calls and forwards to the
// allocator it wraps (alloc/hooks/forwarding_hook.h). Its ctx points at the
// hook object, whose `previous` field is the storage Wrap fills.

#ifndef INTERPHEAP_TESTS_TESTING_COUNTING_HOOK_H_
#define INTERPHEAP_TESTS_TESTING_COUNTING_HOOK_H_

#include <atomic>
#include <cstddef>

#include "alloc/allocator.h"
#include "alloc/hooks/forwarding_hook.h"

namespace interpheap::testing {

struct CountingHook {
  ih_allocator_t previous = {};
  std::atomic<long> mallocs{0};
  std::atomic<long> callocs{0};
  std::atomic<long> reallocs{0};
  std::atomic<long> frees{0};

  long total() const {
    return mallocs.load() + callocs.load() + reallocs.load() + frees.load();
  }

  // The allocator to pass to Wrap/Unwrap.
  ih_allocator_t allocator() {
    return alloc::ForwardingHook<Count>::Make(this);
  }

 private:
  struct Count {
    static ih_allocator_t Previous(void* ctx) {
      return static_cast<CountingHook*>(ctx)->previous;
    }
    static bool Before(void* ctx, alloc::HookCall call) {
      auto* self = static_cast<CountingHook*>(ctx);
      std::atomic<long>* counters[] = {&self->mallocs, &self->callocs,
                                       &self->reallocs, &self->frees};
      counters[static_cast<int>(call)]->fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  };
};

}  // namespace interpheap::testing

#endif  // INTERPHEAP_TESTS_TESTING_COUNTING_HOOK_H_
