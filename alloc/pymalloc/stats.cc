#include "alloc/pymalloc/stats.h"

#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace interpheap::alloc {
namespace {

// Appends to a fixed buffer, never past its end.
class Appender {
 public:
  Appender(char* buffer, std::size_t size) : buffer_(buffer), size_(size) {
    if (size_ > 0) buffer_[0] = '\0';
  }

  void Format(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    if (used_ + 1 >= size_) return;
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(buffer_ + used_, size_ - used_, format, args);
    va_end(args);
    if (n > 0) {
      used_ += std::min(static_cast<std::size_t>(n), size_ - used_ - 1);
    }
  }

  // CPython's printone(): label padded to 35 columns, '=', the value with
  // thousands commas right-aligned in 21 columns. Returns the value.
  std::size_t Line(const char* label, std::size_t value) {
    char digits[32];
    int i = sizeof(digits) - 1;
    digits[i] = '\0';
    std::size_t v = value;
    int group = 0;
    do {
      if (group == 3) {
        digits[--i] = ',';
        group = 0;
      }
      digits[--i] = static_cast<char>('0' + v % 10);
      v /= 10;
      ++group;
    } while (v != 0);
    Format("%-35s=%21s\n", label, digits + i);
    return value;
  }

  std::size_t used() const { return used_; }

 private:
  char* buffer_;
  std::size_t size_;
  std::size_t used_ = 0;
};

}  // namespace

StatsTotals ComputeStatsTotals(const HeapStats& stats) {
  StatsTotals totals;
  for (int c = 0; c < kSizeClassCount; ++c) {
    const std::size_t block = BlockSizeOf(c);
    totals.blocks_in_use += stats.blocks_in_use[c];
    totals.blocks_available += stats.blocks_available[c];
    totals.allocated_bytes += stats.blocks_in_use[c] * block;
    totals.available_bytes += stats.blocks_available[c] * block;
    totals.pool_header_bytes += stats.pools[c] * kPoolOverhead;
    totals.quantization_bytes +=
        stats.pools[c] * ((kPoolSize - kPoolOverhead) % block);
  }
  totals.unused_pool_bytes = stats.free_pools * kPoolSize;
  return totals;
}

void AddHeapStats(const HeapStats& one, HeapStats* sum) {
  for (int c = 0; c < kSizeClassCount; ++c) {
    sum->pools[c] += one.pools[c];
    sum->blocks_in_use[c] += one.blocks_in_use[c];
    sum->blocks_available[c] += one.blocks_available[c];
  }
  sum->free_pools += one.free_pools;
  sum->arena_alignment_bytes += one.arena_alignment_bytes;
  sum->arenas_allocated_total += one.arenas_allocated_total;
  sum->arenas_current += one.arenas_current;
  sum->arenas_highwater += one.arenas_highwater;
  sum->map_leaf_count = std::max(sum->map_leaf_count, one.map_leaf_count);
}

std::size_t FormatStatsText(const HeapStats& stats, char* buffer,
                            std::size_t size) {
  Appender out(buffer, size);
  out.Format("Small block threshold = %d, in %d size classes.\n\n",
             static_cast<int>(kSmallRequestThreshold), kSizeClassCount);
  out.Format("class   size   num pools   blocks in use  avail blocks\n");
  out.Format("-----   ----   ---------   -------------  ------------\n");
  for (int c = 0; c < kSizeClassCount; ++c) {
    if (stats.pools[c] == 0) continue;
    out.Format("%5u %6u %11zu %15zu %13zu\n", static_cast<unsigned>(c),
               static_cast<unsigned>(BlockSizeOf(c)), stats.pools[c],
               stats.blocks_in_use[c], stats.blocks_available[c]);
  }
  const StatsTotals totals = ComputeStatsTotals(stats);
  out.Format("\n");
  out.Line("# arenas allocated total", stats.arenas_allocated_total);
  out.Line("# arenas reclaimed",
           stats.arenas_allocated_total - stats.arenas_current);
  out.Line("# arenas highwater mark", stats.arenas_highwater);
  out.Line("# arenas allocated current", stats.arenas_current);
  char label[64];
  std::snprintf(label, sizeof(label), "%zu arenas * %zu bytes/arena",
                stats.arenas_current, kArenaSize);
  out.Line(label, stats.arenas_current * kArenaSize);
  out.Format("\n");
  std::size_t total =
      out.Line("# bytes in allocated blocks", totals.allocated_bytes);
  total += out.Line("# bytes in available blocks", totals.available_bytes);
  std::snprintf(label, sizeof(label), "%zu unused pools * %zu bytes",
                stats.free_pools, kPoolSize);
  total += out.Line(label, totals.unused_pool_bytes);
  total += out.Line("# bytes lost to pool headers", totals.pool_header_bytes);
  total += out.Line("# bytes lost to quantization", totals.quantization_bytes);
  total +=
      out.Line("# bytes lost to arena alignment", stats.arena_alignment_bytes);
  out.Line("Total", total);
  out.Format("\n");
  out.Format("arena map counts\n");
  out.Line("# arena map mid nodes", 0);
  out.Line("# arena map bot nodes", stats.map_leaf_count);
  out.Format("\n");
  total = out.Line("# bytes lost to arena map root", ArenaMap::kRootBytes);
  total += out.Line("# bytes lost to arena map mid", 0);
  total += out.Line("# bytes lost to arena map bot",
                    ArenaMap::kLeafBytes * stats.map_leaf_count);
  out.Line("Total", total);
  return out.used();
}

namespace {

void WriteAll(int fd, const char* p, std::size_t left) {
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

void WriteStatsText(const HeapStats& stats, int fd) {
  char buffer[8192];
  WriteAll(fd, buffer, FormatStatsText(stats, buffer, sizeof(buffer)));
}

std::string StatsText(const HeapStats& stats) {
  char buffer[8192];
  const std::size_t n = FormatStatsText(stats, buffer, sizeof(buffer));
  return std::string(buffer, n);
}

std::string StatsJson(const HeapStats& stats) {
  std::string json = "{\"small_block_threshold\":512,\"size_classes\":[";
  bool first = true;
  for (int c = 0; c < kSizeClassCount; ++c) {
    if (stats.pools[c] == 0) continue;
    char row[160];
    std::snprintf(row, sizeof(row),
                  "%s{\"class\":%d,\"size\":%zu,\"pools\":%zu,"
                  "\"blocks_in_use\":%zu,\"blocks_available\":%zu}",
                  first ? "" : ",", c, BlockSizeOf(c), stats.pools[c],
                  stats.blocks_in_use[c], stats.blocks_available[c]);
    json += row;
    first = false;
  }
  char tail[512];
  std::snprintf(tail, sizeof(tail),
                "],\"arenas_allocated_total\":%zu,\"arenas_reclaimed\":%zu,"
                "\"arenas_highwater\":%zu,\"arenas_current\":%zu,"
                "\"arena_size\":%zu,\"pool_size\":%zu,\"unused_pools\":%zu,"
                "\"bytes_in_allocated_blocks\":%zu,"
                "\"bytes_lost_to_arena_alignment\":%zu,"
                "\"arena_map_leaves\":%zu}",
                stats.arenas_allocated_total,
                stats.arenas_allocated_total - stats.arenas_current,
                stats.arenas_highwater, stats.arenas_current, kArenaSize,
                kPoolSize, stats.free_pools,
                ComputeStatsTotals(stats).allocated_bytes,
                stats.arena_alignment_bytes, stats.map_leaf_count);
  json += tail;
  return json;
}

bool MallocStatsRequested() {
  static const bool requested = [] {
    const char* value = std::getenv("INTERPHEAP_MALLOCSTATS");
    return value != nullptr && value[0] != '\0';
  }();
  return requested;
}

void WriteHeapStatsText(Heap& heap, const char* when, int fd) {
  heap.guard().AssumeHeld();
  // Several interpreters print into one stream: each table says whose heap
  // it shows. A stack buffer: this runs inside the allocator.
  char title[96];
  const int n = std::snprintf(title, sizeof(title),
                              "interpheap: heap of interpreter %lld (%s)\n",
                              static_cast<long long>(heap.owner_id()), when);
  if (n > 0) WriteAll(fd, title, std::min<std::size_t>(n, sizeof(title) - 1));
  WriteStatsText(heap.Stats(), fd);
}

void PrintStatsIfRequested(Heap& heap) {
  if (!MallocStatsRequested()) return;
  WriteHeapStatsText(heap, "new arena", STDERR_FILENO);
}

}  // namespace interpheap::alloc
