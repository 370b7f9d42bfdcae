// stress/hook_toggler.h: the --toggle_hooks thread. It wraps a pass-through
// hook that counts calls over every domain, unwraps it, and again, while the
// workers allocate: installing and removing hooks under load must keep
// every block intact.

#ifndef INTERPHEAP_STRESS_HOOK_TOGGLER_H_
#define INTERPHEAP_STRESS_HOOK_TOGGLER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "interp/runtime.h"

namespace interpheap::stress {

// Start() and Stop() from one thread; toggles() and calls() from any.
class HookToggler {
 public:
  explicit HookToggler(interp::Runtime& runtime) : runtime_(runtime) {}
  ~HookToggler() { Stop(); }

  void Start();
  // Stops and joins the thread (the hook is unwrapped when it returns).
  void Stop();

  std::int64_t toggles() const {
    return toggles_.load(std::memory_order_relaxed);  // a statistic
  }
  // Calls that went through the hook, over the whole process.
  static std::int64_t calls();
  // Wrap/unwrap refusals; read after Stop().
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  void Run();

  interp::Runtime& runtime_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> toggles_{0};
  std::vector<std::string> failures_;  // written by the thread until joined
};

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_HOOK_TOGGLER_H_
