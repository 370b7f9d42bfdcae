#include "alloc/hooks/fault_injection.h"

#include <atomic>

#include "alloc/hooks/forwarding_hook.h"

namespace interpheap::alloc {
namespace {

std::atomic<std::int64_t> calls{0};
std::atomic<std::int64_t> failures{0};
std::atomic<std::int64_t> window_start{0};
std::atomic<std::int64_t> window_stop{0};
HookLink links[kDomainCount] = {HookLink(Domain::kRaw), HookLink(Domain::kMem),
                                HookLink(Domain::kObj)};

// Counts one allocation call; false if it must fail. Free never fails.
struct FailInWindow : CtxIsLink {
  static bool Before(void*, HookCall call) {
    if (call == HookCall::kFree) return true;
    const std::int64_t count =
        calls.fetch_add(1, std::memory_order_relaxed) + 1;
    const std::int64_t stop = window_stop.load(std::memory_order_relaxed);
    if (count > window_start.load(std::memory_order_relaxed) &&
        (stop == 0 || count <= stop)) {
      failures.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
};

}  // namespace

ih_allocator_t NoMemoryHook(Domain domain) {
  return ForwardingHook<FailInWindow>::Make(&links[static_cast<int>(domain)]);
}

HookLink* NoMemoryHookLink(Domain domain) {
  return &links[static_cast<int>(domain)];
}

void SetNoMemoryWindow(std::int64_t start, std::int64_t stop) {
  window_start.store(start, std::memory_order_relaxed);
  window_stop.store(stop, std::memory_order_relaxed);
  calls.store(0, std::memory_order_relaxed);
  failures.store(0, std::memory_order_relaxed);
}

std::int64_t NoMemoryCallCount() {
  return calls.load(std::memory_order_relaxed);
}

std::int64_t NoMemoryFailureCount() {
  return failures.load(std::memory_order_relaxed);
}

}  // namespace interpheap::alloc
