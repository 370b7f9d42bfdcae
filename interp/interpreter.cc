#include "interp/interpreter.h"

#include <atomic>

namespace interpheap::interp {
namespace {

std::uint64_t NextHandle() {
  ABSL_CONST_INIT static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Interpreter::Interpreter(std::int64_t id, const InterpreterConfig& config,
                         Interpreter* main)
    : id_(id),
      handle_(NextHandle()),
      config_(config),
      lock_(main == nullptr || config.own_lock ? &own_lock_ : &main->lock()),
      heap_owner_(main == nullptr || config.own_heap ? this : main) {
  if (heap_owner_ == this) own_heap_ = new alloc::Heap(lock_, id_);
}

}  // namespace interpheap::interp
