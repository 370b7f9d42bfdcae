// bench/bench_workloads.cc: the workloads and the shared main of the
// side-by-side allocator benchmarks (see bench_workloads.h).

#include "bench/bench_workloads.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace interpheap::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Ops between two enter()/leave() brackets: CPython releases its GIL there,
// as its eval loop would every few milliseconds.
constexpr std::int64_t kBatch = 4096;

const char* const kWorkloads[] = {"churn",   "lifo",         "fifo",
                                  "stack",   "realloc_grow", "large",
                                  "threads", "prodcons",     nullptr};

// xorshift64*: deterministic, cheap, identical for every allocator.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  std::uint32_t Below(std::uint32_t n) {
    return static_cast<std::uint32_t>((Next() >> 32) % n);
  }

 private:
  std::uint64_t state_;
};

// CPython-like small sizes: 16-32 B 40%, 33-64 B 30%, 65-128 B 15%,
// 129-256 B 10%, 257-512 B 5%.
std::size_t SmallSize(Rng& rng) {
  const std::uint32_t r = rng.Below(100);
  std::uint32_t lo, hi;
  if (r < 40) {
    lo = 16, hi = 32;
  } else if (r < 70) {
    lo = 33, hi = 64;
  } else if (r < 85) {
    lo = 65, hi = 128;
  } else if (r < 95) {
    lo = 129, hi = 256;
  } else {
    lo = 257, hi = 512;
  }
  return lo + rng.Below(hi - lo + 1);
}

// 513 B to 64 KiB, uniform over the powers of two, then within one.
std::size_t LargeSize(Rng& rng) {
  const std::uint32_t e = 9 + rng.Below(7);  // (2^e, 2^(e+1)]
  const std::uint32_t lo = (1u << e) + 1;
  const std::uint32_t hi = 1u << (e + 1);
  return lo + rng.Below(hi - lo + 1);
}

struct Block {
  void* p = nullptr;
  std::size_t size = 0;
};

std::uint64_t Tag(const void* p, std::size_t size) {
  return (reinterpret_cast<std::uintptr_t>(p) * 0x9E3779B97F4A7C15ull) ^ size;
}

// Per-thread state of one workload run. Cache-line aligned: workers sit in
// one vector and write their RNG state every op (no false sharing).
struct alignas(64) Worker {
  const BenchAllocator* a = nullptr;
  Rng rng{0};
  std::int64_t bad = 0;
  std::int64_t done_ops = 0;
  Clock::time_point end;

  void Enter() const {
    if (a->enter != nullptr) a->enter();
  }
  void Leave() const {
    if (a->leave != nullptr) a->leave();
  }

  void Write(void* p, std::size_t size) {
    const std::uint64_t t = Tag(p, size);
    std::memcpy(p, &t, 8);
    if (size >= 16) std::memcpy(static_cast<char*>(p) + size - 8, &t, 8);
  }
  bool Check(const void* p, std::size_t size, std::uint64_t t) {
    std::uint64_t head, tail = t;
    std::memcpy(&head, p, 8);
    if (size >= 16)
      std::memcpy(&tail, static_cast<const char*>(p) + size - 8, 8);
    if (head != t || tail != t) {
      ++bad;
      return false;
    }
    return true;
  }

  Block Alloc(std::size_t size) {
    void* p = a->malloc(size);
    if (p == nullptr) {
      std::fprintf(stderr, "bench: %s: malloc(%zu) failed\n", a->name, size);
      std::abort();
    }
    Write(p, size);
    return {p, size};
  }
  void Release(const Block& b) {
    Check(b.p, b.size, Tag(b.p, b.size));
    a->free(b.p);
  }
};

// Keeps one block of every pymalloc size class (16..512 B) alive around a
// workload, so that no allocator is measured on an empty-page transition.
class Pins {
 public:
  void Hold(Worker& w) {
    w.Enter();
    for (std::size_t s = 16; s <= 512; s += 16) pins_.push_back(w.Alloc(s));
    w.Leave();
  }
  void Drop(Worker& w) {
    w.Enter();
    for (const Block& b : pins_) w.Release(b);
    w.Leave();
    pins_.clear();
  }

 private:
  std::vector<Block> pins_;
};

// Start line shared by the workers: the last to arrive starts the clock.
class StartLine {
 public:
  explicit StartLine(int n) : remaining_(n) {}
  void ArriveAndWait() {
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      start_ = Clock::now();
      go_.store(true, std::memory_order_release);
      return;
    }
    while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  // Valid after ArriveAndWait() returned (published by go_).
  Clock::time_point start() const { return start_; }

 private:
  std::atomic<int> remaining_;
  std::atomic<bool> go_{false};
  Clock::time_point start_;
};

// Working-set churn: `ws` live blocks; each op frees a random victim and
// allocates a replacement (churn, large, threads).
void Churn(Worker& w, StartLine& line, std::int64_t ops, std::size_t ws,
           std::size_t (*size_fn)(Rng&)) {
  std::vector<Block> blocks(ws);
  w.Enter();
  for (Block& b : blocks) b = w.Alloc(size_fn(w.rng));
  w.Leave();
  line.ArriveAndWait();
  for (std::int64_t done = 0; done < ops;) {
    const std::int64_t n = std::min(kBatch, ops - done);
    w.Enter();
    for (std::int64_t i = 0; i < n; ++i) {
      Block& b = blocks[w.rng.Below(static_cast<std::uint32_t>(ws))];
      w.Release(b);
      b = w.Alloc(size_fn(w.rng));
    }
    w.Leave();
    done += n;
  }
  w.end = Clock::now();
  w.done_ops = ops;
  w.Enter();
  for (const Block& b : blocks) w.Release(b);
  w.Leave();
}

// 1,000 mixed small blocks allocated, then freed in reverse; repeated.
void Lifo(Worker& w, StartLine& line, std::int64_t ops) {
  constexpr std::size_t kDepth = 1000;
  std::vector<Block> blocks(kDepth);
  line.ArriveAndWait();
  std::int64_t done = 0;
  while (done < ops) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::int64_t>(kDepth, ops - done));
    w.Enter();
    for (std::size_t i = 0; i < n; ++i) blocks[i] = w.Alloc(SmallSize(w.rng));
    for (std::size_t i = n; i-- > 0;) w.Release(blocks[i]);
    w.Leave();
    done += static_cast<std::int64_t>(n);
  }
  w.end = Clock::now();
  w.done_ops = done;
}

// glibc's bench-malloc-simple: for sizes 16/32/64 and batches of 25, 100,
// 400 and 1600 blocks, allocate a batch and free it in allocation order
// (fifo) or in reverse (stack); ops are split evenly over the 12 cases.
void Simple(Worker& w, StartLine& line, std::int64_t ops, bool fifo) {
  constexpr std::size_t kSizes[] = {16, 32, 64};
  constexpr std::size_t kBatches[] = {25, 100, 400, 1600};
  std::vector<Block> blocks(1600);
  line.ArriveAndWait();
  std::int64_t done = 0;
  for (std::size_t size : kSizes) {
    for (std::size_t batch : kBatches) {
      const std::int64_t rounds = ops / 12 / static_cast<std::int64_t>(batch);
      for (std::int64_t r = 0; r < rounds; ++r) {
        w.Enter();
        for (std::size_t i = 0; i < batch; ++i) blocks[i] = w.Alloc(size);
        if (fifo) {
          for (std::size_t i = 0; i < batch; ++i) w.Release(blocks[i]);
        } else {
          for (std::size_t i = batch; i-- > 0;) w.Release(blocks[i]);
        }
        w.Leave();
        done += static_cast<std::int64_t>(batch);
      }
    }
  }
  w.end = Clock::now();
  w.done_ops = done;
}

// 64 interleaved chains, each grown from 8 B to 4 KiB by 1.5x reallocs,
// then freed and restarted. An op is one malloc or realloc.
void ReallocGrow(Worker& w, StartLine& line, std::int64_t ops) {
  constexpr std::size_t kChains = 64;
  constexpr std::size_t kMax = 4096;
  std::vector<Block> chains(kChains);
  line.ArriveAndWait();
  std::int64_t done = 0;
  std::size_t c = 0;
  while (done < ops) {
    const std::int64_t n = std::min(kBatch, ops - done);
    w.Enter();
    for (std::int64_t i = 0; i < n; ++i) {
      Block& b = chains[c];
      c = (c + 1) % kChains;
      if (b.p != nullptr && b.size >= kMax) {
        w.Release(b);
        b = Block{};
      }
      if (b.p == nullptr) {
        b = w.Alloc(8);
        continue;
      }
      const std::uint64_t t = Tag(b.p, b.size);
      std::uint64_t old_tail = t;
      if (!w.Check(b.p, b.size, t)) old_tail = ~t;
      const std::size_t old_size = b.size;
      const std::size_t new_size = std::min(kMax, old_size * 3 / 2);
      void* q = w.a->realloc(b.p, new_size);
      if (q == nullptr) {
        std::fprintf(stderr, "bench: %s: realloc(%zu) failed\n", w.a->name,
                     new_size);
        std::abort();
      }
      // The old contents moved with the block: both old tags survive.
      std::uint64_t head, tail = t;
      std::memcpy(&head, q, 8);
      if (old_size >= 16) {
        std::memcpy(&tail, static_cast<char*>(q) + old_size - 8, 8);
      }
      if (head != t || tail != old_tail) ++w.bad;
      w.Write(q, new_size);
      b = {q, new_size};
    }
    w.Leave();
    done += n;
  }
  w.end = Clock::now();
  w.done_ops = done;
  w.Enter();
  for (const Block& b : chains) {
    if (b.p != nullptr) w.Release(b);
  }
  w.Leave();
}

// Single-producer single-consumer ring of blocks; allocates nothing.
class Ring {
 public:
  static constexpr std::size_t kCapacity = 4096;
  bool Push(const Block& b) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) == kCapacity) return false;
    slots_[tail % kCapacity] = b;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }
  bool Pop(Block* b) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return false;
    *b = slots_[head % kCapacity];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  Block slots_[kCapacity];
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

// Blocks allocated by worker 0 (its thread, its interpreter) and freed by
// worker 1 (another thread and interpreter), in batches of 256.
void Producer(Worker& w, StartLine& line, Ring& ring, std::int64_t ops) {
  constexpr std::int64_t kChunk = 256;
  Block chunk[kChunk];
  line.ArriveAndWait();
  for (std::int64_t done = 0; done < ops;) {
    const std::int64_t n = std::min(kChunk, ops - done);
    w.Enter();
    for (std::int64_t i = 0; i < n; ++i) chunk[i] = w.Alloc(SmallSize(w.rng));
    w.Leave();
    for (std::int64_t i = 0; i < n; ++i) {
      while (!ring.Push(chunk[i])) std::this_thread::yield();
    }
    done += n;
  }
  w.done_ops = ops;
  w.end = Clock::now();
}

void Consumer(Worker& w, StartLine& line, Ring& ring, std::int64_t ops) {
  constexpr std::int64_t kChunk = 256;
  Block chunk[kChunk];
  line.ArriveAndWait();
  for (std::int64_t done = 0; done < ops;) {
    const std::int64_t want = std::min(kChunk, ops - done);
    std::int64_t n = 0;
    while (n < want) {
      if (ring.Pop(&chunk[n])) {
        ++n;
      } else if (n == 0) {
        std::this_thread::yield();
      } else {
        break;
      }
    }
    w.Enter();
    for (std::int64_t i = 0; i < n; ++i) w.Release(chunk[i]);
    w.Leave();
    done += n;
  }
  w.end = Clock::now();
}

std::int64_t StatmResidentPages() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long size = 0, resident = -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident;
}

}  // namespace

const char* const* WorkloadNames() { return kWorkloads; }

int WorkloadThreads(const std::string& workload, int requested) {
  if (workload == "prodcons") return 2;
  if (workload == "threads") return requested;
  return 1;
}

bool RunWorkload(const BenchAllocator& allocator,
                 const WorkloadOptions& options, WorkloadResult* result,
                 std::string* error) {
  const std::string& name = options.workload;
  bool known = false;
  for (const char* const* n = kWorkloads; *n != nullptr; ++n) {
    known = known || name == *n;
  }
  if (!known) {
    *error = "unknown workload '" + name + "'";
    return false;
  }
  const int threads = WorkloadThreads(name, options.threads);
  if (threads < 1 || threads > 64) {
    *error = "--threads must be in [1, 64]";
    return false;
  }
  std::vector<Worker> workers(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    workers[i].a = &allocator;
    workers[i].rng = Rng(options.seed * 1000003u + static_cast<unsigned>(i));
  }
  StartLine line(threads);
  Ring* ring = name == "prodcons" ? new Ring : nullptr;
  const std::int64_t ops = options.ops;

  auto body = [&](int index) {
    Worker& w = workers[static_cast<std::size_t>(index)];
    if (allocator.thread_begin != nullptr) allocator.thread_begin(index);
    Pins pins;
    pins.Hold(w);
    if (name == "churn" || name == "threads") {
      Churn(w, line, ops, 10000, SmallSize);
    } else if (name == "large") {
      Churn(w, line, ops, 1000, LargeSize);
    } else if (name == "lifo") {
      Lifo(w, line, ops);
    } else if (name == "fifo" || name == "stack") {
      Simple(w, line, ops, name == "fifo");
    } else if (name == "realloc_grow") {
      ReallocGrow(w, line, ops);
    } else if (index == 0) {
      Producer(w, line, *ring, ops);
    } else {
      Consumer(w, line, *ring, ops);
    }
    pins.Drop(w);
    if (allocator.thread_end != nullptr) allocator.thread_end(index);
  };

  // Worker 0 runs on the calling thread (a single-thread workload is
  // measured on the main thread, as an interpreter's main thread would be).
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(body, i);
  body(0);
  for (std::thread& t : pool) t.join();
  delete ring;

  Clock::time_point end = line.start();
  result->ops = 0;
  result->bad_blocks = 0;
  for (const Worker& w : workers) {
    if (w.end > end) end = w.end;
    result->ops += w.done_ops;
    result->bad_blocks += w.bad;
  }
  result->seconds = std::chrono::duration<double>(end - line.start()).count();
  result->verified = result->bad_blocks == 0;
  return true;
}

std::int64_t PeakRssKib() {
  // VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across execve,
  // so a child of a big runner would report the runner's peak.
  if (FILE* f = std::fopen("/proc/self/status", "r"); f != nullptr) {
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    }
    std::fclose(f);
    if (kib >= 0) return kib;
  }
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  return usage.ru_maxrss;
}

std::int64_t CurrentRssKib() {
  const std::int64_t pages = StatmResidentPages();
  if (pages < 0) return -1;
  return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

namespace {

bool ParseFlag(const char* arg, const char* name, std::string* value) {
  const std::size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

// The whole of `text` as a decimal integer in [0, max]: digits only;
// false for anything else (empty, a sign, trailing characters, too large).
bool ParseCount(const std::string& text, std::uint64_t max,
                std::uint64_t* value) {
  if (text.empty() ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  errno = 0;
  const unsigned long long parsed = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE || parsed > max) return false;
  *value = parsed;
  return true;
}

void PrintHelp(const char* argv0) {
  std::printf(
      "usage: %s --workload=NAME [--ops=N] [--threads=T] [--seed=S] "
      "[--malloc=CONFIG] [--json]\n"
      "  --workload  one of:",
      argv0);
  for (const char* const* n = kWorkloads; *n != nullptr; ++n) {
    std::printf(" %s", *n);
  }
  std::printf(
      "\n  --ops       blocks allocated in the timed part, per thread "
      "(default 1000000; 0: set-up and tear-down only)\n"
      "  --threads   worker threads for --workload=threads (default 1; "
      "prodcons always 2)\n"
      "  --seed      random seed (default 42)\n"
      "  --malloc    allocator configuration (bench_interpheap, "
      "bench_cpython)\n"
      "  --json      print one JSON line instead of text\n");
}

}  // namespace

int BenchMain(int argc, char** argv, BenchAllocator* allocator,
              const BenchHooks& hooks) {
  WorkloadOptions options;
  options.ops = 1000000;
  std::string config;
  bool json = false;
  const auto bad_value = [argv](const char* arg, const char* need) {
    std::fprintf(stderr, "%s: %s: need %s\n", argv[0], arg, need);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string v;
    std::uint64_t number = 0;
    const char* arg = argv[i];
    if (std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0) {
      PrintHelp(argv[0]);
      return 0;
    } else if (std::strcmp(arg, "--json") == 0) {
      json = true;
    } else if (ParseFlag(arg, "--workload", &v)) {
      options.workload = v;
    } else if (ParseFlag(arg, "--ops", &v)) {
      if (!ParseCount(v, INT64_MAX, &number))
        return bad_value(arg, "an integer >= 0");
      options.ops = static_cast<std::int64_t>(number);
    } else if (ParseFlag(arg, "--threads", &v)) {
      if (!ParseCount(v, 64, &number) || number < 1)
        return bad_value(arg, "an integer in 1..64");
      options.threads = static_cast<int>(number);
    } else if (ParseFlag(arg, "--seed", &v)) {
      if (!ParseCount(v, UINT64_MAX, &number))
        return bad_value(arg, "an integer >= 0");
      options.seed = number;
    } else if (ParseFlag(arg, "--malloc", &v)) {
      config = v;
    } else {
      std::fprintf(stderr, "%s: unknown flag '%s' (see --help)\n", argv[0],
                   arg);
      return 2;
    }
  }
  if (options.workload.empty() || options.ops < 0) {
    std::fprintf(stderr, "%s: --workload is required and --ops >= 0\n",
                 argv[0]);
    return 2;
  }
  const int threads = WorkloadThreads(options.workload, options.threads);
  std::string error;
  if (hooks.setup != nullptr &&
      !hooks.setup(config, threads, options.workload, &error)) {
    std::fprintf(stderr, "%s: %s\n", argv[0], error.c_str());
    return 2;
  }
  const std::int64_t rss_before = CurrentRssKib();
  WorkloadResult result;
  if (!RunWorkload(*allocator, options, &result, &error)) {
    std::fprintf(stderr, "%s: %s\n", argv[0], error.c_str());
    return 2;
  }
  const std::int64_t peak = PeakRssKib();
  const std::int64_t rss_after = CurrentRssKib();
  if (hooks.teardown != nullptr) hooks.teardown();
  const double ops_per_sec =
      result.seconds > 0 ? static_cast<double>(result.ops) / result.seconds : 0;
  if (json) {
    std::printf(
        "{\"allocator\": \"%s\", \"config\": \"%s\", \"workload\": \"%s\", "
        "\"threads\": %d, \"ops\": %" PRId64
        ", \"seconds\": %.6f, "
        "\"ops_per_sec\": %.1f, \"rss_before_kib\": %" PRId64
        ", \"peak_rss_kib\": %" PRId64 ", \"rss_after_kib\": %" PRId64
        ", \"verified\": %s, \"bad_blocks\": %" PRId64
        ", \"threading\": \"%s\"}\n",
        allocator->name, config.c_str(), options.workload.c_str(), threads,
        result.ops, result.seconds, ops_per_sec, rss_before, peak, rss_after,
        result.verified ? "true" : "false", result.bad_blocks,
        allocator->threading);
  } else {
    std::printf("%s%s%s %s threads=%d: %" PRId64
                " ops in %.3f s = %.2f Mops/s; "
                "RSS before %" PRId64 " KiB, peak %" PRId64
                " KiB, after %" PRId64 " KiB; %s\n",
                allocator->name, config.empty() ? "" : "/", config.c_str(),
                options.workload.c_str(), threads, result.ops, result.seconds,
                ops_per_sec / 1e6, rss_before, peak, rss_after,
                result.verified ? "verified" : "VERIFICATION FAILED");
  }
  std::fflush(stdout);
  return result.verified ? 0 : 1;
}

namespace {

// Keeps a probe's malloc/free pair from being elided by the compiler.
void* volatile probe_sink;

}  // namespace

bool CounterSeesMalloc(std::size_t bytes, std::uint64_t (*counter)()) {
  const std::uint64_t before = counter();
  void* probe = std::malloc(bytes);
  probe_sink = probe;
  const std::uint64_t after = counter();
  std::free(probe);
  return after >= before + bytes;
}

int MallocPeerMain(int argc, char** argv, const char* name,
                   const char* threading, bool (*replaced)()) {
  if (replaced != nullptr && !replaced()) {
    std::fprintf(stderr, "bench_%s: malloc is not %s's\n", name, name);
    return 2;
  }
  BenchAllocator allocator;
  allocator.name = name;
  allocator.malloc = std::malloc;
  allocator.free = std::free;
  allocator.realloc = std::realloc;
  allocator.threading = threading;
  return BenchMain(argc, argv, &allocator, {});
}

}  // namespace interpheap::bench
