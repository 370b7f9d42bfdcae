#include "alloc/config.h"

#include <string>

#include "absl/strings/str_format.h"
#include "alloc/external/mimalloc_allocator.h"
#include "alloc/hooks/debug_hooks.h"
#include "alloc/pymalloc/pymalloc_allocator.h"
#include "alloc/raw_allocator.h"

namespace interpheap::alloc {
namespace {

struct NameEntry {
  std::string_view name;
  NamedConfig config;
};

constexpr NameEntry kNames[] = {
    {"default", NamedConfig::kDefault},
    {"debug", NamedConfig::kDebug},
    {"malloc", NamedConfig::kMalloc},
    {"malloc_debug", NamedConfig::kMallocDebug},
    {"pymalloc", NamedConfig::kPymalloc},
    {"pymalloc_debug", NamedConfig::kPymallocDebug},
    {"mimalloc", NamedConfig::kMimalloc},
    {"mimalloc_debug", NamedConfig::kMimallocDebug},
};

}  // namespace

absl::StatusOr<NamedConfig> ParseNamedConfig(std::string_view name) {
  if (name.empty()) return NamedConfig::kDefault;
  for (const NameEntry& entry : kNames) {
    if (entry.name == name) return entry.config;
  }
  std::string valid;
  for (const NameEntry& entry : kNames) {
    if (!valid.empty()) valid += ", ";
    valid += entry.name;
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "unknown allocator configuration '%s'; valid names are: %s", name,
      valid));
}

std::string_view NamedConfigName(NamedConfig config) {
  for (const NameEntry& entry : kNames) {
    if (entry.config == config) return entry.name;
  }
  return "?";
}

absl::StatusOr<std::array<Allocator, kDomainCount>> BaseAllocators(
    NamedConfig config) {
  switch (config) {
    case NamedConfig::kMallocDebug:
      return BaseAllocators(NamedConfig::kMalloc);
    case NamedConfig::kDebug:
    case NamedConfig::kPymallocDebug:
      return BaseAllocators(NamedConfig::kPymalloc);
    case NamedConfig::kMimallocDebug:
      return BaseAllocators(NamedConfig::kMimalloc);
    case NamedConfig::kMalloc:
      // mem and obj route pool blocks of earlier configurations home.
      return std::array<Allocator, kDomainCount>{
          kLibcAllocator, kLibcMemAllocator, kLibcMemAllocator};
    case NamedConfig::kDefault:
    case NamedConfig::kPymalloc:
      return std::array<Allocator, kDomainCount>{
          kLibcAllocator, kPymallocAllocator, kPymallocAllocator};
    case NamedConfig::kMimalloc:
      if (absl::Status s = LoadMimalloc(); !s.ok()) return s;
      return std::array<Allocator, kDomainCount>{
          kLibcAllocator, kMimallocAllocator, kMimallocAllocator};
  }
  return absl::InternalError("unknown configuration");
}

bool HasDebugHooks(NamedConfig config) {
  return config == NamedConfig::kDebug || config == NamedConfig::kMallocDebug ||
         config == NamedConfig::kPymallocDebug ||
         config == NamedConfig::kMimallocDebug;
}

namespace {

// The C library in the mem or obj domain: the `malloc` configuration's
// allocator, or kLibcAllocator (every domain's before pre-initialization).
bool IsLibc(const Allocator& allocator) {
  return SameAllocator(allocator, kLibcMemAllocator) ||
         SameAllocator(allocator, kLibcAllocator);
}

std::optional<NamedConfig> MatchTriple(const Allocator& raw,
                                       const Allocator& mem,
                                       const Allocator& obj) {
  if (!SameAllocator(raw, kLibcAllocator)) return std::nullopt;
  if (IsLibc(mem) && IsLibc(obj)) return NamedConfig::kMalloc;
  if (SameAllocator(mem, kPymallocAllocator) &&
      SameAllocator(obj, kPymallocAllocator)) {
    return NamedConfig::kPymalloc;
  }
  if (SameAllocator(mem, kMimallocAllocator) &&
      SameAllocator(obj, kMimallocAllocator)) {
    return NamedConfig::kMimalloc;
  }
  return std::nullopt;
}

}  // namespace

std::optional<NamedConfig> CurrentNamedConfig(const AllocatorTable& table) {
  const Allocator raw = table.Get(Domain::kRaw);
  const Allocator mem = table.Get(Domain::kMem);
  const Allocator obj = table.Get(Domain::kObj);
  if (IsDebugHook(raw) && IsDebugHook(mem) && IsDebugHook(obj)) {
    const std::optional<Allocator> raw_below = table.Below(Domain::kRaw);
    const std::optional<Allocator> mem_below = table.Below(Domain::kMem);
    const std::optional<Allocator> obj_below = table.Below(Domain::kObj);
    if (!raw_below || !mem_below || !obj_below) {
      return std::nullopt;
    }
    switch (MatchTriple(*raw_below, *mem_below, *obj_below)
                .value_or(NamedConfig::kDefault)) {
      case NamedConfig::kMalloc:
        return NamedConfig::kMallocDebug;
      case NamedConfig::kPymalloc:
        return NamedConfig::kPymallocDebug;
      case NamedConfig::kMimalloc:
        return NamedConfig::kMimallocDebug;
      default:
        return std::nullopt;
    }
  }
  return MatchTriple(raw, mem, obj);
}

}  // namespace interpheap::alloc
