// bench/bench_interpheap.cc: the side-by-side benchmarks' interpheap peer:
// the obj domain (pymalloc by default, `--malloc=pymalloc_debug` for the
// debug hooks, any configuration name), one interpreter per worker thread,
// each thread attached to its own interpreter for its whole run.
//
//   bazel-bin/bench/bench_interpheap --workload=threads --threads=2 --json

#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "alloc/domain.h"
#include "bench/bench_workloads.h"
#include "interp/interpreter.h"
#include "interp/runtime.h"
#include "interp/thread_state.h"

namespace {

using interpheap::alloc::Domain;
using interpheap::interp::Interpreter;
using interpheap::interp::Runtime;
using interpheap::interp::ThreadState;

// Written by Setup before any worker starts, read-only afterwards.
std::vector<Interpreter*>* interpreters = nullptr;

void* ObjMalloc(std::size_t n) {
  return interpheap::alloc::Malloc(Domain::kObj, n);
}
void ObjFree(void* p) { interpheap::alloc::Free(Domain::kObj, p); }
void* ObjRealloc(void* p, std::size_t n) {
  return interpheap::alloc::Realloc(Domain::kObj, p, n);
}

void ThreadBegin(int index) {
  if (!ThreadState::Attach((*interpreters)[index]).ok()) std::abort();
}

void ThreadEnd(int) {
  if (!ThreadState::Detach().ok()) std::abort();
}

bool Setup(const std::string& config, int threads, const std::string& workload,
           std::string* error) {
  const std::string name = config.empty() ? "pymalloc" : config;
  if (workload == "prodcons" && name.size() > 6 &&
      name.compare(name.size() - 6, 6, "_debug") == 0) {
    // The debug hooks make a cross-interpreter free fatal by design.
    *error = "prodcons frees across interpreters, fatal under " + name;
    return false;
  }
  Runtime& runtime = Runtime::Get();
  interpheap::interp::RuntimeConfig rc;
  rc.allocator = name;
  rc.use_environment = false;
  if (absl::Status s = runtime.PreInitialize(rc); !s.ok()) {
    *error = std::string(s.message());
    return false;
  }
  if (absl::Status s = runtime.Initialize(); !s.ok()) {
    *error = std::string(s.message());
    return false;
  }
  interpreters = new std::vector<Interpreter*>{runtime.main_interpreter()};
  for (int i = 1; i < threads; ++i) {
    absl::StatusOr<Interpreter*> sub = runtime.CreateInterpreter();
    if (!sub.ok()) {
      *error = std::string(sub.status().message());
      return false;
    }
    interpreters->push_back(*sub);
  }
  return true;
}

void Teardown() {
  Runtime& runtime = Runtime::Get();
  for (std::size_t i = 1; i < interpreters->size(); ++i) {
    if (!runtime.DestroyInterpreter((*interpreters)[i]).ok()) std::abort();
  }
  if (!runtime.Finalize().ok()) std::abort();
  delete interpreters;
  interpreters = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  interpheap::bench::BenchAllocator allocator = {
      "interpheap",
      ObjMalloc,
      ObjFree,
      ObjRealloc,
      ThreadBegin,
      ThreadEnd,
      nullptr,
      nullptr,
      "one interpreter (own lock, own heap) per thread"};
  return interpheap::bench::BenchMain(argc, argv, &allocator,
                                      {Setup, Teardown});
}
