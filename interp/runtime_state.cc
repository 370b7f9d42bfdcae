#include "interp/runtime_state.h"

namespace interpheap::interp {

const char* RuntimeStateName(RuntimeState state) {
  switch (state) {
    case RuntimeState::kUninitialized:
      return "kUninitialized";
    case RuntimeState::kPreInitialized:
      return "kPreInitialized";
    case RuntimeState::kInitialized:
      return "kInitialized";
    case RuntimeState::kFinalizing:
      return "kFinalizing";
    case RuntimeState::kFinalized:
      return "kFinalized";
  }
  return "?";
}

const char* RuntimeOpName(RuntimeOp op) {
  switch (op) {
    case RuntimeOp::kPreInitialize:
      return "pre-initialize";
    case RuntimeOp::kApplyConfiguration:
      return "apply configuration";
    case RuntimeOp::kReplaceAllocator:
      return "replace";
    case RuntimeOp::kSetArenaAllocator:
      return "set arena allocator";
    case RuntimeOp::kWrapAllocator:
      return "wrap";
    case RuntimeOp::kUnwrapAllocator:
      return "unwrap";
    case RuntimeOp::kInitialize:
      return "initialize";
    case RuntimeOp::kCreateInterpreter:
      return "create interpreter";
    case RuntimeOp::kDestroyInterpreter:
      return "destroy interpreter";
    case RuntimeOp::kFinalize:
      return "finalize";
    case RuntimeOp::kReset:
      return "reset";
    case RuntimeOp::kSetupDebugHooks:
      return "setup debug hooks";
  }
  return "?";
}

const char* RuntimeOpRule(RuntimeOp op) {
  switch (op) {
    case RuntimeOp::kPreInitialize:
      return "pre-initialization starts a cycle, from kUninitialized or "
             "kFinalized";
    case RuntimeOp::kApplyConfiguration:
      return "a named configuration may be applied only between "
             "pre-initialization and initialization";
    case RuntimeOp::kReplaceAllocator:
      return "allocators may be replaced only between pre-initialization and "
             "initialization; after initialization they may only be wrapped";
    case RuntimeOp::kSetArenaAllocator:
      return "the arena allocator may be set only between pre-initialization "
             "and initialization, before any arena exists";
    case RuntimeOp::kWrapAllocator:
      return "hooks may be wrapped from pre-initialization until "
             "finalization starts";
    case RuntimeOp::kUnwrapAllocator:
      return "hooks may be unwrapped once pre-initialized, in any later state";
    case RuntimeOp::kInitialize:
      return "initialization follows pre-initialization";
    case RuntimeOp::kCreateInterpreter:
      return "interpreters may be created only while initialized";
    case RuntimeOp::kDestroyInterpreter:
      return "interpreters other than the main one may be destroyed only "
             "while initialized";
    case RuntimeOp::kFinalize:
      return "only an initialized runtime can be finalized";
    case RuntimeOp::kSetupDebugHooks:
      return "debug hooks may be set up from pre-initialization until "
             "finalization starts";
    case RuntimeOp::kReset:
      return "reset returns to kUninitialized from kPreInitialized or "
             "kFinalized";
  }
  return "?";
}

}  // namespace interpheap::interp
