#include "pyhost/interpreter_map.h"

#include "absl/strings/str_format.h"
#include "alloc/fatal.h"
#include "sync/mutex_lock.h"

namespace interpheap::pyhost {
namespace internal {
__thread LookupCache lookup_cache = {nullptr, nullptr, 0, nullptr, nullptr};
}  // namespace internal

namespace {

// A retired slot: lookups probe past it, inserts reuse it.
const void* const kTombstone = reinterpret_cast<const void*>(1);

std::size_t HashOf(const void* key, std::size_t slots) {
  const std::uint64_t bits = reinterpret_cast<std::uintptr_t>(key) >> 4;
  return static_cast<std::size_t>((bits * 0x9E3779B97F4A7C15ull) >> 32) &
         (slots - 1);
}

}  // namespace

void InterpreterMap::Configure(interp::Interpreter* main, Callbacks callbacks) {
  sync::MutexLock lock(&mu_);
  main_ = main;
  callbacks_ = callbacks;
}

long InterpreterMap::Find(const void* key) const {
  std::size_t i = HashOf(key, kSlots);
  for (std::size_t probes = 0; probes < kSlots; ++probes) {
    const void* at = keys_[i].load(std::memory_order_acquire);
    if (at == key) return static_cast<long>(i);
    if (at == nullptr) return -1;
    i = (i + 1) & (kSlots - 1);
  }
  return -1;
}

void InterpreterMap::InsertLocked(const void* key, interp::Interpreter* interp,
                                  bool permanent) {
  if (live_.load(std::memory_order_relaxed) >= kMaxInterpreters) {
    alloc::FatalError("pyhost",
                      "more than 8192 live CPython interpreters: "
                      "interpheap's interpreter map is full");
  }
  std::size_t i = HashOf(key, kSlots);
  for (std::size_t probes = 0; probes < kSlots; ++probes) {
    const void* at = keys_[i].load(std::memory_order_relaxed);
    if (at == nullptr || at == kTombstone) {
      interps_[i] = interp;
      permanent_[i] = permanent;
      keys_[i].store(key, std::memory_order_release);
      live_.fetch_add(1, std::memory_order_relaxed);
      if (!permanent) retirable_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    i = (i + 1) & (kSlots - 1);
  }
  alloc::FatalError("pyhost", "interpheap's interpreter map has no free slot");
}

interp::Interpreter* InterpreterMap::LookupSlow(const void* key) {
  const std::uint64_t generation = generation_.load(std::memory_order_acquire);
  long slot = Find(key);
  interp::Interpreter* interp = nullptr;
  if (slot >= 0) {
    interp = interps_[slot];
  } else {
    sync::MutexLock lock(&mu_);
    slot = Find(key);
    if (slot >= 0) {
      interp = interps_[slot];
    } else {
      bool permanent = false;
      interp = callbacks_.create(key, &permanent);
      InsertLocked(key, interp, permanent);
    }
  }
  internal::lookup_cache = {this, key, generation, interp, &interp->heap()};
  return interp;
}

void InterpreterMap::OnRawFreeSlow(const void* p) {
  if (p == nullptr || Find(p) < 0) return;
  interp::Interpreter* interp = nullptr;
  {
    sync::MutexLock lock(&mu_);
    const long slot = Find(p);
    if (slot < 0 || permanent_[slot]) return;
    interp = interps_[slot];
    interps_[slot] = nullptr;
    keys_[slot].store(kTombstone, std::memory_order_release);
    live_.fetch_sub(1, std::memory_order_relaxed);
    retirable_.fetch_sub(1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  retired_.fetch_add(1, std::memory_order_relaxed);
  if (interp != main_) callbacks_.retire(p, interp);
}

}  // namespace interpheap::pyhost
