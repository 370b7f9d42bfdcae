// interp/runtime_state.h: the runtime's lifecycle states and which
// control-plane operation each state allows.
//
// The table below is the contract; kTransitions is the same table in code,
// and Runtime (interp/runtime.h) consults it before every operation. A test
// walks every (state, operation) pair.
//
//                   | Uninit. | PreInit.  | Initialized | Finalizing | Finalized
// ------------------+---------+-----------+-------------+------------+----------
// PreInitialize     | PreInit | refused   | refused     | refused    | PreInit
// ApplyConfiguration| refused | PreInit   | refused     | refused    | refused
// ReplaceAllocator  | refused | PreInit   | refused     | refused    | refused
// SetArenaAllocator | refused | PreInit   | refused     | refused    | refused
// WrapAllocator     | refused | PreInit   | Initialized | refused    | refused
// UnwrapAllocator   | refused | PreInit   | Initialized | Finalizing | Finalized
// Initialize        | refused | Initialized| refused    | refused    | refused
// CreateInterpreter | refused | refused   | Initialized | refused    | refused
// DestroyInterpreter| refused | refused   | Initialized | refused    | refused
// Finalize          | refused | refused   | Finalized*  | refused    | refused
// Reset             | refused | Uninit.   | refused     | refused    | Uninit.
// SetupDebugHooks   | refused | PreInit   | Initialized*| refused    | refused
//
// A cell names the state after the operation succeeds; "refused" means the
// operation returns FailedPrecondition naming the state and the rule, and
// changes nothing (the state and every allocator table stay bit-identical).
// (*) Finalize passes through Finalizing: it runs the finalize callbacks
// there, destroys the main interpreter, then enters Finalized.
// SetupDebugHooks after initialization is also refused while mem/obj blocks
// are live (they have no debug header), or when the configuration cannot
// count them.
//
// The states:
//   kUninitialized: the process start. Every domain is the C library
//     allocator; only the raw domain is meant to be used. The only way out
//     is PreInitialize.
//   kPreInitialized: a named configuration is applied. The replace window:
//     allocators may be replaced, wrapped and unwrapped freely, and another
//     configuration applied. No interpreter exists yet. Out: Initialize, or
//     Reset to abandon.
//   kInitialized: the main interpreter exists; other interpreters come and
//     go. Allocators may only be wrapped (the hook receives the allocator it
//     wraps) and unwrapped in LIFO order: a block allocated before a
//     replacement would reach an allocator that never saw it. Out: Finalize.
//   kFinalizing: inside Finalize, while finalize callbacks run. Only the
//     main interpreter is left; hooks may come off, nothing may be installed
//     or created. Out: Finalize continues to kFinalized.
//   kFinalized: no interpreter exists. The raw domain still works (it works
//     in every state). Out: PreInitialize (a new embedding cycle) or Reset.

#ifndef INTERPHEAP_INTERP_RUNTIME_STATE_H_
#define INTERPHEAP_INTERP_RUNTIME_STATE_H_

#include <cstdint>
#include <optional>

namespace interpheap::interp {

enum class RuntimeState : std::uint8_t {
  kUninitialized,
  kPreInitialized,
  kInitialized,
  kFinalizing,
  kFinalized,
};
inline constexpr int kRuntimeStateCount = 5;

enum class RuntimeOp : std::uint8_t {
  kPreInitialize,
  kApplyConfiguration,
  kReplaceAllocator,
  kSetArenaAllocator,
  kWrapAllocator,
  kUnwrapAllocator,
  kInitialize,
  kCreateInterpreter,
  kDestroyInterpreter,
  kFinalize,
  kReset,
  kSetupDebugHooks,
};
inline constexpr int kRuntimeOpCount = 12;

// "kInitialized", ... as written in diagnostics.
const char* RuntimeStateName(RuntimeState state);
// "replace", "wrap", ... as written in diagnostics.
const char* RuntimeOpName(RuntimeOp op);
// Where `op` is allowed, in words: the rule a refusal quotes.
const char* RuntimeOpRule(RuntimeOp op);

namespace internal {
inline constexpr std::optional<RuntimeState> kRefused = std::nullopt;
inline constexpr std::optional<RuntimeState> kTo(RuntimeState s) { return s; }
}  // namespace internal

// kTransitions[state][op]: the state after `op` succeeds in `state`, or
// nullopt when `op` is refused there. The table in the file comment, as code.
inline constexpr std::optional<RuntimeState>
    kTransitions[kRuntimeStateCount][kRuntimeOpCount] = {
        // kUninitialized
        {internal::kTo(RuntimeState::kPreInitialized), internal::kRefused,
         internal::kRefused, internal::kRefused, internal::kRefused,
         internal::kRefused,
         internal::kRefused, internal::kRefused, internal::kRefused,
         internal::kRefused, internal::kRefused, internal::kRefused},
        // kPreInitialized
        {internal::kRefused, internal::kTo(RuntimeState::kPreInitialized),
         internal::kTo(RuntimeState::kPreInitialized),
         internal::kTo(RuntimeState::kPreInitialized),
         internal::kTo(RuntimeState::kPreInitialized),
         internal::kTo(RuntimeState::kPreInitialized),
         internal::kTo(RuntimeState::kInitialized), internal::kRefused,
         internal::kRefused, internal::kRefused,
         internal::kTo(RuntimeState::kUninitialized), internal::kTo(RuntimeState::kPreInitialized)},
        // kInitialized
        {internal::kRefused, internal::kRefused, internal::kRefused,
         internal::kRefused,
         internal::kTo(RuntimeState::kInitialized),
         internal::kTo(RuntimeState::kInitialized), internal::kRefused,
         internal::kTo(RuntimeState::kInitialized),
         internal::kTo(RuntimeState::kInitialized),
         internal::kTo(RuntimeState::kFinalized), internal::kRefused, internal::kTo(RuntimeState::kInitialized)},
        // kFinalizing
        {internal::kRefused, internal::kRefused, internal::kRefused,
         internal::kRefused,
         internal::kRefused, internal::kTo(RuntimeState::kFinalizing),
         internal::kRefused, internal::kRefused, internal::kRefused,
         internal::kRefused, internal::kRefused, internal::kRefused},
        // kFinalized
        {internal::kTo(RuntimeState::kPreInitialized), internal::kRefused,
         internal::kRefused, internal::kRefused, internal::kRefused,
         internal::kTo(RuntimeState::kFinalized), internal::kRefused,
         internal::kRefused, internal::kRefused, internal::kRefused,
         internal::kTo(RuntimeState::kUninitialized), internal::kRefused},
};

// The state after `op` in `state`, or nullopt when refused.
constexpr std::optional<RuntimeState> NextState(RuntimeState state,
                                                RuntimeOp op) {
  return kTransitions[static_cast<int>(state)][static_cast<int>(op)];
}

}  // namespace interpheap::interp

#endif  // INTERPHEAP_INTERP_RUNTIME_STATE_H_
