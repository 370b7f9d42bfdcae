// stress/workload.h: what one stress thread does, and the shared state of a
// run (interpreter slots, mailboxes for cross-interpreter handoffs).
//
// Every block carries a pattern derived from a per-block tag; it is written
// at allocation, checked in full before every free and after every realloc
// (the kept prefix), so a byte that changes anywhere is found. The workload
// is a deterministic function of the seed and the thread index (the
// interleaving of threads is not).

#ifndef INTERPHEAP_STRESS_WORKLOAD_H_
#define INTERPHEAP_STRESS_WORKLOAD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "alloc/allocator_table.h"
#include "interp/interpreter.h"
#include "sync/mutex.h"

namespace interpheap::stress {

// One live block of the workload.
struct Block {
  unsigned char* data = nullptr;
  std::size_t size = 0;
  alloc::Domain domain = alloc::Domain::kRaw;
  std::uint32_t tag = 0;
  int owner_slot = 0;  // the slot whose interpreter allocated it
};

struct WorkloadOptions {
  std::int64_t ops_per_thread = 0;  // 0: run until `stop`
  std::uint64_t seed = 42;
  // Relative weights of the domains.
  int raw_weight = 1, mem_weight = 1, obj_weight = 1;
  // "cpython" (mostly 16..512, some larger), "small" (1..512),
  // "large" (513..64 KiB), "mixed" (0..8 KiB uniform).
  std::string size_mix = "cpython";
  // Percent of allocations handed to another interpreter to free.
  int handoff_percent = 10;
  // Hand over mem/obj blocks too (not under debug hooks, which make a
  // cross-interpreter free a fatal error by design).
  bool handoff_mem_obj = true;
  // mimalloc test-stress's shape for churn slots: before its interpreter is
  // destroyed, a churn thread hands this percent of its long-lived blocks
  // to other slots, which free them later, after the interpreter (and so
  // into an orphaned heap, alloc/pymalloc/pymalloc.h). On by default; only
  // with handoff_mem_obj (debug hooks make cross-interpreter frees fatal).
  int churn_survivor_percent = 25;
  // Test-only: after this many ops, thread 0 overwrites one byte of one of
  // its blocks, which the verifier must catch. -1: never.
  std::int64_t inject_corruption_at = -1;
};

// An interpreter slot: an interpreter (recreated over time for churn
// slots) and the counters the report shows.
struct InterpreterSlot {
  std::string name;
  bool churn = false;
  bool main_lock = false;
  int threads = 0;
  // The live interpreter. Fixed for ordinary slots; a churn slot's single
  // thread replaces it.
  std::atomic<interp::Interpreter*> interp{nullptr};

  std::atomic<std::int64_t> ops{0};
  std::atomic<std::int64_t> live_bytes{0};
  std::atomic<std::int64_t> peak_live_bytes{0};
  std::atomic<std::int64_t> arenas_now{0};
  std::atomic<std::int64_t> arenas_allocated{0};  // finished incarnations
  std::atomic<std::int64_t> arenas_released{0};
  std::atomic<std::int64_t> remote_frees{0};  // finished incarnations
  std::atomic<std::int64_t> recreations{0};
  std::atomic<bool> occupancy_taken{false};
  std::vector<std::int64_t> occupancy;  // written once, by the thread that
                                        // set occupancy_taken

  // Blocks other slots handed to this one, to verify and free here.
  sync::Mutex mailbox_mu;
  std::vector<Block> mailbox ABSL_GUARDED_BY(mailbox_mu);
};

// Written by its worker thread only; read by others after `finished`
// (release-stored by the worker as its last action, acquire-loaded).
struct ThreadResult {
  std::int64_t ops = 0;
  std::int64_t bytes_verified = 0;
  std::vector<std::string> failures;
  std::atomic<bool> finished{false};
};

struct RunState {
  std::vector<InterpreterSlot*> slots;  // owned by the caller
  std::vector<int> handoff_targets;     // slot indexes that accept handoffs
  std::atomic<bool> stop{false};
  bool counts_available = false;  // pymalloc heaps count blocks
};

// Runs one worker thread on slot `slot_index` until its ops are done or
// `state.stop` is set. A churn slot's thread also destroys and recreates
// its interpreter every `churn_every` ops, checking that nothing leaks.
void RunWorker(RunState& state, int slot_index, int thread_index,
               const WorkloadOptions& options, std::int64_t churn_every,
               ThreadResult* result);

// Frees, attached to each slot's interpreter, whatever is left in its
// mailbox (after the workers stopped). Returns failures.
std::vector<std::string> DrainMailboxes(RunState& state,
                                        std::int64_t* bytes_verified);

// The pattern byte `i` of a block with `tag`.
inline unsigned char PatternByte(std::uint32_t tag, std::size_t i) {
  const std::uint32_t x = tag * 2654435761u + static_cast<std::uint32_t>(i);
  return static_cast<unsigned char>((x >> 13) ^ (x >> 5) ^ x);
}

}  // namespace interpheap::stress

#endif  // INTERPHEAP_STRESS_WORKLOAD_H_
