// stress/hook_toggler.cc: the counting hook and the thread that toggles it
// (hook_toggler.h).

#include "stress/hook_toggler.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "alloc/domain.h"
#include "alloc/hooks/forwarding_hook.h"

namespace interpheap::stress {
namespace {

// A pass-through hook on every domain, counting calls (the shared
// forwarding hook, alloc/hooks/forwarding_hook.h). Never freed: a call may
// still be running through it just after it is unwrapped.
struct CountingHook {
  alloc::HookLink links[3] = {alloc::HookLink(alloc::Domain::kRaw),
                              alloc::HookLink(alloc::Domain::kMem),
                              alloc::HookLink(alloc::Domain::kObj)};
  std::atomic<std::int64_t> calls{0};

  static CountingHook& Get() {
    static CountingHook* hook = new CountingHook();
    return *hook;
  }
  struct Policy : alloc::CtxIsLink {
    static bool Before(void*, alloc::HookCall) {
      Get().calls.fetch_add(1, std::memory_order_relaxed);  // a statistic
      return true;
    }
  };
  ih_allocator_t For(int domain) {
    return alloc::ForwardingHook<Policy>::Make(&links[domain]);
  }
};

}  // namespace

void HookToggler::Start() {
  thread_ = std::thread([this] { Run(); });
}

void HookToggler::Stop() {
  stop_.store(true, std::memory_order_relaxed);  // only ends the loop
  if (thread_.joinable()) thread_.join();
}

std::int64_t HookToggler::calls() {
  return CountingHook::Get().calls.load(std::memory_order_relaxed);
}

void HookToggler::Run() {
  using alloc::Domain;
  CountingHook& hook = CountingHook::Get();
  while (!stop_.load(std::memory_order_relaxed)) {
    for (int d = 0; d < 3; ++d) {
      absl::Status s = runtime_.WrapAllocator(static_cast<Domain>(d),
                                              hook.For(d), &hook.links[d]);
      if (!s.ok()) failures_.push_back(std::string(s.message()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    for (int d = 2; d >= 0; --d) {
      absl::Status s =
          runtime_.UnwrapAllocator(static_cast<Domain>(d), hook.For(d));
      if (!s.ok()) failures_.push_back(std::string(s.message()));
    }
    toggles_.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace interpheap::stress
