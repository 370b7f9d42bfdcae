// examples/hello.cc: interpheap from a C++ program through the C API, built
// with CMake:
//
//   find_package(interpheap 0.3 REQUIRED)
//   target_link_libraries(hello_cc PRIVATE interpheap::interpheap)
//
// A std::vector whose elements live in the obj domain of the main
// interpreter, through a minimal allocator adaptor.

#include <interpheap/interpheap.h>

#include <cstdio>
#include <new>
#include <vector>

template <typename T>
struct ObjAllocator {
  using value_type = T;
  ObjAllocator() = default;
  template <typename U>
  ObjAllocator(const ObjAllocator<U>&) {}
  T* allocate(std::size_t n) {
    void* p = ih_obj_calloc(n, sizeof(T));  // checks n * sizeof(T) overflow
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) { ih_obj_free(p); }
  friend bool operator==(const ObjAllocator&, const ObjAllocator&) {
    return true;
  }
  friend bool operator!=(const ObjAllocator&, const ObjAllocator&) {
    return false;
  }
};

int main() {
  ih_status_t status;
  if (ih_runtime_pre_initialize("pymalloc", &status) != IH_OK ||
      ih_runtime_initialize(&status) != IH_OK ||
      ih_thread_attach(ih_interp_main(), &status) != IH_OK) {
    std::fprintf(stderr, "hello_cc: %s\n", status.message);
    return 1;
  }
  long long sum = 0;
  {
    std::vector<int, ObjAllocator<int>> squares;
    for (int i = 0; i < 100; ++i) squares.push_back(i * i);
    for (int v : squares) sum += v;
    std::printf("hello_cc: %zu squares, sum %lld, %lld blocks live\n",
                squares.size(), sum,
                static_cast<long long>(ih_allocated_blocks(nullptr)));
  }
  const long long left = ih_allocated_blocks(nullptr);
  if (ih_thread_detach(&status) != IH_OK ||
      ih_runtime_finalize(&status) != IH_OK) {
    std::fprintf(stderr, "hello_cc: %s\n", status.message);
    return 1;
  }
  if (sum != 328350 || left != 0) {
    std::fprintf(stderr, "hello_cc: sum %lld, %lld blocks left\n", sum, left);
    return 1;
  }
  std::printf("hello_cc: interpheap %s: ok\n", ih_version_string());
  return 0;
}
