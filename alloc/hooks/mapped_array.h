// alloc/hooks/mapped_array.h: a growable array in memory mapped straight
// from the OS, so that tracemalloc's tables never allocate from the domains
// they trace. Zero-filled on growth; not thread-safe (the owner locks).

#ifndef INTERPHEAP_ALLOC_HOOKS_MAPPED_ARRAY_H_
#define INTERPHEAP_ALLOC_HOOKS_MAPPED_ARRAY_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstring>

namespace interpheap::alloc {

// A growable array in memory mapped from the OS (zero-filled).
template <typename T>
class MappedArray {
 public:
  T* data() const { return data_; }
  std::size_t capacity() const { return capacity_; }
  T& operator[](std::size_t i) const { return data_[i]; }

  // Grows to at least `n` elements, keeping the contents. False on failure.
  bool Reserve(std::size_t n) {
    if (n <= capacity_) return true;
    std::size_t capacity = capacity_ == 0 ? 1024 : capacity_;
    while (capacity < n) capacity *= 2;
    void* memory = mmap(nullptr, capacity * sizeof(T), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return false;
    if (data_ != nullptr) {
      std::memcpy(memory, data_, capacity_ * sizeof(T));
      munmap(data_, capacity_ * sizeof(T));
    }
    data_ = static_cast<T*>(memory);
    capacity_ = capacity;
    return true;
  }

  // A fresh zeroed array of exactly `n` (a power of two) elements.
  bool ResetTo(std::size_t n) {
    Release();
    return Reserve(n);
  }

  void Release() {
    if (data_ != nullptr) munmap(data_, capacity_ * sizeof(T));
    data_ = nullptr;
    capacity_ = 0;
  }

 private:
  T* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace interpheap::alloc

#endif  // INTERPHEAP_ALLOC_HOOKS_MAPPED_ARRAY_H_
