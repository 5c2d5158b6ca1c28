// linear.h — y = x · Wᵀ + b, W [out, in] (PyTorch's nn.Linear layout).
//   backward: dx = dy · W (overwritten, or accumulated on request), dW += dyᵀ · x, db += Σ dy.
#pragma once

#include <optional>

#include "spotlight/blas.h"
#include "spotlight/layers/param.h"
#include "spotlight/rng.h"

namespace spotlight {

struct Linear {
  Param weight;  // [out, in]
  Param bias;    // [out]
  // For int8 decoding (quantize()): the weight quantized per row; forward() then multiplies in
  // int8 (blas.h gemm_int8). Training never sets it; backward() needs the float weight.
  std::optional<Int8Matrix> int8;

  Linear() = default;
  Linear(const std::string& name, long in, long out);
  long in() const { return weight.value.dim(1); }
  long out() const { return weight.value.dim(0); }
  void init(Rng& rng);  // Xavier-uniform weight, zero bias
  void collect(ParamList& ps) {
    ps.push_back(&weight);
    ps.push_back(&bias);
  }

  // Quantizes the weight for forward() (again after the weight changes); drop() goes back.
  void quantize() { int8 = quantize_rows(weight.value.view()); }
  void drop_quantized() { int8.reset(); }

  // x [N, in] → y [N, out].
  void forward(const Tensor& x, Tensor& y) const;
  // dW, db accumulate. dx [N, in] is overwritten, or added to when accumulate_dx (for a fan-in,
  // such as k and v projections of the same input); pass nullptr to skip it.
  void backward(const Tensor& x, const Tensor& dy, Tensor* dx, bool accumulate_dx = false);
};

}  // namespace spotlight
