#include "alloc/fatal.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace interpheap::alloc {
namespace {

void WriteAll(const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t n = write(STDERR_FILENO, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

void FatalError(const char* function, const char* message) {
  WriteAll("interpheap: fatal error: ");
  WriteAll(function);
  WriteAll(": ");
  WriteAll(message);
  WriteAll("\n");
  std::abort();
}

}  // namespace interpheap::alloc
