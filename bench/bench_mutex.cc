// bench/bench_mutex.cc: the cost of one uncontended lock + unlock pair.
//
//   bench_mutex --lock=sync|absl|absl_nodeadlock --pairs=N
//
// Takes and releases one lock N times on one thread. Meant to be run under
// callgrind twice (N and 0): the instruction difference divided by N is the
// cost of a pair, free of start-up (bench/python_programs.py does this).
//   sync              sync::Mutex, the lock of every interpreter
//   absl              absl::Mutex as Debian ships it (deadlock detection on:
//                     every call takes Abseil's process-wide graph lock)
//   absl_nodeadlock   absl::Mutex after SetMutexDeadlockDetectionMode(kIgnore)
// Not a timing benchmark: instruction counts are the result.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"
#include "sync/mutex.h"

namespace {

template <typename Lockable>
void Pairs(Lockable& mu, long pairs) {
  for (long i = 0; i < pairs; ++i) {
    mu.Lock();
    mu.Unlock();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string lock = "sync";
  long pairs = 1000000;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--lock=", 7) == 0) {
      lock = argv[i] + 7;
    } else if (std::strncmp(argv[i], "--pairs=", 8) == 0) {
      pairs = std::atol(argv[i] + 8);
    } else {
      std::fprintf(stderr,
                   "usage: bench_mutex --lock=sync|absl|"
                   "absl_nodeadlock --pairs=N\n");
      return 2;
    }
  }
  if (lock == "sync") {
    static interpheap::sync::Mutex mu;
    Pairs(mu, pairs);
  } else if (lock == "absl" || lock == "absl_nodeadlock") {
    if (lock == "absl_nodeadlock") {
      absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    }
    static absl::Mutex mu;
    Pairs(mu, pairs);
  } else {
    std::fprintf(stderr, "bench_mutex: unknown --lock=%s\n", lock.c_str());
    return 2;
  }
  std::printf("%s %ld pairs\n", lock.c_str(), pairs);
  return 0;
}
