#include "interp/interpreter.h"

namespace interpheap::interp {

Interpreter::Interpreter(std::int64_t id, const InterpreterConfig& config,
                         Interpreter* main)
    : id_(id),
      config_(config),
      lock_(main == nullptr || config.own_lock ? &own_lock_ : &main->lock()),
      heap_owner_(main == nullptr || config.own_heap ? this : main) {
  if (heap_owner_ == this) own_heap_ = new alloc::Heap(lock_, id_);
}

}  // namespace interpheap::interp
