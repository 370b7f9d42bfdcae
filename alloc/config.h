// alloc/config.h: named configurations (CPython's PYTHONMALLOC values).
//
// A named configuration says which base allocator each domain gets at
// pre-initialization. It comes from the runtime config or from the
// environment variable INTERPHEAP_MALLOC, with the same names as
// PYTHONMALLOC: default, debug, malloc, malloc_debug, pymalloc,
// pymalloc_debug, mimalloc, mimalloc_debug. The empty string means default.

#ifndef INTERPHEAP_ALLOC_CONFIG_H_
#define INTERPHEAP_ALLOC_CONFIG_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "alloc/allocator_table.h"

namespace interpheap::alloc {

enum class NamedConfig {
  kDefault,
  kDebug,
  kMalloc,
  kMallocDebug,
  kPymalloc,
  kPymallocDebug,
  kMimalloc,
  kMimallocDebug,
};

// The environment variable read at pre-initialization.
inline constexpr char kConfigEnvVar[] = "INTERPHEAP_MALLOC";

// Parses a configuration name. InvalidArgument names the bad value and lists
// the valid ones.
absl::StatusOr<NamedConfig> ParseNamedConfig(std::string_view name);

// The canonical spelling of `config`, e.g. "pymalloc_debug".
std::string_view NamedConfigName(NamedConfig config);

// The base allocator of each domain under `config`. Unimplemented for the
// configurations whose allocator has not landed yet.
absl::StatusOr<std::array<Allocator, kDomainCount>> BaseAllocators(
    NamedConfig config);

// Which named configuration the table's current layers are, by CPython's
// rule: compare the outermost allocator of each domain with the known
// triples. nullopt when a hook or a custom allocator is on top.
std::optional<NamedConfig> CurrentNamedConfig(const AllocatorTable& table);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_CONFIG_H_
