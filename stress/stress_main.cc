// stress: many interpreters on many threads allocating in every domain.
// Not a benchmark: it checks correctness, and every byte is verified.
//
// Workload: --interpreters interpreters (own lock and own heap each; the
// main interpreter is one more). --threads threads are spread round-robin
// over them, so threads share an interpreter and contend for its lock when
// there are more threads than interpreters. Each thread, for --ops
// operations, picks a domain (raw 1/3, mem 1/3, obj 1/3), and either
// allocates a block of a random size (0..2 KiB, mostly small), fills it with
// a pattern derived from its address and size, reallocates one (checking
// and refilling), or frees one after checking every byte. mem and obj calls
// are made attached to the thread's interpreter (it holds the lock); the
// thread detaches now and then so that others sharing the interpreter run.
// Seeds are deterministic (--seed). Exit status 1 on any mismatch.

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "alloc/domain.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"

ABSL_FLAG(int, interpreters, 4, "interpreters besides main");
ABSL_FLAG(int, threads, 8, "worker threads, spread over the interpreters");
#ifdef __SANITIZE_THREAD__
ABSL_FLAG(int64_t, ops, 20000, "operations per thread");
#else
ABSL_FLAG(int64_t, ops, 200000, "operations per thread");
#endif
ABSL_FLAG(uint64_t, seed, 42, "base seed of the per-thread generators");
ABSL_FLAG(std::string, malloc, "",
          "named configuration (as INTERPHEAP_MALLOC); empty: the "
          "environment variable, then default");

namespace {

using interpheap::alloc::Domain;
using interpheap::interp::Interpreter;
using interpheap::interp::Runtime;
using interpheap::interp::ThreadState;

struct Block {
  unsigned char* data = nullptr;
  std::size_t size = 0;
  Domain domain = Domain::kRaw;
};

unsigned char PatternByte(const Block& block, std::size_t i) {
  return static_cast<unsigned char>((block.size * 131 + i * 7) & 0xFF);
}

void Fill(const Block& block) {
  for (std::size_t i = 0; i < block.size; ++i) {
    block.data[i] = PatternByte(block, i);
  }
}

// Returns the number of bytes of [0, limit) that do not hold the pattern.
std::size_t Mismatches(const Block& block, std::size_t limit) {
  std::size_t bad = 0;
  for (std::size_t i = 0; i < limit; ++i) {
    if (block.data[i] != PatternByte(block, i)) ++bad;
  }
  return bad;
}

std::size_t RandomSize(std::mt19937_64& rng) {
  const std::uint64_t r = rng();
  switch (r % 8) {
    case 0:
      return 0;
    case 1:
      return 513 + (r >> 8) % 1536;  // above the small-object threshold
    default:
      return 1 + (r >> 8) % 512;
  }
}

struct ThreadResult {
  std::int64_t ops = 0;
  std::int64_t bytes_verified = 0;
  std::int64_t failures = 0;
};

void Worker(Interpreter* interp, std::uint64_t seed, std::int64_t ops,
            ThreadResult* result) {
  std::mt19937_64 rng(seed);
  std::vector<Block> live;
  live.reserve(1024);
  if (!ThreadState::Attach(interp).ok()) {
    ++result->failures;
    return;
  }
  auto check_and_free = [&](std::size_t index) {
    Block block = live[index];
    const std::size_t bad = Mismatches(block, block.size);
    if (bad != 0) {
      std::fprintf(stderr,
                   "stress: block %p (%zu bytes, %s domain) has %zu corrupted "
                   "bytes\n",
                   static_cast<void*>(block.data), block.size,
                   interpheap::alloc::DomainName(block.domain), bad);
      ++result->failures;
    }
    result->bytes_verified += static_cast<std::int64_t>(block.size);
    interpheap::alloc::Free(block.domain, block.data);
    live[index] = live.back();
    live.pop_back();
  };
  for (std::int64_t op = 0; op < ops; ++op) {
    const std::uint64_t r = rng();
    const int action = static_cast<int>(r % 10);
    if (live.empty() || (action < 5 && live.size() < 1000)) {
      Block block;
      block.domain = static_cast<Domain>((r >> 8) % 3);
      block.size = RandomSize(rng);
      block.data = static_cast<unsigned char*>(
          (r >> 16) % 4 == 0
              ? interpheap::alloc::Calloc(block.domain, 1, block.size)
              : interpheap::alloc::Malloc(block.domain, block.size));
      if (block.data == nullptr) {
        std::fprintf(stderr, "stress: allocation of %zu bytes failed\n",
                     block.size);
        ++result->failures;
        continue;
      }
      Fill(block);
      live.push_back(block);
    } else if (action < 7) {
      Block& block = live[(r >> 8) % live.size()];
      const std::size_t new_size = RandomSize(rng);
      void* moved =
          interpheap::alloc::Realloc(block.domain, block.data, new_size);
      if (moved == nullptr) {
        ++result->failures;
        continue;
      }
      Block old = block;
      old.data = static_cast<unsigned char*>(moved);
      const std::size_t kept = std::min(block.size, new_size);
      if (Mismatches(old, kept) != 0) {
        std::fprintf(stderr, "stress: realloc lost data (%zu -> %zu bytes)\n",
                     block.size, new_size);
        ++result->failures;
      }
      result->bytes_verified += static_cast<std::int64_t>(kept);
      block.data = old.data;
      block.size = new_size;
      Fill(block);
    } else {
      check_and_free((r >> 8) % live.size());
    }
    if (op % 256 == 255) {
      // Let the other threads sharing this interpreter run.
      if (!ThreadState::Detach().ok() || !ThreadState::Attach(interp).ok()) {
        ++result->failures;
        return;
      }
    }
    ++result->ops;
  }
  while (!live.empty()) check_and_free(live.size() - 1);
  if (!ThreadState::Detach().ok()) ++result->failures;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs many interpreters on many threads allocating in every domain and "
      "verifies every byte. Not a benchmark.");
  absl::ParseCommandLine(argc, argv);
  const int interpreter_count = absl::GetFlag(FLAGS_interpreters);
  const int thread_count = absl::GetFlag(FLAGS_threads);
  const std::int64_t ops = absl::GetFlag(FLAGS_ops);
  if (interpreter_count < 0 || thread_count < 1 || ops < 0) {
    std::fprintf(stderr,
                 "stress: --interpreters must be >= 0, --threads >= 1, "
                 "--ops >= 0\n");
    return 2;
  }

  Runtime& runtime = Runtime::Get();
  interpheap::interp::RuntimeConfig config;
  config.allocator = absl::GetFlag(FLAGS_malloc);
  if (absl::Status s = runtime.PreInitialize(config); !s.ok()) {
    std::fprintf(stderr, "stress: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = runtime.Initialize(); !s.ok()) {
    std::fprintf(stderr, "stress: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  std::vector<Interpreter*> interpreters = {runtime.main_interpreter()};
  for (int i = 0; i < interpreter_count; ++i) {
    absl::StatusOr<Interpreter*> interp = runtime.CreateInterpreter();
    if (!interp.ok()) {
      std::fprintf(stderr, "stress: %s\n",
                   std::string(interp.status().message()).c_str());
      return 2;
    }
    interpreters.push_back(*interp);
  }

  std::printf(
      "stress: %zu interpreters (main + %d), %d threads, %" PRId64
      " ops per thread, seed %" PRIu64 "\n",
      interpreters.size(), interpreter_count, thread_count, ops,
      absl::GetFlag(FLAGS_seed));
  const absl::Time start = absl::Now();
  std::vector<ThreadResult> results(thread_count);
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back(Worker, interpreters[t % interpreters.size()],
                         absl::GetFlag(FLAGS_seed) + t, ops, &results[t]);
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  ThreadResult total;
  std::printf("%-8s %-12s %12s %16s %9s\n", "thread", "interpreter", "ops",
              "bytes verified", "failures");
  for (int t = 0; t < thread_count; ++t) {
    std::printf("%-8d %-12" PRId64 " %12" PRId64 " %16" PRId64 " %9" PRId64
                "\n",
                t, interpreters[t % interpreters.size()]->id(), results[t].ops,
                results[t].bytes_verified, results[t].failures);
    total.ops += results[t].ops;
    total.bytes_verified += results[t].bytes_verified;
    total.failures += results[t].failures;
  }
  for (std::size_t i = 1; i < interpreters.size(); ++i) {
    if (absl::Status s = runtime.DestroyInterpreter(interpreters[i]);
        !s.ok()) {
      std::fprintf(stderr, "stress: %s\n", std::string(s.message()).c_str());
      ++total.failures;
    }
  }
  if (absl::Status s = runtime.Finalize(); !s.ok()) {
    std::fprintf(stderr, "stress: %s\n", std::string(s.message()).c_str());
    ++total.failures;
  }
  std::printf("total: %" PRId64 " ops in %.2f s (%.0f ops/s), %" PRId64
              " bytes verified, %" PRId64 " failures: %s\n",
              total.ops, seconds, total.ops / (seconds > 0 ? seconds : 1),
              total.bytes_verified, total.failures,
              total.failures == 0 ? "PASS" : "FAIL");
  return total.failures == 0 ? 0 : 1;
}
