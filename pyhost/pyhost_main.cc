// pyhost/pyhost_main.cc: python3 on interpheap.
//
// Embeds Debian's CPython 3.11 and runs its command line (a script, -c, -m,
// -X, -u, ...) exactly as python3 does, with interpheap as the allocator of
// all three domains. The order is CPython's documented one for a custom
// allocator:
//   1. Py_PreInitializeFromBytesArgs, with PYTHONMALLOC hidden (so CPython
//      sets up neither its allocators nor its debug hooks from it);
//   2. interpheap pre-initialized with the chosen configuration
//      (pyhost/configuration.h) and initialized; PYTHONMALLOC restored;
//   3. the host interpreter, host-locked by the GIL, and PyMem_SetAllocator
//      for raw, mem and obj (pyhost/host_allocator.h), interpheap's fatal
//      handler printing CPython's lines;
//   4. Py_InitializeFromConfig, sys.executable computed from argv[0] as for
//      python3 (symlinks kept: venvs work), which is this launcher, so
//      subprocesses of sys.executable run on interpheap too; then
//      sys.getallocatedblocks and sys._debugmallocstats report interpheap
//      (pyhost/interpheap_module.h);
//   5. Py_RunMain, whose exit code is the launcher's.
// interpheap is not finalized: CPython leaves blocks live at exit, and
// C atexit code may still free them.

#include <Python.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "alloc/fatal.h"
#include "alloc/hooks/debug_hooks.h"
#include "interp/runtime.h"
#include "pyhost/configuration.h"
#include "pyhost/cpython_compat.h"
#include "pyhost/fatal_handler.h"
#include "pyhost/host_allocator.h"
#include "pyhost/interpheap_module.h"

namespace interpheap::pyhost {
namespace {

std::string GetEnv(const char* name) {
  const char* value = getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// Exits like python3 on a status that is an error or an exit request.
void CheckStatus(PyStatus status, PyConfig* config) {
  if (!PyStatus_Exception(status)) return;
  if (config != nullptr) PyConfig_Clear(config);
  Py_ExitStatusException(status);
}

int Main(int argc, char** argv) {
  // 1. CPython parses -E, -I, -X dev and the rest; PYTHONMALLOC is hidden.
  const bool had_pythonmalloc = getenv("PYTHONMALLOC") != nullptr;
  const std::string pythonmalloc = GetEnv("PYTHONMALLOC");
  unsetenv("PYTHONMALLOC");
  PyPreConfig preconfig;
  PyPreConfig_InitPythonConfig(&preconfig);
  preconfig.allocator = PYMEM_ALLOCATOR_NOT_SET;
  CheckStatus(Py_PreInitializeFromBytesArgs(&preconfig, argc, argv), nullptr);

  // 2. interpheap, with the configuration of that name.
  ConfigurationInputs inputs;
  inputs.interpheap_malloc = GetEnv("INTERPHEAP_MALLOC");
  inputs.pythonmalloc = pythonmalloc;
  inputs.use_environment = !compat::IgnoreEnvironment();
  const char* cpython_choice = _PyMem_GetCurrentAllocatorName();
  inputs.cpython_choice = cpython_choice == nullptr ? "" : cpython_choice;
  const std::string name = ChooseConfiguration(inputs);
  alloc::SetFatalHandler(&CPythonFatalHandler);
  // Under the debug hooks a cross-interpreter free is reported (once) and
  // counted, not fatal, unless INTERPHEAP_CROSS_INTERPRETER_FREE=fatal:
  // CPython's own interpreter tests free objects across interpreters.
  const std::string cross = GetEnv("INTERPHEAP_CROSS_INTERPRETER_FREE");
  if (cross == "fatal") {
    alloc::SetCrossInterpreterFreePolicy(
        alloc::CrossInterpreterFreePolicy::kFatal);
  } else if (cross.empty() || cross == "report") {
    alloc::SetCrossInterpreterFreePolicy(
        alloc::CrossInterpreterFreePolicy::kReport);
  } else {
    std::fprintf(stderr,
                 "Fatal Python error: pyhost: "
                 "INTERPHEAP_CROSS_INTERPRETER_FREE='%s': expected 'report' "
                 "or 'fatal'\nPython runtime state: preinitialized\n\n",
                 cross.c_str());
    return 1;
  }
  interp::Runtime& runtime = interp::Runtime::Get();
  interp::RuntimeConfig runtime_config;
  runtime_config.allocator = name;
  absl::Status started = runtime.PreInitialize(runtime_config);
  if (started.ok()) started = runtime.Initialize();
  interp::Interpreter* host = nullptr;
  if (started.ok()) {
    absl::StatusOr<interp::Interpreter*> created = CreateHostInterpreter();
    started = created.status();
    if (created.ok()) host = *created;
  }
  if (!started.ok()) {
    const std::string text(started.message());
    std::fprintf(stderr,
                 "Fatal Python error: pyhost: interpheap: %s\n"
                 "Python runtime state: preinitialized\n\n",
                 text.c_str());
    return 1;
  }
  // Children started with sys.executable map it again.
  if (had_pythonmalloc) setenv("PYTHONMALLOC", pythonmalloc.c_str(), 1);

  // 3. The replace window: CPython is pre-initialized, not initialized.
  InstallCPythonAllocators(host);
  RegisterInterpheapModule();

  // 4. The command line. sys.executable comes from argv[0] exactly as for
  // python3 (CPython's getpath): a symlink stays the symlink, so a venv's
  // bin/python (pyvenv.cfg), a ._pth next to the real program and a link
  // named python3 all behave as with python3 (CPython's test_venv, test_site
  // and test_sys check it). Started as itself, the launcher is
  // sys.executable, so children started with it run on interpheap too.
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  CheckStatus(PyConfig_SetBytesArgv(&config, argc, argv), &config);
  CheckStatus(Py_InitializeFromConfig(&config), &config);
  PyConfig_Clear(&config);
  if (!InstallSysFunctions()) {
    PyErr_Print();
    return 1;
  }

  // 5. Run it.
  return Py_RunMain();
}

}  // namespace
}  // namespace interpheap::pyhost

int main(int argc, char** argv) { return interpheap::pyhost::Main(argc, argv); }
