#include "pyhost/thread_state_slot.h"

#include <Python.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstring>

// glibc's dynamic linker: the address of the calling thread's copy of the
// TLS variable that `index` (a {module, offset} pair) names.
extern "C" void* __tls_get_addr(void* index);

namespace interpheap::pyhost {
namespace {

// The getter's tls_index once located; nullptr when the direct read is off.
std::atomic<void*> tls_index{nullptr};

#if defined(__x86_64__)
// The getter's general-dynamic sequence: `data16 lea idx(%rip),%rdi`
// (66 48 8d 3d rel32), then `data16 data16 rex.W call __tls_get_addr`
// (66 66 48 e8 rel32); a few bytes of prologue may come first.
void* DecodeTlsIndex(const unsigned char* code) {
  static const unsigned char kLea[] = {0x66, 0x48, 0x8d, 0x3d};
  static const unsigned char kCall[] = {0x66, 0x66, 0x48, 0xe8};
  for (int at = 0; at <= 16; ++at) {
    if (std::memcmp(code + at, kLea, sizeof(kLea)) == 0 &&
        std::memcmp(code + at + 8, kCall, sizeof(kCall)) == 0) {
      std::int32_t displacement;
      std::memcpy(&displacement, code + at + 4, sizeof(displacement));
      return const_cast<unsigned char*>(code + at + 8 + displacement);
    }
  }
  return nullptr;
}
#endif

}  // namespace

bool LocateThreadStateSlot() {
#if defined(__x86_64__)
#if PY_VERSION_HEX >= 0x030D0000
  const char* const getter = "PyThreadState_GetUnchecked";
#else
  const char* const getter = "_PyThreadState_UncheckedGet";
#endif
  // The definition in libpython (dlsym finds it, not a PLT stub).
  void* code = dlsym(RTLD_DEFAULT, getter);
  Dl_info info;
  if (code == nullptr || dladdr(code, &info) == 0 ||
      info.dli_fname == nullptr ||
      std::strstr(info.dli_fname, "libpython") == nullptr) {
    return false;
  }
  void* index = DecodeTlsIndex(static_cast<const unsigned char*>(code));
  tls_index.store(index, std::memory_order_release);
  return index != nullptr;
#else
  return false;
#endif
}

PyThreadState* const* ThreadStateSlotOfThisThread(PyThreadState* current) {
  void* index = tls_index.load(std::memory_order_acquire);
  if (index == nullptr || current == nullptr) return nullptr;
  auto* slot = static_cast<PyThreadState* const*>(__tls_get_addr(index));
  if (slot == nullptr || *slot != current) {
    tls_index.store(nullptr, std::memory_order_release);
    return nullptr;
  }
  return slot;
}

}  // namespace interpheap::pyhost
