// alloc/pymalloc/stats.h: the pymalloc statistics table, in CPython's format
// (_PyObject_DebugMallocStats, what PYTHONMALLOCSTATS prints), and as JSON.
//
//   Small block threshold = 512, in 32 size classes.
//
//   class   size   num pools   blocks in use  avail blocks
//   -----   ----   ---------   -------------  ------------
//       0     16           1              12          1009     (%5u %6u %11zu
//       %15zu %13zu)
//   ...
//   # arenas allocated total           =                    1  (label to 35
//   ...                                                         columns, '=',
//                                                               value in 21
//                                                               with commas)
// The byte totals add up to arenas * 1 MiB. The "arena map" part counts our
// process-wide map: its root, no mid nodes, and its leaves as bottom nodes.

#ifndef INTERPHEAP_ALLOC_PYMALLOC_STATS_H_
#define INTERPHEAP_ALLOC_PYMALLOC_STATS_H_

#include <cstddef>
#include <string>

#include "alloc/pymalloc/pymalloc.h"

namespace interpheap::alloc {

// The table's derived numbers.
struct StatsTotals {
  std::size_t blocks_in_use = 0;     // over the size classes
  std::size_t blocks_available = 0;  // free blocks in pools in use
  std::size_t allocated_bytes = 0;   // "# bytes in allocated blocks"
  std::size_t available_bytes = 0;   // "# bytes in available blocks"
  std::size_t unused_pool_bytes = 0;
  std::size_t pool_header_bytes = 0;
  std::size_t quantization_bytes = 0;
};
StatsTotals ComputeStatsTotals(const HeapStats& stats);

// Adds `one` heap's numbers to `sum`, for a table of several heaps: every
// count adds up (arenas_highwater too: the sum of each heap's mark, an
// upper bound of the heaps' highest total); map_leaf_count, the one
// process-wide map's, is kept, not added.
void AddHeapStats(const HeapStats& one, HeapStats* sum);

// Formats the table into `buffer` (NUL-terminated, truncated to `size`)
// without allocating. Returns the length written.
std::size_t FormatStatsText(const HeapStats& stats, char* buffer,
                            std::size_t size);

// Writes the table to `fd` without allocating.
void WriteStatsText(const HeapStats& stats, int fd);

// True when the environment variable INTERPHEAP_MALLOCSTATS is non-empty
// (read once, at the first new arena): the table then goes to stderr
// before each new arena (the runtime installs PrintStatsIfRequested as the
// heaps' NewArenaObserver at initialization) and at finalization when obj
// is pymalloc, with or without the debug hooks (Runtime::Finalize).
bool MallocStatsRequested();

// A NewArenaObserver (alloc/pymalloc/pymalloc.h): when
// MallocStatsRequested(), writes `heap`'s table to stderr, as CPython does
// before each new arena.
// Requires: the caller holds heap.guard().
void PrintStatsIfRequested(Heap& heap);

// The stats table of `heap` to `fd`, after a title line naming the
// interpreter that owns it and `when` ("new arena", "exit"). The caller
// holds the heap's guard.
void WriteHeapStatsText(Heap& heap, const char* when, int fd);

// The table as a string.
std::string StatsText(const HeapStats& stats);

// The same numbers as a JSON object.
std::string StatsJson(const HeapStats& stats);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_PYMALLOC_STATS_H_
