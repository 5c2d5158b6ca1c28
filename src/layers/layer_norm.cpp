#include "spotlight/layers/layer_norm.h"

#include "spotlight/check.h"
#include "spotlight/kernels.h"

namespace spotlight {

LayerNorm::LayerNorm(const std::string& name, long dim, float e)
    : weight(name + ".weight", {dim}), bias(name + ".bias", {dim}), eps(e) {
  init();
}

void LayerNorm::forward(const Tensor& x, Cache& c, Tensor& y) const {
  require(x.cols() == weight.value.size(), [&] { return weight.name + ": input width mismatch"; });
  y.resize_like(x);
  c.mean.resize({x.rows()});
  c.rstd.resize({x.rows()});
  layer_norm(x.view(), weight.value.data(), bias.value.data(), eps, y.view(), c.mean.data(),
             c.rstd.data());
}

void LayerNorm::backward(const Tensor& x, const Cache& c, const Tensor& dy, Tensor& dx) {
  require(&dx != &dy, "LayerNorm::backward: dx must not alias dy");
  dx.resize_like(x);
  layer_norm_backward(x.view(), weight.value.data(), c.mean.data(), c.rstd.data(), dy.view(),
                      dx.view(), weight.grad.data(), bias.grad.data());
}

}  // namespace spotlight
