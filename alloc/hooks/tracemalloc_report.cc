// Snapshot statistics, symbolization and the written reports of
// tracemalloc (the traceback section of a debug dump, the leak report).
// None of the writers allocate except TopSites.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "absl/debugging/symbolize.h"
#include "alloc/fatal.h"
#include "alloc/hooks/trace_tables.h"
#include "alloc/hooks/tracemalloc.h"
#include "sync/mutex_lock.h"

namespace interpheap::alloc {
namespace {

void WriteFrames(int fd, void* const* frames, std::uint32_t nframes) {
  char line[512];
  char symbol[400];
  for (std::uint32_t i = 0; i < nframes; ++i) {
    SymbolizeFrame(frames[i], symbol, sizeof(symbol));
    const int n = std::snprintf(
        line, sizeof(line), "  File \"%s\", address %p\n", symbol, frames[i]);
    if (n > 0) {
      WriteFully(fd, line,
                 std::min(static_cast<std::size_t>(n), sizeof(line) - 1));
    }
  }
}

}  // namespace

std::vector<SiteStats> TopSites(bool by_bytes, std::size_t limit) {
  // Keyed by the whole traceback, as CPython's
  // Snapshot.statistics("traceback").
  std::unordered_map<std::uint32_t, SiteStats> sites;
  {
    sync::MutexLock lock(&trace_tables.mu());
    trace_tables.ForEach([&](const TraceEntry& e) {
      if (e.domain != kTraceDefaultDomain) return;
      trace_tables.mu().AssumeHeld();  // ForEach runs under the lock
      std::uint32_t nframes = 0;
      void* const* frames = trace_tables.FramesOf(e.traceback, &nframes);
      SiteStats& site = sites[e.traceback];
      if (site.count == 0) site.frames.assign(frames, frames + nframes);
      site.bytes += e.size;
      ++site.count;
    });
  }
  std::vector<SiteStats> result;
  result.reserve(sites.size());
  for (auto& [id, site] : sites) result.push_back(std::move(site));
  std::sort(result.begin(), result.end(),
            [by_bytes](const SiteStats& a, const SiteStats& b) {
              return by_bytes ? a.bytes > b.bytes : a.count > b.count;
            });
  if (result.size() > limit) result.resize(limit);
  return result;
}

void SymbolizeFrame(void* pc, char* out, std::size_t size) {
  // The return address points after the call; look up the call itself.
  void* call = static_cast<char*>(pc) - 1;
  if (!absl::Symbolize(call, out, static_cast<int>(size))) {
    std::snprintf(out, size, "%p", pc);
  }
}

void WriteTracebackSection(int fd, const void* p) {
  if (!IsTracing()) {
    WriteFully(fd,
               "Enable tracemalloc to get the memory block allocation "
               "traceback\n\n");
    return;
  }
  void* frames[kMaxFrames];
  std::uint32_t nframes = 0;
  {
    // A fatal path: if this thread already holds the tables' lock (a
    // corrupted block found inside a tracing hook), skip the traceback.
    if (trace_tables.mu().IsHeldByCurrentThread()) return;
    sync::MutexLock lock(&trace_tables.mu());
    const TraceEntry* entry = trace_tables.Get(
        kTraceDefaultDomain, reinterpret_cast<std::uintptr_t>(p));
    if (entry == nullptr) return;
    void* const* stored = trace_tables.FramesOf(entry->traceback, &nframes);
    std::memcpy(frames, stored, sizeof(void*) * nframes);
  }
  WriteFully(fd, "Memory block allocated at (most recent call first):\n");
  WriteFrames(fd, frames, nframes);
  WriteFully(fd, "\n");
}

std::size_t WriteLeakReport(int fd, std::int64_t interpreter) {
  std::size_t listed = 0;
  sync::MutexLock lock(&trace_tables.mu());
  trace_tables.ForEach([&](const TraceEntry& e) {
    if (e.domain != kTraceDefaultDomain || e.interpreter != interpreter ||
        e.from_mem_or_obj == 0) {
      return;
    }
    char line[128];
    const int n = std::snprintf(line, sizeof(line),
                                "Leaked block of %zu bytes at %p, allocated "
                                "at (most recent call first):\n",
                                e.size, reinterpret_cast<void*>(e.ptr));
    if (n > 0) WriteFully(fd, line, static_cast<std::size_t>(n));
    trace_tables.mu().AssumeHeld();  // ForEach runs under the lock
    std::uint32_t nframes = 0;
    void* const* frames = trace_tables.FramesOf(e.traceback, &nframes);
    WriteFrames(fd, frames, nframes);
    ++listed;
  });
  return listed;
}

}  // namespace interpheap::alloc
