// interp/runtime_state.h: the runtime's lifecycle states and which
// control-plane operation each state allows.
//
// The table below is the contract; kTransitions is the same table in code,
// and Runtime (interp/runtime.h) consults it before every operation. A test
// walks every (state, operation) pair.
//
//                    | Uninit  | PreInit  | Init       | Finalizing | Finalized
// -------------------+---------+----------+------------+------------+----------
// PreInitialize      | PreInit | -        | -          | -          | PreInit
// ApplyConfiguration | -       | PreInit  | -          | -          | -
// ReplaceAllocator   | -       | PreInit  | -          | -          | -
// SetArenaAllocator  | -       | PreInit  | -          | -          | -
// WrapAllocator      | -       | PreInit  | Init       | -          | -
// UnwrapAllocator    | -       | PreInit  | Init       | Finalizing | Finalized
// Initialize         | -       | Init     | -          | -          | -
// CreateInterpreter  | -       | -        | Init       | -          | -
// DestroyInterpreter | -       | -        | Init       | -          | -
// Finalize           | -       | -        | Finalized* | -          | -
// Reset              | -       | Uninit   | -          | -          | Uninit
// SetupDebugHooks    | -       | PreInit  | Init*      | -          | -
//
// Init = kInitialized, and so on; "-" means refused.
//
// A cell names the state after the operation succeeds; a refused operation
// returns FailedPrecondition naming the state and the rule, and
// changes nothing (the state and every allocator table stay bit-identical).
// (*) Finalize passes through Finalizing: it runs the finalize callbacks
// there, destroys the main interpreter, then enters Finalized.
// SetupDebugHooks after initialization goes on over live blocks, which have
// no debug header: the hooks pass the pointers they never made down
// (Runtime::SetupDebugHooks).
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
// One row of the table: the state after an operation, per state it starts
// in (nullopt: refused there).
struct TransitionRow {
  std::optional<RuntimeState> from[kRuntimeStateCount];
};
inline constexpr std::optional<RuntimeState> kNo = std::nullopt;
inline constexpr RuntimeState kUni = RuntimeState::kUninitialized;
inline constexpr RuntimeState kPre = RuntimeState::kPreInitialized;
inline constexpr RuntimeState kIni = RuntimeState::kInitialized;
inline constexpr RuntimeState kFng = RuntimeState::kFinalizing;
inline constexpr RuntimeState kFin = RuntimeState::kFinalized;

// clang-format off
inline constexpr TransitionRow kTransitionTable[kRuntimeOpCount] = {
    //                       Uninit PreInit Init  Finalizing Finalized
    /* PreInitialize      */ {{kPre, kNo,   kNo,  kNo,  kPre}},
    /* ApplyConfiguration */ {{kNo,  kPre,  kNo,  kNo,  kNo}},
    /* ReplaceAllocator   */ {{kNo,  kPre,  kNo,  kNo,  kNo}},
    /* SetArenaAllocator  */ {{kNo,  kPre,  kNo,  kNo,  kNo}},
    /* WrapAllocator      */ {{kNo,  kPre,  kIni, kNo,  kNo}},
    /* UnwrapAllocator    */ {{kNo,  kPre,  kIni, kFng, kFin}},
    /* Initialize         */ {{kNo,  kIni,  kNo,  kNo,  kNo}},
    /* CreateInterpreter  */ {{kNo,  kNo,   kIni, kNo,  kNo}},
    /* DestroyInterpreter */ {{kNo,  kNo,   kIni, kNo,  kNo}},
    /* Finalize           */ {{kNo,  kNo,   kFin, kNo,  kNo}},
    /* Reset              */ {{kNo,  kUni,  kNo,  kNo,  kUni}},
    /* SetupDebugHooks    */ {{kNo,  kPre,  kIni, kNo,  kNo}},
};
// clang-format on
}  // namespace internal

// kTransitions[op].from[state]: the table in the file comment, as code, one
// row per operation in RuntimeOp order.
inline constexpr const auto& kTransitions = internal::kTransitionTable;

// The state after `op` in `state`, or nullopt when refused.
constexpr std::optional<RuntimeState> NextState(RuntimeState state,
                                                RuntimeOp op) {
  return kTransitions[static_cast<int>(op)].from[static_cast<int>(state)];
}

}  // namespace interpheap::interp

#endif  // INTERPHEAP_INTERP_RUNTIME_STATE_H_
