// sync/mutex_lock.h: sync::MutexLock, the scoped holder of a sync::Mutex.

#ifndef INTERPHEAP_SYNC_MUTEX_LOCK_H_
#define INTERPHEAP_SYNC_MUTEX_LOCK_H_

#include "absl/base/thread_annotations.h"
#include "sync/mutex.h"

namespace interpheap::sync {

// Locks `mu` for the lifetime of the holder:
//   sync::MutexLock lock(&mu_);
//
// Thread-compatible (a holder belongs to the thread that made it).
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }

  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace interpheap::sync

#endif  // INTERPHEAP_SYNC_MUTEX_LOCK_H_
