#include "alloc/hooks/trace_tables.h"

#include "alloc/fork.h"

namespace interpheap::alloc {

ABSL_CONST_INIT TraceTables trace_tables;
// fork() takes the table lock in its rank (alloc/fork.h).
const bool trace_tables_fork_registered =
    RegisterForkLock(&trace_tables.mu(), ForkRank::kTracemalloc);
ABSL_CONST_INIT std::atomic<bool> tracing_enabled{false};

}  // namespace interpheap::alloc
