#include "pyhost/configuration.h"

#include "gtest/gtest.h"

namespace interpheap::pyhost {
namespace {

TEST(ConfigurationTest, DefaultWithNothingSet) {
  EXPECT_EQ(ChooseConfiguration({}), "default");
  EXPECT_EQ(ChooseConfiguration({"", "", true, "pymalloc"}), "default");
}

TEST(ConfigurationTest, PythonMallocMapsToTheSameName) {
  for (const char* name : {"malloc", "malloc_debug", "pymalloc", "debug",
                           "pymalloc_debug", "mimalloc", "default"}) {
    EXPECT_EQ(ChooseConfiguration({"", name, true, "pymalloc"}), name);
  }
}

TEST(ConfigurationTest, InterpheapMallocWinsOverPythonMalloc) {
  EXPECT_EQ(ChooseConfiguration({"pymalloc_debug", "malloc", true, ""}),
            "pymalloc_debug");
}

TEST(ConfigurationTest, IgnoredEnvironmentDropsPythonMallocOnly) {
  // -E / -I: PYTHONMALLOC is ignored, as by python3; INTERPHEAP_MALLOC is
  // the launcher's own variable and still applies.
  EXPECT_EQ(ChooseConfiguration({"", "malloc_debug", false, "pymalloc"}),
            "default");
  EXPECT_EQ(ChooseConfiguration({"malloc", "debug", false, "pymalloc"}),
            "malloc");
}

TEST(ConfigurationTest, DevelopmentModeAsksForDebugHooks) {
  // -X dev / PYTHONDEVMODE with no allocator named: CPython would install
  // its debug hooks; the host installs interpheap's.
  EXPECT_EQ(ChooseConfiguration({"", "", true, "pymalloc_debug"}), "debug");
  EXPECT_EQ(ChooseConfiguration({"", "malloc", true, "pymalloc_debug"}),
            "malloc");
}

TEST(ConfigurationTest, UnknownNamesPassThroughForInterpheapToRefuse) {
  EXPECT_EQ(ChooseConfiguration({"", "bogus", true, ""}), "bogus");
}

}  // namespace
}  // namespace interpheap::pyhost
