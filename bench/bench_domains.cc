// bench_domains: Google Benchmark microbenchmarks of the domains' fast
// paths, side by side with the C library in one run: a malloc+free pair, a
// pair whose size changes every iteration, a stack of k blocks, and k blocks
// freed in random order, per domain and configuration (malloc, pymalloc and
// their debug hooks). A benchmark, not a test: nothing here asserts timing.
// The side-by-side comparison with other allocators is
// //bench (bench_workloads.h).
//
//   ./bazelw run -c opt //bench:bench_domains
//
// Every loop keeps a neighbour block alive, so no allocator is measured on
// an empty-pool or empty-arena transition.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "alloc/domain.h"
#include "benchmark/benchmark.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"

namespace {

using interpheap::alloc::Domain;
using interpheap::interp::Runtime;
using interpheap::interp::ThreadState;

const char* const kConfigs[] = {"malloc", "pymalloc", "malloc_debug",
                                "pymalloc_debug"};
constexpr int kConfigCount = 4;

// Sizes a "pair with size changes" walks through: one per pymalloc size
// class group, in an order that changes the class every iteration.
constexpr std::size_t kMixedSizes[] = {16,  200, 48,  512, 32,  96, 272, 64,
                                       384, 24,  128, 160, 448, 80, 240, 40};
constexpr std::size_t kMixedCount =
    sizeof(kMixedSizes) / sizeof(kMixedSizes[0]);

// A fixed random permutation of [0, k), the order of random-order frees.
std::vector<std::size_t> Permutation(std::size_t k) {
  std::vector<std::size_t> order(k);
  for (std::size_t i = 0; i < k; ++i) order[i] = i;
  std::mt19937_64 rng(42);
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

// Brings the runtime to `config`, initialized, with this thread attached to
// main. Cycles the runtime when another configuration is active.
void UseConfiguration(const std::string& config) {
  static std::string active;
  if (active == config) return;
  Runtime& runtime = Runtime::Get();
  if (ThreadState::Current() != nullptr) (void)ThreadState::Detach();
  if (runtime.state() == interpheap::interp::RuntimeState::kInitialized) {
    (void)runtime.Finalize();
  }
  interpheap::interp::RuntimeConfig rc;
  rc.allocator = config;
  rc.use_environment = false;
  if (!runtime.PreInitialize(rc).ok() || !runtime.Initialize().ok() ||
      !ThreadState::Attach(runtime.main_interpreter()).ok()) {
    std::abort();
  }
  active = config;
}

// Args: domain, configuration index, size.
void BM_DomainPair(benchmark::State& state) {
  const auto domain = static_cast<Domain>(state.range(0));
  const std::string config = kConfigs[state.range(1)];
  const auto size = static_cast<std::size_t>(state.range(2));
  UseConfiguration(config);
  void* neighbour = interpheap::alloc::Malloc(domain, size);
  for (auto _ : state) {
    void* p = interpheap::alloc::Malloc(domain, size);
    benchmark::DoNotOptimize(p);
    interpheap::alloc::Free(domain, p);
  }
  interpheap::alloc::Free(domain, neighbour);
  state.SetLabel(std::string(interpheap::alloc::DomainName(domain)) + "/" +
                 config);
}

void BM_LibcPair(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  void* neighbour = std::malloc(size);
  for (auto _ : state) {
    void* p = std::malloc(size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  std::free(neighbour);
  state.SetLabel("libc");
}

// A stack of k blocks allocated then freed in reverse, sizes varying.
void BM_DomainStack(benchmark::State& state) {
  const auto domain = static_cast<Domain>(state.range(0));
  const std::string config = kConfigs[state.range(1)];
  const auto k = static_cast<std::size_t>(state.range(2));
  UseConfiguration(config);
  std::vector<void*> blocks(k);
  void* neighbour = interpheap::alloc::Malloc(domain, 64);
  for (auto _ : state) {
    for (std::size_t i = 0; i < k; ++i) {
      blocks[i] = interpheap::alloc::Malloc(domain, 16 + (i * 24) % 480);
    }
    for (std::size_t i = k; i-- > 0;)
      interpheap::alloc::Free(domain, blocks[i]);
  }
  interpheap::alloc::Free(domain, neighbour);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(k));
  state.SetLabel(std::string(interpheap::alloc::DomainName(domain)) + "/" +
                 config);
}

void BM_LibcStack(benchmark::State& state) {
  const auto k = static_cast<std::size_t>(state.range(0));
  std::vector<void*> blocks(k);
  void* neighbour = std::malloc(64);
  for (auto _ : state) {
    for (std::size_t i = 0; i < k; ++i) {
      blocks[i] = std::malloc(16 + (i * 24) % 480);
    }
    for (std::size_t i = k; i-- > 0;) std::free(blocks[i]);
  }
  std::free(neighbour);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(k));
  state.SetLabel("libc");
}

// Pair whose size changes every iteration (a different size class each
// time); one neighbour per size stays alive.
void BM_DomainPairSizes(benchmark::State& state) {
  const auto domain = static_cast<Domain>(state.range(0));
  const std::string config = kConfigs[state.range(1)];
  UseConfiguration(config);
  void* neighbours[kMixedCount];
  for (std::size_t i = 0; i < kMixedCount; ++i) {
    neighbours[i] = interpheap::alloc::Malloc(domain, kMixedSizes[i]);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    void* p = interpheap::alloc::Malloc(domain, kMixedSizes[i]);
    benchmark::DoNotOptimize(p);
    interpheap::alloc::Free(domain, p);
    i = (i + 1) % kMixedCount;
  }
  for (void* n : neighbours) interpheap::alloc::Free(domain, n);
  state.SetLabel(std::string(interpheap::alloc::DomainName(domain)) + "/" +
                 config);
}

void BM_LibcPairSizes(benchmark::State& state) {
  void* neighbours[kMixedCount];
  for (std::size_t i = 0; i < kMixedCount; ++i) {
    neighbours[i] = std::malloc(kMixedSizes[i]);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    void* p = std::malloc(kMixedSizes[i]);
    benchmark::DoNotOptimize(p);
    std::free(p);
    i = (i + 1) % kMixedCount;
  }
  for (void* n : neighbours) std::free(n);
  state.SetLabel("libc");
}

// k mixed blocks allocated in order, freed in a fixed random order.
void BM_DomainRandomFree(benchmark::State& state) {
  const auto domain = static_cast<Domain>(state.range(0));
  const std::string config = kConfigs[state.range(1)];
  const auto k = static_cast<std::size_t>(state.range(2));
  UseConfiguration(config);
  const std::vector<std::size_t> order = Permutation(k);
  std::vector<void*> blocks(k);
  void* neighbour = interpheap::alloc::Malloc(domain, 64);
  for (auto _ : state) {
    for (std::size_t i = 0; i < k; ++i) {
      blocks[i] = interpheap::alloc::Malloc(domain, 16 + (i * 24) % 480);
    }
    for (std::size_t i : order) interpheap::alloc::Free(domain, blocks[i]);
  }
  interpheap::alloc::Free(domain, neighbour);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(k));
  state.SetLabel(std::string(interpheap::alloc::DomainName(domain)) + "/" +
                 config);
}

void BM_LibcRandomFree(benchmark::State& state) {
  const auto k = static_cast<std::size_t>(state.range(0));
  const std::vector<std::size_t> order = Permutation(k);
  std::vector<void*> blocks(k);
  void* neighbour = std::malloc(64);
  for (auto _ : state) {
    for (std::size_t i = 0; i < k; ++i) {
      blocks[i] = std::malloc(16 + (i * 24) % 480);
    }
    for (std::size_t i : order) std::free(blocks[i]);
  }
  std::free(neighbour);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(k));
  state.SetLabel("libc");
}

void PairArgs(benchmark::internal::Benchmark* b) {
  for (int config = 0; config < kConfigCount; ++config) {
    for (int domain = 0; domain < 3; ++domain) {
      for (int size : {16, 64, 256, 1024}) b->Args({domain, config, size});
    }
  }
}

void PairSizesArgs(benchmark::internal::Benchmark* b) {
  for (int config = 0; config < kConfigCount; ++config) {
    for (int domain = 0; domain < 3; ++domain) b->Args({domain, config});
  }
}

void StackArgs(benchmark::internal::Benchmark* b) {
  for (int config = 0; config < kConfigCount; ++config) {
    for (int domain = 1; domain < 3; ++domain) b->Args({domain, config, 1000});
  }
}

BENCHMARK(BM_LibcPair)->Arg(16)->Arg(64)->Arg(256)->Arg(1024);
BENCHMARK(BM_DomainPair)->Apply(PairArgs);
BENCHMARK(BM_LibcStack)->Arg(1000);
BENCHMARK(BM_DomainStack)->Apply(StackArgs);
BENCHMARK(BM_LibcPairSizes);
BENCHMARK(BM_DomainPairSizes)->Apply(PairSizesArgs);
BENCHMARK(BM_LibcRandomFree)->Arg(1000);
BENCHMARK(BM_DomainRandomFree)->Apply(StackArgs);

}  // namespace

BENCHMARK_MAIN();
