#include "interp/thread_state.h"

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_format.h"

namespace interpheap::interp {
namespace {

ABSL_CONST_INIT thread_local Interpreter* current_interpreter = nullptr;

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
  if (current_interpreter != nullptr) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "attach refused: the thread is already attached to interpreter %d; "
        "detach first",
        current_interpreter->id()));
  }
  interp->lock().LockAcrossScopes();
  interp->attached_threads_.fetch_add(1, std::memory_order_relaxed);
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
  interp->lock().UnlockAcrossScopes();
  // Last: once the count is down, a destroyer may free `interp` (it takes
  // no interpreter lock); release publishes this thread's heap writes.
  interp->attached_threads_.fetch_sub(1, std::memory_order_release);
  return absl::OkStatus();
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
