#include "alloc/fatal.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace interpheap::alloc {
namespace {

void DefaultHandler(const char* function, const char* message) {
  WriteFully(STDERR_FILENO, "interpheap: fatal error: ");
  WriteFully(STDERR_FILENO, function);
  WriteFully(STDERR_FILENO, ": ");
  WriteFully(STDERR_FILENO, message);
  WriteFully(STDERR_FILENO, "\n");
}

std::atomic<FatalHandler> handler{&DefaultHandler};

}  // namespace

void WriteFully(int fd, const char* text, std::size_t length) noexcept {
  while (length > 0) {
    const ssize_t n = write(fd, text, length);
    if (n <= 0) return;
    text += n;
    length -= static_cast<std::size_t>(n);
  }
}

void WriteFully(int fd, const char* text) noexcept {
  WriteFully(fd, text, std::strlen(text));
}

FatalHandler SetFatalHandler(FatalHandler new_handler) noexcept {
  return handler.exchange(
      new_handler == nullptr ? &DefaultHandler : new_handler,
      std::memory_order_acq_rel);
}

void FatalError(const char* function, const char* message) {
  handler.load(std::memory_order_acquire)(function, message);
  std::abort();
}

}  // namespace interpheap::alloc
