// linear.h — y = x · Wᵀ + b, W [out, in] (PyTorch's nn.Linear layout).
//   backward: dx = dy · W (overwritten, or accumulated on request), dW += dyᵀ · x, db += Σ dy.
#pragma once

#include "spotlight/layers/param.h"
#include "spotlight/rng.h"

namespace spotlight {

struct Linear {
  Param weight;  // [out, in]
  Param bias;    // [out]

  Linear() = default;
  Linear(const std::string& name, long in, long out);
  long in() const { return weight.value.dim(1); }
  long out() const { return weight.value.dim(0); }
  void init(Rng& rng);  // Xavier-uniform weight, zero bias
  void collect(ParamList& ps) {
    ps.push_back(&weight);
    ps.push_back(&bias);
  }

  // x [N, in] → y [N, out].
  void forward(const Tensor& x, Tensor& y) const;
  // dW, db accumulate. dx [N, in] is overwritten, or added to when accumulate_dx (for a fan-in,
  // such as k and v projections of the same input); pass nullptr to skip it.
  void backward(const Tensor& x, const Tensor& dy, Tensor* dx, bool accumulate_dx = false);
};

}  // namespace spotlight
