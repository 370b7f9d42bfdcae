// sync/thread_id.h: a cheap, nonzero identifier of the calling thread.
//
// Used by sync::Mutex to record its owner, which makes "is this lock held by
// the calling thread?" exact. Two threads alive at the same time never share
// an id; an id may be reused after its thread exits.

#ifndef INTERPHEAP_SYNC_THREAD_ID_H_
#define INTERPHEAP_SYNC_THREAD_ID_H_

#include <cstdint>

namespace interpheap::sync {

// The id type; 0 means "no thread".
using ThreadId = std::uintptr_t;
inline constexpr ThreadId kNoThread = 0;

// Returns the calling thread's id: the address of a thread-local byte, so it
// costs one TLS address computation and never allocates.
inline ThreadId CurrentThreadId() noexcept {
  static thread_local char marker;
  return reinterpret_cast<ThreadId>(&marker);
}

}  // namespace interpheap::sync

#endif  // INTERPHEAP_SYNC_THREAD_ID_H_
