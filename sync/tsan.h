// sync/tsan.h: ThreadSanitizer mutex annotations, compiled in only under TSan.
//
// Debian's Abseil is not built with TSan, so TSan cannot see the
// happens-before edges inside absl::Mutex. These macros tell it about our
// lock/unlock pairs (without them a locked counter is reported as a race;
// tests/sync/mutex_test.cc shows both sides). This is the only file that
// includes <sanitizer/tsan_interface.h>; elsewhere the macros expand to
// nothing.

#ifndef INTERPHEAP_SYNC_TSAN_H_
#define INTERPHEAP_SYNC_TSAN_H_

#include "absl/base/config.h"

#ifdef ABSL_HAVE_THREAD_SANITIZER
#include <sanitizer/tsan_interface.h>

#define IH_TSAN_MUTEX_CREATE(addr, flags) __tsan_mutex_create(addr, flags)
#define IH_TSAN_MUTEX_DESTROY(addr, flags) __tsan_mutex_destroy(addr, flags)
#define IH_TSAN_MUTEX_PRE_LOCK(addr, flags) __tsan_mutex_pre_lock(addr, flags)
#define IH_TSAN_MUTEX_POST_LOCK(addr, flags, recursion) \
  __tsan_mutex_post_lock(addr, flags, recursion)
#define IH_TSAN_MUTEX_PRE_UNLOCK(addr, flags) \
  __tsan_mutex_pre_unlock(addr, flags)
#define IH_TSAN_MUTEX_POST_UNLOCK(addr, flags) \
  __tsan_mutex_post_unlock(addr, flags)
#define IH_TSAN_FLAG_TRY_LOCK __tsan_mutex_try_lock
#define IH_TSAN_FLAG_TRY_LOCK_FAILED __tsan_mutex_try_lock_failed

#else

#define IH_TSAN_MUTEX_CREATE(addr, flags) ((void)0)
#define IH_TSAN_MUTEX_DESTROY(addr, flags) ((void)0)
#define IH_TSAN_MUTEX_PRE_LOCK(addr, flags) ((void)0)
#define IH_TSAN_MUTEX_POST_LOCK(addr, flags, recursion) ((void)0)
#define IH_TSAN_MUTEX_PRE_UNLOCK(addr, flags) ((void)0)
#define IH_TSAN_MUTEX_POST_UNLOCK(addr, flags) ((void)0)
#define IH_TSAN_FLAG_TRY_LOCK 0
#define IH_TSAN_FLAG_TRY_LOCK_FAILED 0

#endif  // ABSL_HAVE_THREAD_SANITIZER

#endif  // INTERPHEAP_SYNC_TSAN_H_
