#include "spotlight/tensor.h"

#include <algorithm>
#include <limits>
#include <string>

#include "spotlight/check.h"

namespace spotlight {

std::string shape_str(const std::vector<long>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void require_shape(const Tensor& t, const std::vector<long>& shape, std::string_view what,
                   SourceLocation loc) {
  if (t.shape() != shape)
    require(false,
            std::string(what) + ": expected shape " + shape_str(shape) + ", got " +
                shape_str(t.shape()),
            loc);
}

void Tensor::resize(std::initializer_list<long> shape) {
  require(shape.size() <= 4, "Tensor: at most 4 dimensions");
  long n = 1;
  ndim_ = 0;
  for (long d : shape) {
    require(d >= 0, "Tensor: negative dimension");
    shape_[static_cast<size_t>(ndim_++)] = d;
    n *= d;
  }
  size_ = n;
  grow(n);
}

void Tensor::resize_like(const Tensor& other) {
  ndim_ = other.ndim_;
  shape_ = other.shape_;
  size_ = other.size_;
  grow(size_);
}

void Tensor::grow(long n) {
  if (static_cast<size_t>(n) <= buf_.size()) return;
  decltype(buf_)().swap(buf_);  // the old storage freed first, nothing copied into the new
  buf_.resize(static_cast<size_t>(n));
#ifdef SPOTLIGHT_POISON_TENSORS
  std::fill(buf_.begin(), buf_.end(), std::numeric_limits<float>::quiet_NaN());
#endif
}

void Tensor::zero() {
  std::fill_n(buf_.data(), size_, 0.0f);
}
void Tensor::fill(float v) {
  std::fill_n(buf_.data(), size_, v);
}

}  // namespace spotlight
