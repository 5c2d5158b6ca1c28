// layer_norm.h — y = (x − mean) / sqrt(var + eps) · weight + bias over the last dim.
#pragma once

#include "spotlight/layers/param.h"

namespace spotlight {

struct LayerNorm {
  Param weight, bias;  // [D], [D]
  float eps = 1e-5f;

  struct Cache {
    Tensor mean, rstd;  // [N], [N]
  };

  LayerNorm() = default;
  LayerNorm(const std::string& name, long dim, float eps = 1e-5f);
  void init() {
    weight.value.fill(1.0f);
    bias.value.zero();
  }
  void collect(ParamList& ps) {
    ps.push_back(&weight);
    ps.push_back(&bias);
  }

  void forward(const Tensor& x, Cache& c, Tensor& y) const;  // x, y [N, D]
  // dx overwritten (must not alias dy); weight/bias grads accumulate.
  void backward(const Tensor& x, const Cache& c, const Tensor& dy, Tensor& dx);
};

}  // namespace spotlight
