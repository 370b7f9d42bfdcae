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
inline constexpr NamedConfig kAllNamedConfigs[] = {
    NamedConfig::kDefault,  NamedConfig::kDebug,
    NamedConfig::kMalloc,   NamedConfig::kMallocDebug,
    NamedConfig::kPymalloc, NamedConfig::kPymallocDebug,
    NamedConfig::kMimalloc, NamedConfig::kMimallocDebug,
};

// The environment variable read at pre-initialization.
inline constexpr char kConfigEnvVar[] = "INTERPHEAP_MALLOC";

// Parses a configuration name. InvalidArgument names the bad value and lists
// the valid ones.
absl::StatusOr<NamedConfig> ParseNamedConfig(std::string_view name);

// The canonical spelling of `config`, e.g. "pymalloc_debug".
std::string_view NamedConfigName(NamedConfig config);

// The base allocator of each domain under `config` (for a *_debug name,
// the bases of the configuration it decorates). FailedPrecondition when
// mimalloc cannot be loaded.
absl::StatusOr<std::array<Allocator, kDomainCount>> BaseAllocators(
    NamedConfig config);

// True for debug, malloc_debug, pymalloc_debug, mimalloc_debug: the debug
// hooks are wrapped over every domain's base.
bool HasDebugHooks(NamedConfig config);

// Which named configuration the table's current layers are, by CPython's
// rule: compare the outermost allocator of each domain with the known
// triples; when the debug hooks are the outermost layer of every domain,
// compare what they wrap and answer the *_debug name. nullopt when another
// hook or a custom allocator is on top.
std::optional<NamedConfig> CurrentNamedConfig(const AllocatorTable& table);

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_CONFIG_H_
