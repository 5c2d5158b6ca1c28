// tensor.h — Tensor: owning, contiguous, row-major float32 with a shape of up to 4 dims; and
// MatView: a 2-D window (pointer, rows, cols, leading dimension) onto one, which is what the
// kernels and gemm see. Token-wise data is [N, D] with N = B·T; attention heads are column
// blocks of [N, D] reached through the leading dimension, so no permute copies.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace spotlight {

// A row-major matrix window: element (i, j) is data[i * ld + j].
struct MatView {
  float* data = nullptr;
  long rows = 0, cols = 0, ld = 0;

  float& at(long i, long j) const { return data[i * ld + j]; }
  float* row(long i) const { return data + i * ld; }
  // The sub-window of `nr` rows from r0 and `nc` columns from c0.
  MatView block(long r0, long c0, long nr, long nc) const {
    return {data + r0 * ld + c0, nr, nc, ld};
  }
};

// std::allocator, except that a vector's resize leaves new floats uninitialised instead of
// zeroing them: a Tensor's contents after resize() are unspecified anyway, and zeroing the
// decoder's KV caches (tens of MB, regrown as batches get longer) cost ~3% of beam search.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;  // default-initialised: no value for a float
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class Tensor {
 public:
  Tensor() = default;
  // A zero-filled tensor of this shape.
  explicit Tensor(std::initializer_list<long> shape) {
    resize(shape);
    zero();
  }

  // Sets the shape. Storage only grows, so a steady-state step does not allocate; the
  // contents after a resize are unspecified (call zero() when they matter): growing does not
  // keep them, nor zero the new storage (the sanitizer build fills newly allocated storage with
  // NaN, so that a read of values never written fails the suite; a resize within the storage
  // keeps whatever was there).
  void resize(std::initializer_list<long> shape);
  void resize_like(const Tensor& other);
  void zero();
  void fill(float v);

  float* data() { return buf_.data(); }
  const float* data() const { return buf_.data(); }
  float& operator[](long i) { return buf_[static_cast<size_t>(i)]; }
  float operator[](long i) const { return buf_[static_cast<size_t>(i)]; }

  long size() const { return size_; }
  int ndim() const { return ndim_; }
  long dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  std::vector<long> shape() const { return {shape_.begin(), shape_.begin() + ndim_}; }
  bool same_shape(const Tensor& o) const { return shape() == o.shape(); }
  // The 2-D matrix view the kernels use: all leading dims folded into rows.
  long cols() const { return ndim_ == 0 ? 0 : shape_[static_cast<size_t>(ndim_ - 1)]; }
  long rows() const { return cols() == 0 ? 0 : size_ / cols(); }
  MatView view() const { return {const_cast<float*>(buf_.data()), rows(), cols(), cols()}; }

 private:
  void grow(long n);  // storage for at least n floats, contents unspecified

  std::vector<float, UninitializedAllocator<float>> buf_;
  std::array<long, 4> shape_{};
  int ndim_ = 0;
  long size_ = 0;
};

}  // namespace spotlight
