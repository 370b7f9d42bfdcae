#include "alloc/fork.h"

#include <pthread.h>

#include <atomic>
#include <mutex>

#include "absl/base/const_init.h"
#include "absl/synchronization/mutex.h"
#include "alloc/fatal.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

constexpr int kMaxForkLocks = 128;

struct ForkLock {
  sync::Mutex* mu;
  ForkRank rank;
};

// The registered locks, sorted by rank. list_mu guards the list, and is
// itself held from prepare to parent/child so the list cannot change
// across a fork.
ABSL_CONST_INIT sync::Mutex list_mu(absl::kConstInit);
ForkLock fork_locks[kMaxForkLocks] ABSL_GUARDED_BY(list_mu);
int fork_lock_count ABSL_GUARDED_BY(list_mu) = 0;
ABSL_CONST_INIT std::atomic<void (*)()> prepare_seam{nullptr};

// The lock/unlock calls below go through LockAcrossScopes: each lock is
// held from prepare until parent or child, which no scope can show.
void Prepare() {
  if (void (*seam)() = prepare_seam.load(std::memory_order_acquire)) seam();
  // absl::Mutex's deadlock detector (on in Debian's build) takes one
  // process-wide spinlock on every Lock and Unlock; a fork while another
  // thread holds it leaves it held in the child, whose first lock then
  // spins forever. No handler can take that spinlock, so a process that
  // forks stops the detector (which only reports, never prevents).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  list_mu.LockAcrossScopes();
  list_mu.AssertHeld();
  for (int i = 0; i < fork_lock_count; ++i) {
    fork_locks[i].mu->LockAcrossScopes();
  }
}

// In the parent, and in the child, whose only thread is the one that took
// the locks in Prepare (so sync::Mutex sees it as their owner).
void Release() {
  list_mu.AssertHeld();
  for (int i = fork_lock_count - 1; i >= 0; --i) {
    fork_locks[i].mu->UnlockAcrossScopes();
  }
  list_mu.UnlockAcrossScopes();
}

void InstallHandlers() {
  if (pthread_atfork(&Prepare, &Release, &Release) != 0) {
    FatalError("RegisterForkLock", "pthread_atfork failed");
  }
}

}  // namespace

bool RegisterForkLock(sync::Mutex* mu, ForkRank rank) {
  static std::once_flag installed;
  std::call_once(installed, &InstallHandlers);
  sync::MutexLock hold(&list_mu);
  if (fork_lock_count == kMaxForkLocks) {
    FatalError("RegisterForkLock", "more than 128 fork locks");
  }
  int i = fork_lock_count++;
  // Insertion sort: stable, so equal ranks keep registration order.
  while (i > 0 &&
         static_cast<int>(fork_locks[i - 1].rank) > static_cast<int>(rank)) {
    fork_locks[i] = fork_locks[i - 1];
    --i;
  }
  fork_locks[i] = {mu, rank};
  return true;
}

void SetForkPrepareSeamForTesting(void (*seam)()) {
  prepare_seam.store(seam, std::memory_order_release);
}

}  // namespace interpheap::alloc
