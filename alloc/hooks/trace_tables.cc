#include "alloc/hooks/trace_tables.h"

namespace interpheap::alloc {

ABSL_CONST_INIT TraceTables trace_tables;
ABSL_CONST_INIT std::atomic<bool> tracing_enabled{false};

}  // namespace interpheap::alloc
