// sync/mutex.h: sync::Mutex, the one lock type of interpheap.
//
// An interpreter's lock (the analogue of CPython's per-interpreter GIL), the
// runtime's control-plane lock and every other lock in the project are a
// sync::Mutex. It adds two things to absl::Mutex:
//   - it records its owner, so IsHeldByCurrentThread() and AssertHeld() are
//     exact (absl::Mutex::AssertHeld may do nothing), which the debug hooks'
//     "lock held for mem/obj" check relies on;
//   - under TSan it announces lock and unlock to the sanitizer (sync/tsan.h),
//     because Debian's Abseil is not instrumented.
// The scoped holder is sync::MutexLock (sync/mutex_lock.h).

#ifndef INTERPHEAP_SYNC_MUTEX_H_
#define INTERPHEAP_SYNC_MUTEX_H_

#include <atomic>

#include "absl/base/const_init.h"
#include "absl/base/internal/raw_logging.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sync/thread_id.h"
#include "sync/tsan.h"

namespace interpheap::sync {

// A non-recursive exclusive lock that knows its owner.
//
// Thread-safe.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() noexcept { IH_TSAN_MUTEX_CREATE(this, 0); }

  // For globals: `ABSL_CONST_INIT sync::Mutex mu(absl::kConstInit);`. Usable
  // before main() and after static destructors.
  constexpr explicit Mutex(absl::ConstInitType) noexcept
      : mu_(absl::kConstInit) {}

  ~Mutex() { IH_TSAN_MUTEX_DESTROY(this, 0); }

  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Blocks until the lock is free, then takes it.
  // Requires: the calling thread does not hold it (checked: locking twice is
  // a deadlock, reported as a fatal error instead).
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    ABSL_RAW_CHECK(!IsHeldByCurrentThread(),
                   "sync::Mutex::Lock: already held by the calling thread");
    IH_TSAN_MUTEX_PRE_LOCK(this, 0);
    mu_.Lock();
    IH_TSAN_MUTEX_POST_LOCK(this, 0, 0);
    // Relaxed: only the owner writes its own id, and a thread reading
    // owner_ in IsHeldByCurrentThread() compares against itself, so it sees
    // its own id exactly when it wrote it (program order).
    owner_.store(CurrentThreadId(), std::memory_order_relaxed);
  }

  // Takes the lock if it is free; returns whether it did.
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    IH_TSAN_MUTEX_PRE_LOCK(this, IH_TSAN_FLAG_TRY_LOCK);
    const bool locked = mu_.TryLock();
    IH_TSAN_MUTEX_POST_LOCK(
        this,
        IH_TSAN_FLAG_TRY_LOCK | (locked ? 0 : IH_TSAN_FLAG_TRY_LOCK_FAILED), 0);
    if (locked) owner_.store(CurrentThreadId(), std::memory_order_relaxed);
    return locked;
  }

  // Releases the lock.
  // Requires: held by the calling thread (checked).
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    ABSL_RAW_CHECK(IsHeldByCurrentThread(),
                   "sync::Mutex::Unlock: not held by the calling thread");
    owner_.store(kNoThread, std::memory_order_relaxed);
    IH_TSAN_MUTEX_PRE_UNLOCK(this, 0);
    mu_.Unlock();
    IH_TSAN_MUTEX_POST_UNLOCK(this, 0);
  }

  // Tells clang's analysis that the lock is held, and checks it in debug
  // builds only (!NDEBUG): for hot paths whose callers already guarantee it.
  void AssumeHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {
#ifndef NDEBUG
    AssertHeld();
#endif
  }

  // Lock() and Unlock() hidden from clang's static analysis, for a lock held
  // across function boundaries: an attached thread holds its interpreter's
  // lock from ThreadState::Attach() until ThreadState::Detach(), which no
  // single scope can show. Code in between states the fact with AssertHeld().
  void LockAcrossScopes() ABSL_NO_THREAD_SAFETY_ANALYSIS { Lock(); }
  void UnlockAcrossScopes() ABSL_NO_THREAD_SAFETY_ANALYSIS { Unlock(); }

  // Exact: true if and only if the calling thread holds the lock.
  bool IsHeldByCurrentThread() const noexcept {
    return owner_.load(std::memory_order_relaxed) == CurrentThreadId();
  }

  // Dies with a message unless the calling thread holds the lock. Also tells
  // clang's thread-safety analysis that the lock is held from here on.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {
    ABSL_RAW_CHECK(IsHeldByCurrentThread(),
                   "sync::Mutex::AssertHeld: not held by the calling thread");
  }

 private:
  absl::Mutex mu_;
  std::atomic<ThreadId> owner_{kNoThread};
};

}  // namespace interpheap::sync

#endif  // INTERPHEAP_SYNC_MUTEX_H_
