#include "alloc/config.h"

#include <string>

#include "absl/strings/str_format.h"
#include "alloc/mimalloc_allocator.h"
#include "alloc/pymalloc.h"
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
    case NamedConfig::kMalloc:
      return std::array<Allocator, kDomainCount>{
          kLibcAllocator, kLibcAllocator, kLibcAllocator};
    case NamedConfig::kDefault:
    case NamedConfig::kPymalloc:
      return std::array<Allocator, kDomainCount>{
          kLibcAllocator, kPymallocAllocator, kPymallocAllocator};
    case NamedConfig::kMimalloc:
      if (absl::Status s = LoadMimalloc(); !s.ok()) return s;
      return std::array<Allocator, kDomainCount>{
          kLibcAllocator, kMimallocAllocator, kMimallocAllocator};
    default:
      return absl::UnimplementedError(absl::StrFormat(
          "allocator configuration '%s' is not supported yet",
          NamedConfigName(config)));
  }
}

std::optional<NamedConfig> CurrentNamedConfig(const AllocatorTable& table) {
  const Allocator raw = table.Get(Domain::kRaw);
  const Allocator mem = table.Get(Domain::kMem);
  const Allocator obj = table.Get(Domain::kObj);
  if (SameAllocator(raw, kLibcAllocator) &&
      SameAllocator(mem, kLibcAllocator) &&
      SameAllocator(obj, kLibcAllocator)) {
    return NamedConfig::kMalloc;
  }
  if (SameAllocator(raw, kLibcAllocator) &&
      SameAllocator(mem, kPymallocAllocator) &&
      SameAllocator(obj, kPymallocAllocator)) {
    return NamedConfig::kPymalloc;
  }
  if (SameAllocator(raw, kLibcAllocator) &&
      SameAllocator(mem, kMimallocAllocator) &&
      SameAllocator(obj, kMimallocAllocator)) {
    return NamedConfig::kMimalloc;
  }
  return std::nullopt;
}

}  // namespace interpheap::alloc
