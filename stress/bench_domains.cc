// bench_domains: Google Benchmark microbenchmarks of the domains' fast
// paths, side by side with the C library in one run. A benchmark, not a
// test: nothing here asserts timing.
//
//   ./bazelw run -c opt //stress:bench_domains
//
// Every loop keeps a neighbour block alive, so no allocator is measured on
// an empty-pool or empty-arena transition.

#include <cstdlib>
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

const char* const kConfigs[] = {"malloc", "pymalloc"};

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
    for (std::size_t i = k; i-- > 0;) interpheap::alloc::Free(domain, blocks[i]);
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

void PairArgs(benchmark::internal::Benchmark* b) {
  for (int config = 0; config < 2; ++config) {
    for (int domain = 0; domain < 3; ++domain) {
      for (int size : {16, 64, 256, 1024}) b->Args({domain, config, size});
    }
  }
}

void StackArgs(benchmark::internal::Benchmark* b) {
  for (int config = 0; config < 2; ++config) {
    for (int domain = 1; domain < 3; ++domain) b->Args({domain, config, 1000});
  }
}

BENCHMARK(BM_LibcPair)->Arg(16)->Arg(64)->Arg(256)->Arg(1024);
BENCHMARK(BM_DomainPair)->Apply(PairArgs);
BENCHMARK(BM_LibcStack)->Arg(1000);
BENCHMARK(BM_DomainStack)->Apply(StackArgs);

}  // namespace

BENCHMARK_MAIN();
