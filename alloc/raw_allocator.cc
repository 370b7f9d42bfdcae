#include "alloc/raw_allocator.h"

#include <cstdlib>

namespace interpheap::alloc {

void* LibcMalloc(void*, std::size_t size) noexcept {
  return std::malloc(size == 0 ? 1 : size);
}

void* LibcCalloc(void*, std::size_t nelem, std::size_t elsize) noexcept {
  if (nelem == 0 || elsize == 0) {
    nelem = 1;
    elsize = 1;
  }
  return std::calloc(nelem, elsize);
}

void* LibcRealloc(void*, void* ptr, std::size_t new_size) noexcept {
  return std::realloc(ptr, new_size == 0 ? 1 : new_size);
}

void LibcFree(void*, void* ptr) noexcept { std::free(ptr); }

}  // namespace interpheap::alloc
