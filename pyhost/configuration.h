// pyhost/configuration.h: which interpheap configuration the launcher
// installs, from INTERPHEAP_MALLOC, PYTHONMALLOC and CPython's own choice.
//
// The launcher hides PYTHONMALLOC from CPython's pre-initialization (so
// CPython never sets up its own allocators or debug hooks over ours), lets
// CPython parse the command line (-E, -I, -X dev), then asks this function
// for the name to give interpheap. Read pyhost/pyhost_main.cc next.

#ifndef INTERPHEAP_PYHOST_CONFIGURATION_H_
#define INTERPHEAP_PYHOST_CONFIGURATION_H_

#include <string>

namespace interpheap::pyhost {

struct ConfigurationInputs {
  // INTERPHEAP_MALLOC; empty when unset. The launcher's own variable, so it
  // is honored even under -E and -I.
  std::string interpheap_malloc;
  // PYTHONMALLOC as the launcher found it; empty when unset.
  std::string pythonmalloc;
  // False under -E or -I (CPython's Py_IgnoreEnvironmentFlag after
  // pre-initialization): PYTHONMALLOC is then ignored, as by python3.
  bool use_environment = true;
  // The allocator CPython's pre-initialization set up with PYTHONMALLOC
  // hidden (_PyMem_GetCurrentAllocatorName()): "pymalloc_debug" exactly when
  // -X dev or PYTHONDEVMODE asked for debug hooks; empty if unknown.
  std::string cpython_choice;
};

// The interpheap configuration name: INTERPHEAP_MALLOC if set, else
// PYTHONMALLOC if set and the environment is used, else "debug" in
// CPython's development mode, else "default". The name is not validated
// here: interpheap refuses an unknown one with the list of valid names.
std::string ChooseConfiguration(const ConfigurationInputs& inputs);

}  // namespace interpheap::pyhost

#endif  // INTERPHEAP_PYHOST_CONFIGURATION_H_
