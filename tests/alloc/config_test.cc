// Named configurations: parsing, errors, and the name query.

#include "alloc/config.h"

#include "alloc/pymalloc/pymalloc_allocator.h"
#include "alloc/raw_allocator.h"
#include "gtest/gtest.h"
#include "tests/testing/counting_hook.h"

namespace interpheap::alloc {
namespace {

// PYTHONMALLOC's values as CPython documents them (3.13 added mimalloc):
// the external contract, not a copy of the library's table.
TEST(ConfigTest, ParsesEveryPythonmallocName) {
  const std::pair<const char*, NamedConfig> cases[] = {
      {"default", NamedConfig::kDefault},
      {"", NamedConfig::kDefault},
      {"debug", NamedConfig::kDebug},
      {"malloc", NamedConfig::kMalloc},
      {"malloc_debug", NamedConfig::kMallocDebug},
      {"pymalloc", NamedConfig::kPymalloc},
      {"pymalloc_debug", NamedConfig::kPymallocDebug},
      {"mimalloc", NamedConfig::kMimalloc},
      {"mimalloc_debug", NamedConfig::kMimallocDebug},
  };
  for (const auto& [name, config] : cases) {
    absl::StatusOr<NamedConfig> parsed = ParseNamedConfig(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, config) << name;
  }
}

TEST(ConfigTest, UnknownNameNamesTheValueAndListsValidOnes) {
  absl::StatusOr<NamedConfig> parsed = ParseNamedConfig("jemalloc");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(),
            "unknown allocator configuration 'jemalloc'; valid names are: "
            "default, debug, malloc, malloc_debug, pymalloc, pymalloc_debug, "
            "mimalloc, mimalloc_debug");
}

TEST(ConfigTest, EveryConfigurationRoundTripsThroughItsName) {
  for (NamedConfig config : kAllNamedConfigs) {
    const std::string_view name = NamedConfigName(config);
    absl::StatusOr<NamedConfig> parsed = ParseNamedConfig(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, config) << name;
  }
}

// raw is the plain C library allocator; mem and obj are the C library with
// the pool-block check on free and realloc (a pool block of an earlier
// configuration goes home), which the raw domain does not pay for.
TEST(ConfigTest, MallocConfigurationIsLibcInEveryDomain) {
  absl::StatusOr<std::array<Allocator, kDomainCount>> bases =
      BaseAllocators(NamedConfig::kMalloc);
  ASSERT_TRUE(bases.ok());
  const Allocator& raw = (*bases)[static_cast<int>(Domain::kRaw)];
  EXPECT_TRUE(SameAllocator(raw, kLibcAllocator));
  for (Domain domain : {Domain::kMem, Domain::kObj}) {
    const Allocator& base = (*bases)[static_cast<int>(domain)];
    EXPECT_TRUE(SameAllocator(base, kLibcMemAllocator));
    EXPECT_EQ(base.malloc, kLibcAllocator.malloc);
    EXPECT_EQ(base.calloc, kLibcAllocator.calloc);
  }
}

TEST(ConfigTest, CurrentNameFollowsCpythonRule) {
  AllocatorTable table;
  EXPECT_EQ(CurrentNamedConfig(table), NamedConfig::kMalloc);
  testing::CountingHook hook;
  ASSERT_TRUE(table.Wrap(Domain::kMem, hook.allocator(), &hook.previous).ok());
  EXPECT_EQ(CurrentNamedConfig(table), std::nullopt)
      << "a custom hook on top has no name";
}

}  // namespace
}  // namespace interpheap::alloc
