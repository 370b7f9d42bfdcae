#include "interp/thread_state.h"

#include <atomic>
#include <cstdint>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_format.h"

namespace interpheap::interp {
namespace {

ABSL_CONST_INIT thread_local Interpreter* current_interpreter = nullptr;
ABSL_CONST_INIT std::atomic<std::int64_t> detached_at_exit{0};

// Constructed by a thread's first attach; its destructor runs when the
// thread exits and detaches it if it is still attached.
struct ExitDetacher {
  bool armed = false;
  ~ExitDetacher() {
    if (current_interpreter == nullptr) return;
    detached_at_exit.fetch_add(1, std::memory_order_relaxed);
    (void)ThreadState::Detach();
  }
};
thread_local ExitDetacher exit_detacher;

}  // namespace

Interpreter* ThreadState::Current() noexcept { return current_interpreter; }

bool ThreadState::CurrentLockHeld() noexcept {
  const Interpreter* interp = current_interpreter;
  return interp != nullptr && interp->lock().IsHeldByCurrentThread();
}

absl::Status ThreadState::Attach(Interpreter* interp) {
  if (interp == nullptr) {
    return absl::InvalidArgumentError("attach refused: no interpreter given");
  }
  interp->attached_threads_.fetch_add(1, std::memory_order_relaxed);
  return AttachReserved(interp);
}

absl::Status ThreadState::AttachReserved(Interpreter* interp) {
  if (current_interpreter != nullptr) {
    interp->attached_threads_.fetch_sub(1, std::memory_order_release);
    return absl::FailedPreconditionError(absl::StrFormat(
        "attach refused: the thread is already attached to interpreter %d; "
        "detach first",
        current_interpreter->id()));
  }
  exit_detacher.armed = true;  // registers the thread-exit detach
  if (!interp->host_locked()) interp->lock().LockAcrossScopes();
  current_interpreter = interp;
  alloc::SetCurrentHeap(&interp->heap());
  return absl::OkStatus();
}

absl::Status ThreadState::Detach() {
  Interpreter* interp = current_interpreter;
  if (interp == nullptr) {
    return absl::FailedPreconditionError(
        "detach refused: the thread is not attached to an interpreter");
  }
  current_interpreter = nullptr;
  alloc::SetCurrentHeap(nullptr);
  if (!interp->host_locked()) interp->lock().UnlockAcrossScopes();
  // Last: once the count is down, a destroyer may free `interp` (it takes
  // no interpreter lock); release publishes this thread's heap writes.
  interp->attached_threads_.fetch_sub(1, std::memory_order_release);
  return absl::OkStatus();
}

std::int64_t ThreadState::DetachedAtThreadExit() noexcept {
  return detached_at_exit.load(std::memory_order_relaxed);
}

ScopedAttach::ScopedAttach(Interpreter* interp) {
  const absl::Status status = ThreadState::Attach(interp);
  ABSL_RAW_CHECK(status.ok(), "ScopedAttach: attach failed");
}

ScopedAttach::~ScopedAttach() {
  const absl::Status status = ThreadState::Detach();
  ABSL_RAW_CHECK(status.ok(), "ScopedAttach: detach failed");
}

}  // namespace interpheap::interp
