// sync/mutex.cc: the contended paths of sync::Mutex (futex wait and wake).

#include "sync/mutex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

// The futex system call reads the atomic's storage as a plain 32-bit word.
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
              std::atomic<std::uint32_t>::is_always_lock_free);

namespace interpheap::sync {
namespace {

// Spins before sleeping: a holder on another core usually releases within a
// few hundred cycles (an allocator call), far less than a futex round trip.
constexpr int kSpinLimit = 100;

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

void Mutex::LockSlow() {
  for (int i = 0; i < kSpinLimit; ++i) {
    CpuRelax();
    std::uint32_t expected = 0;
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  // Mark "a waiter may sleep" (2) and sleep while it stays locked. A thread
  // that takes the lock this way leaves 2 behind, so its Unlock() wakes the
  // next waiter: at worst one spurious wake.
  while (state_.exchange(2, std::memory_order_acquire) != 0) {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_),
            FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr, 0);
  }
}

void Mutex::WakeOne() {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_),
          FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace interpheap::sync
