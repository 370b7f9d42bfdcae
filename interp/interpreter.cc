#include "interp/interpreter.h"

#include <atomic>

namespace interpheap::interp {
namespace {

std::uint64_t NextHandle() {
  ABSL_CONST_INIT static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

const char* LockKindName(LockKind kind) {
  switch (kind) {
    case LockKind::kOwn:
      return "own";
    case LockKind::kMain:
      return "main";
    case LockKind::kHost:
      return "host";
  }
  return "?";
}

Interpreter::Interpreter(std::int64_t id, const InterpreterConfig& config,
                         Interpreter* main)
    : id_(id),
      handle_(NextHandle()),
      config_(config),
      own_lock_(
          config.lock == LockKind::kHost ? config.host_lock_held : nullptr,
          config.host_lock_ctx),
      lock_(main == nullptr || config.lock != LockKind::kMain ? &own_lock_
                                                              : &main->lock()),
      heap_owner_(main == nullptr || config.own_heap ? this : main) {
  if (heap_owner_ == this) own_heap_ = new alloc::Heap(lock_, id_);
}

}  // namespace interpheap::interp
