// stress/interrupt.cc: the SIGINT handler (interrupt.h).

#include "stress/interrupt.h"

#include <signal.h>

#include <atomic>

namespace interpheap::stress {
namespace {

// Set by the handler: a lock-free atomic is async-signal-safe to store.
std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void OnInterrupt(int) { interrupted.store(true, std::memory_order_release); }

}  // namespace

void InstallInterruptHandler() {
  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: a second Ctrl-C takes the default action (terminates).
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
}

bool Interrupted() { return interrupted.load(std::memory_order_acquire); }

}  // namespace interpheap::stress
