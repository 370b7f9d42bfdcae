#include "stress/workload.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <random>

#include "absl/strings/str_format.h"
#include "alloc/domain.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"
#include "sync/mutex_lock.h"

namespace interpheap::stress {
namespace {

using alloc::Domain;
using interp::Runtime;
using interp::ThreadState;

constexpr std::size_t kShortLived = 64;
constexpr std::size_t kLongLived = 1024;

void Fill(const Block& block) {
  for (std::size_t i = 0; i < block.size; ++i) {
    block.data[i] = PatternByte(block.tag, i);
  }
}

// The first wrong byte of [0, limit), or -1.
std::int64_t FirstMismatch(const Block& block, std::size_t limit) {
  for (std::size_t i = 0; i < limit; ++i) {
    if (block.data[i] != PatternByte(block.tag, i)) {
      return static_cast<std::int64_t>(i);
    }
  }
  return -1;
}

std::string Describe(const Block& block, std::int64_t index, const char* when) {
  return absl::StrFormat(
      "verification failed %s: %s block %p of %d bytes: byte %d is 0x%02x, "
      "expected 0x%02x",
      when, alloc::DomainName(block.domain), static_cast<void*>(block.data),
      block.size, index, block.data[index], PatternByte(block.tag, index));
}

class Worker {
 public:
  Worker(RunState& state, int slot_index, int thread_index,
         const WorkloadOptions& options, ThreadResult* result)
      : state_(state),
        slot_index_(slot_index),
        slot_(*state.slots[slot_index]),
        options_(options),
        rng_(options.seed * 1000003 + thread_index),
        thread_index_(thread_index),
        result_(result) {
    const int total =
        options.raw_weight + options.mem_weight + options.obj_weight;
    raw_cut_ = options.raw_weight * 1000 / std::max(total, 1);
    mem_cut_ = raw_cut_ + options.mem_weight * 1000 / std::max(total, 1);
  }

  bool Attach() {
    return ThreadState::Attach(slot_.interp.load(std::memory_order_acquire))
        .ok();
  }
  bool Detach() { return ThreadState::Detach().ok(); }

  // One operation; false to stop (a failure was recorded).
  bool Step() {
    const std::uint64_t r = rng_();
    const int action = static_cast<int>(r % 100);
    if (action < 4) {
      DrainMailbox(8);
    } else if (action < 50 || (short_.empty() && long_.empty())) {
      Allocate();
    } else if (action < 62) {
      ReallocOne();
    } else if (action < 90) {
      if (!short_.empty()) FreeAt(short_, short_.size() - 1);  // LIFO-ish
    } else {
      if (!long_.empty()) FreeAt(long_, rng_() % long_.size());
    }
    ++result_->ops;
    slot_.ops.fetch_add(1, std::memory_order_relaxed);
    if (options_.inject_corruption_at >= 0 && thread_index_ == 0 &&
        result_->ops == options_.inject_corruption_at) {
      Corrupt();
    }
    if ((result_->ops & 127) == 0) {
      // Record arenas for the progress display, then let the other threads
      // of this interpreter run.
      slot_.arenas_now.store(
          static_cast<std::int64_t>(
              ThreadState::Current()->heap().arenas_current_relaxed()),
          std::memory_order_relaxed);
      if (!Detach() || !Attach()) {
        result_->failures.push_back("attach/detach failed");
        return false;
      }
    }
    return result_->failures.empty();
  }

  // Before its interpreter is destroyed (churn slots): hands some
  // long-lived blocks to other slots to free after the destroy, so they
  // outlive the interpreter that allocated them. Returns how many.
  std::int64_t HandOffSurvivors() {
    if (!options_.handoff_mem_obj || state_.handoff_targets.empty()) return 0;
    std::int64_t handed = 0;
    for (std::size_t i = 0; i < long_.size();) {
      const std::uint64_t r = rng_();
      const int target =
          state_.handoff_targets[(r >> 8) % state_.handoff_targets.size()];
      if (static_cast<int>(r % 100) >= options_.churn_survivor_percent ||
          target == slot_index_) {
        ++i;
        continue;
      }
      {
        InterpreterSlot& to = *state_.slots[target];
        sync::MutexLock hold(&to.mailbox_mu);
        to.mailbox.push_back(long_[i]);
      }
      long_[i] = long_.back();
      long_.pop_back();
      ++handed;
    }
    return handed;
  }

  // Frees everything this thread still holds.
  void FreeAll() {
    while (!short_.empty()) FreeAt(short_, short_.size() - 1);
    while (!long_.empty()) FreeAt(long_, long_.size() - 1);
    DrainMailbox(SIZE_MAX);
  }

  void SampleOccupancy() {
    if (slot_.occupancy_taken.exchange(true)) return;
    absl::StatusOr<alloc::HeapStats> stats = Runtime::CurrentHeapStats();
    std::vector<std::int64_t> occupancy(alloc::kSizeClassCount, 0);
    if (stats.ok()) {
      for (int c = 0; c < alloc::kSizeClassCount; ++c) {
        occupancy[c] = static_cast<std::int64_t>(stats->blocks_in_use[c]);
      }
    }
    slot_.occupancy = std::move(occupancy);
  }

 private:
  Domain PickDomain(std::uint64_t r) const {
    const int x = static_cast<int>(r % 1000);
    if (x < raw_cut_) return Domain::kRaw;
    return x < mem_cut_ ? Domain::kMem : Domain::kObj;
  }

  std::size_t PickSize() {
    const std::uint64_t r = rng_();
    const std::string& mix = options_.size_mix;
    if (mix == "small") return 1 + r % 512;
    if (mix == "large") return 513 + r % (64 * 1024 - 512);
    if (mix == "mixed") return r % 8193;
    // cpython: CPython-like, most objects small.
    const int bucket = static_cast<int>(r % 100);
    const std::uint64_t v = r >> 8;
    if (bucket < 40) return 16 + v % 17;
    if (bucket < 70) return 33 + v % 32;
    if (bucket < 85) return 65 + v % 64;
    if (bucket < 95) return 129 + v % 128;
    if (bucket < 98) return 257 + v % 256;
    if (bucket < 99) return v % 16;  // includes 0
    return 513 + v % 4096;
  }

  void AddLive(std::int64_t bytes, int slot_index) {
    InterpreterSlot& slot = *state_.slots[slot_index];
    const std::int64_t now =
        slot.live_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    std::int64_t peak = slot.peak_live_bytes.load(std::memory_order_relaxed);
    while (now > peak && !slot.peak_live_bytes.compare_exchange_weak(
                             peak, now, std::memory_order_relaxed)) {
    }
  }

  void Allocate() {
    const std::uint64_t r = rng_();
    Block block;
    block.domain = PickDomain(r);
    block.size = PickSize();
    block.tag = static_cast<std::uint32_t>(r >> 32);
    block.owner_slot = slot_index_;
    block.data = static_cast<unsigned char*>(
        (r >> 20) % 5 == 0 ? alloc::Calloc(block.domain, 1, block.size)
                           : alloc::Malloc(block.domain, block.size));
    if (block.data == nullptr) {
      result_->failures.push_back(
          absl::StrFormat("allocation of %d bytes in %s failed", block.size,
                          alloc::DomainName(block.domain)));
      return;
    }
    if (block.size > 0 && (r >> 20) % 5 == 0) {
      for (std::size_t i = 0; i < block.size; ++i) {
        if (block.data[i] != 0) {
          result_->failures.push_back("calloc returned a non-zero byte");
          break;
        }
      }
    }
    Fill(block);
    AddLive(static_cast<std::int64_t>(block.size), slot_index_);
    // A churn slot's blocks stay home: its interpreter must be empty when
    // it is destroyed.
    const bool may_hand_off = !slot_.churn && (block.domain == Domain::kRaw ||
                                               options_.handoff_mem_obj);
    if (may_hand_off && !state_.handoff_targets.empty() &&
        static_cast<int>((r >> 8) % 100) < options_.handoff_percent) {
      const int target =
          state_.handoff_targets[(r >> 40) % state_.handoff_targets.size()];
      if (target != slot_index_) {
        InterpreterSlot& to = *state_.slots[target];
        sync::MutexLock hold(&to.mailbox_mu);
        to.mailbox.push_back(block);
        return;
      }
    }
    std::vector<Block>& pool = (r >> 12) % 4 == 0 ? long_ : short_;
    if (pool.size() >= (&pool == &long_ ? kLongLived : kShortLived)) {
      FreeAt(pool, rng_() % pool.size());
    }
    pool.push_back(block);
  }

  bool Verify(const Block& block, std::size_t limit, const char* when) {
    const std::int64_t bad = FirstMismatch(block, limit);
    result_->bytes_verified += static_cast<std::int64_t>(limit);
    if (bad >= 0) {
      result_->failures.push_back(Describe(block, bad, when));
      return false;
    }
    return true;
  }

  void FreeBlock(const Block& block) {
    Verify(block, block.size, "before free");
    alloc::Free(block.domain, block.data);
    AddLive(-static_cast<std::int64_t>(block.size), block.owner_slot);
  }

  void FreeAt(std::vector<Block>& pool, std::size_t index) {
    const Block block = pool[index];
    pool[index] = pool.back();
    pool.pop_back();
    FreeBlock(block);
  }

  void ReallocOne() {
    std::vector<Block>& pool = long_.empty() ? short_ : long_;
    if (pool.empty()) return;
    Block& block = pool[rng_() % pool.size()];
    const std::size_t new_size = PickSize();
    void* moved = alloc::Realloc(block.domain, block.data, new_size);
    if (moved == nullptr) {
      result_->failures.push_back(
          absl::StrFormat("realloc of %d to %d bytes in %s failed", block.size,
                          new_size, alloc::DomainName(block.domain)));
      return;
    }
    Block resized = block;
    resized.data = static_cast<unsigned char*>(moved);
    Verify(resized, std::min(block.size, new_size), "after realloc");
    AddLive(static_cast<std::int64_t>(new_size) -
                static_cast<std::int64_t>(block.size),
            block.owner_slot);
    resized.size = new_size;
    Fill(resized);
    block = resized;
  }

  void DrainMailbox(std::size_t limit) {
    std::vector<Block> taken;
    {
      sync::MutexLock hold(&slot_.mailbox_mu);
      const std::size_t n = std::min(limit, slot_.mailbox.size());
      taken.assign(slot_.mailbox.end() - n, slot_.mailbox.end());
      slot_.mailbox.resize(slot_.mailbox.size() - n);
    }
    for (const Block& block : taken) FreeBlock(block);
  }

  void Corrupt() {
    std::vector<Block>& pool = long_.empty() ? short_ : long_;
    for (Block& block : pool) {
      if (block.size > 4) {
        block.data[block.size / 2] ^= 0x5A;
        std::fprintf(stderr,
                     "stress: --inject_corruption: flipped a byte of block "
                     "%p\n",
                     static_cast<void*>(block.data));
        return;
      }
    }
  }

  RunState& state_;
  const int slot_index_;
  InterpreterSlot& slot_;
  const WorkloadOptions& options_;
  std::mt19937_64 rng_;
  const int thread_index_;
  ThreadResult* result_;
  int raw_cut_ = 0, mem_cut_ = 0;
  std::vector<Block> short_, long_;
};

// Destroys the churn slot's interpreter after checking it is empty, and
// makes a new one.
// `survivors`: blocks handed to other slots just before (they may be freed
// already, or after the destroy, into the orphaned heap).
bool Recreate(InterpreterSlot& slot, ThreadResult* result,
              bool counts_available, std::int64_t survivors) {
  interp::Interpreter* old = slot.interp.load(std::memory_order_acquire);
  absl::StatusOr<alloc::HeapStats> stats = Runtime::CurrentHeapStats();
  if (stats.ok()) {
    slot.arenas_allocated.fetch_add(
        static_cast<std::int64_t>(stats->arenas_allocated_total));
    // Destroying an interpreter with no live block releases every arena.
    slot.arenas_released.fetch_add(
        static_cast<std::int64_t>(stats->arenas_allocated_total));
  }
  slot.remote_frees.fetch_add(old->heap().remote_frees());
  if (counts_available) {
    // Everything else was freed at home, so at most the survivors are
    // still allocated (others may have freed some already, and a raw
    // survivor freed elsewhere is counted by that heap).
    absl::StatusOr<std::int64_t> live = Runtime::CurrentAllocatedBlocks();
    if (!live.ok() || *live > survivors || (survivors == 0 && *live != 0)) {
      result->failures.push_back(absl::StrFormat(
          "%s: %d blocks still allocated before destroy, %d survivors",
          slot.name, live.value_or(-1), survivors));
      return false;
    }
  }
  if (!ThreadState::Detach().ok()) return false;
  // (LeakedBlocks() is process-wide: other churn slots' survivors move it
  // meanwhile, so the per-heap count above is the check.)
  if (absl::Status s = Runtime::Get().DestroyInterpreter(old); !s.ok()) {
    result->failures.push_back(std::string(s.message()));
    return false;
  }
  absl::StatusOr<interp::Interpreter*> fresh =
      Runtime::Get().CreateInterpreter();
  if (!fresh.ok()) {
    result->failures.push_back(std::string(fresh.status().message()));
    return false;
  }
  slot.interp.store(*fresh, std::memory_order_release);
  slot.recreations.fetch_add(1);
  return ThreadState::Attach(*fresh).ok();
}

}  // namespace

void RunWorker(RunState& state, int slot_index, int thread_index,
               const WorkloadOptions& options, std::int64_t churn_every,
               ThreadResult* result) {
  Worker worker(state, slot_index, thread_index, options, result);
  InterpreterSlot& slot = *state.slots[slot_index];
  if (!worker.Attach()) {
    result->failures.push_back("attach failed");
    result->finished.store(true, std::memory_order_release);
    return;
  }
  std::int64_t since_churn = 0;
  while (
      !state.stop.load(std::memory_order_relaxed) &&
      (options.ops_per_thread == 0 || result->ops < options.ops_per_thread)) {
    if (!worker.Step()) break;
    if (result->ops == 20000) worker.SampleOccupancy();
    if (slot.churn && ++since_churn >= churn_every) {
      since_churn = 0;
      const std::int64_t survivors = worker.HandOffSurvivors();
      worker.FreeAll();
      if (!Recreate(slot, result, state.counts_available, survivors)) break;
    }
  }
  worker.SampleOccupancy();
  worker.FreeAll();
  if (!worker.Detach()) result->failures.push_back("detach failed");
  result->finished.store(true, std::memory_order_release);
}

std::vector<std::string> DrainMailboxes(RunState& state,
                                        std::int64_t* bytes_verified) {
  std::vector<std::string> failures;
  for (InterpreterSlot* slot : state.slots) {
    std::vector<Block> left;
    {
      sync::MutexLock hold(&slot->mailbox_mu);
      left.swap(slot->mailbox);
    }
    if (left.empty()) continue;
    interp::ScopedAttach attach(slot->interp.load());
    for (const Block& block : left) {
      const std::int64_t bad = FirstMismatch(block, block.size);
      *bytes_verified += static_cast<std::int64_t>(block.size);
      if (bad >= 0) failures.push_back(Describe(block, bad, "in a mailbox"));
      alloc::Free(block.domain, block.data);
      state.slots[block.owner_slot]->live_bytes.fetch_sub(
          static_cast<std::int64_t>(block.size));
    }
  }
  return failures;
}

}  // namespace interpheap::stress
