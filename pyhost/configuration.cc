#include "pyhost/configuration.h"

namespace interpheap::pyhost {

std::string ChooseConfiguration(const ConfigurationInputs& inputs) {
  if (!inputs.interpheap_malloc.empty()) return inputs.interpheap_malloc;
  if (inputs.use_environment && !inputs.pythonmalloc.empty()) {
    return inputs.pythonmalloc;
  }
  if (inputs.cpython_choice == "pymalloc_debug") return "debug";
  return "default";
}

}  // namespace interpheap::pyhost
