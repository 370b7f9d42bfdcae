// alloc/hooks/debug_block_set.h: the blocks the debug hooks handed out.
//
// Every block a debug hook returns is recorded as live, with its layout;
// free marks it freed. The hooks look a pointer up before reading through
// it, so a double free, a realloc of a freed block, and an interior,
// misaligned or foreign pointer (or one into a freed arena) are diagnosed
// with their own message instead of crashing in the dump. Freed entries
// stay, to name a double free, until their address is handed out again or
// they are forgotten (ForgetFreed) because the allocator below may have
// handed their address out without a header.
//
// A shadow map: one state byte (a cell) per 8-byte granule of the address
// space, in leaves of 512 KiB of addresses (64 KiB of cells each) mapped
// from the OS on first use (no domain is called), found through two levels
// of pointers indexed by the address: three dependent loads and no hash, no
// lock, no probe. A block's cell is the one of its first byte, so an
// interior pointer finds an empty cell. Only making a leaf takes a lock.
// Leaves are never unmapped (addresses come back); they cost 1/8 of the
// address ranges that ever held a debug block.
//
// Cells are atomics: a free's mark (TakeLive, an exchange) tells two threads
// freeing the same block apart, so exactly one frees it and the other dies
// with "double free".

#ifndef INTERPHEAP_ALLOC_HOOKS_DEBUG_BLOCK_SET_H_
#define INTERPHEAP_ALLOC_HOOKS_DEBUG_BLOCK_SET_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "sync/mutex.h"

namespace interpheap::alloc {

enum class DebugBlockState : std::uint8_t { kUnknown = 0, kLive, kFreed };

struct DebugBlockInfo {
  DebugBlockState state = DebugBlockState::kUnknown;
  bool has_serial = false;  // the block carries the serial-number word
};

// Thread-safe; lock-free but for making a leaf.
class DebugBlockSet {
 public:
  // A cell: the state in the low bits, kSerialBit when the block carries
  // the serial-number word.
  using Cell = std::atomic<std::uint8_t>;
  static constexpr std::uint8_t kSerialBit = 4;

  constexpr DebugBlockSet() = default;

  // The process's set, constant-initialized.
  static DebugBlockSet& Global() { return global_; }

  // Records `p` as live (replacing a freed entry for the same address).
  // False if its leaf could not be mapped, or `p` is not 8-byte aligned or
  // beyond 47 bits (nothing recorded).
  bool AddLive(const void* p, bool has_serial) {
    Cell* cell = CellFor(p);
    if (ABSL_PREDICT_FALSE(cell == nullptr)) {
      cell = MakeCell(p);
      if (cell == nullptr) return false;
    }
    cell->store(Pack(DebugBlockState::kLive, has_serial),
                std::memory_order_release);
    return true;
  }

  DebugBlockInfo Lookup(const void* p) const {
    const Cell* cell = CellFor(p);
    return cell == nullptr ? DebugBlockInfo{}
                           : Unpack(cell->load(std::memory_order_acquire));
  }

  // Marks `p` freed if it is live; returns what it was before.
  DebugBlockInfo TakeLive(const void* p) {
    Cell* cell = CellFor(p);
    return cell == nullptr ? DebugBlockInfo{} : TakeLive(cell);
  }

  // The cell of `p` for a caller that looks up once and then marks (the
  // debug hooks' free): nullptr when no block was ever recorded in its
  // leaf (or p cannot have a cell).
  ABSL_ATTRIBUTE_ALWAYS_INLINE Cell* CellFor(const void* p) const {
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    // Unaligned, or beyond 47 bits: no cell (one test).
    constexpr std::uintptr_t kNoCell =
        ~((std::uintptr_t{1} << kAddressBits) - 1) | (kGranule - 1);
    if (ABSL_PREDICT_FALSE((address & kNoCell) != 0)) return nullptr;
    const Mid* mid = top_[address >> kTopShift].load(std::memory_order_acquire);
    if (ABSL_PREDICT_FALSE(mid == nullptr)) return nullptr;
    Leaf* leaf = mid->leaves[(address >> kMidShift) & (kMidFanout - 1)].load(
        std::memory_order_acquire);
    if (ABSL_PREDICT_FALSE(leaf == nullptr)) return nullptr;
    return &leaf->cells[(address >> kGranuleShift) & (kLeafCells - 1)];
  }
  // A cell's value.
  static std::uint8_t Pack(DebugBlockState state, bool has_serial) {
    return static_cast<std::uint8_t>(static_cast<std::uint8_t>(state) |
                                     (has_serial ? kSerialBit : 0));
  }
  static DebugBlockInfo Unpack(std::uint8_t value) {
    return {static_cast<DebugBlockState>(value & 3), (value & kSerialBit) != 0};
  }
  // Marks the block of `cell` freed if it is live; what it was before.
  // `seen`: the value the caller loaded (one compare-exchange when it is
  // still there).
  static DebugBlockInfo TakeLive(Cell* cell) {
    return TakeLive(cell, cell->load(std::memory_order_relaxed));
  }
  static DebugBlockInfo TakeLive(Cell* cell, std::uint8_t seen) {
    std::uint8_t value = seen;
    for (;;) {
      if (Unpack(value).state != DebugBlockState::kLive) return Unpack(value);
      const std::uint8_t freed = static_cast<std::uint8_t>(
          (value & kSerialBit) |
          static_cast<std::uint8_t>(DebugBlockState::kFreed));
      if (cell->compare_exchange_weak(value, freed, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return Unpack(value);
      }
    }
  }

  // Forgets every freed entry: Lookup answers kUnknown for them from then
  // on. Live entries are kept.
  void ForgetFreed();

  // Registers the leaf lock with fork() (alloc/fork.h), so a child forked
  // while another thread maps a leaf finds it free. Returns true (for a
  // namespace-scope initializer).
  bool RegisterForkLocks();

 private:
  static constexpr int kGranuleShift = 3;
  static constexpr std::uintptr_t kGranule = std::uintptr_t{1} << kGranuleShift;
  static constexpr int kAddressBits = 47;  // x86-64 and AArch64 user space
  static constexpr int kLeafBits = 16;     // cells per leaf: 2^16
  static constexpr int kMidBits = 14;      // leaves per mid
  static constexpr int kMidShift = kGranuleShift + kLeafBits;
  static constexpr int kTopShift = kMidShift + kMidBits;
  static constexpr std::size_t kLeafCells = std::size_t{1} << kLeafBits;
  static constexpr std::size_t kMidFanout = std::size_t{1} << kMidBits;
  static constexpr std::size_t kTopFanout = std::size_t{1}
                                            << (kAddressBits - kTopShift);

  struct Leaf {
    Cell cells[kLeafCells];
  };
  struct Mid {
    std::atomic<Leaf*> leaves[kMidFanout];
  };

  // Maps the leaf (and mid) of `p` if needed; its cell, or nullptr.
  Cell* MakeCell(const void* p) ABSL_LOCKS_EXCLUDED(make_mu_);

  static DebugBlockSet global_;

  // Written only under make_mu_ (release), read without it (acquire).
  std::atomic<Mid*> top_[kTopFanout] = {};
  sync::Mutex make_mu_{absl::kConstInit};
};

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_DEBUG_BLOCK_SET_H_
