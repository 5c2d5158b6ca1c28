#include "spotlight/layers/linear.h"

#include <cmath>

#include "spotlight/blas.h"
#include "spotlight/check.h"
#include "spotlight/kernels.h"

namespace spotlight {

Linear::Linear(const std::string& name, long in, long out)
    : weight(name + ".weight", {out, in}), bias(name + ".bias", {out}) {}

void Linear::init(Rng& rng) {
  const float a = std::sqrt(6.0f / static_cast<float>(in() + out()));
  for (long i = 0; i < weight.value.size(); ++i) weight.value[i] = rng.uniform(-a, a);
  bias.value.zero();
}

void Linear::forward(const Tensor& x, Tensor& y) const {
  require(x.cols() == in(), [&] {
    return weight.name + ": input has " + std::to_string(x.cols()) + " features, expected " +
           std::to_string(in());
  });
  y.resize({x.rows(), out()});
  if (int8) {
    gemm_int8(x.view(), *int8, y.view(), bias.value.data());  // the bias added as it scales
    return;
  }
  gemm(x.view(), Op::N, weight.value.view(), Op::T, y.view());  // y = x · Wᵀ
  add_bias(y.view(), bias.value.data());
}

void Linear::backward(const Tensor& x, const Tensor& dy, Tensor* dx, bool accumulate_dx) {
  require(dy.rows() == x.rows() && dy.cols() == out(),
          [&] { return weight.name + ": gradient shape mismatch"; });
  gemm(dy.view(), Op::T, x.view(), Op::N, weight.grad.view(), 1.0f, 1.0f);  // dW += dyᵀ · x
  add_bias_backward(dy.view(), bias.grad.data());                           // db += Σ_rows dy
  if (dx == nullptr) return;
  if (!accumulate_dx) dx->resize({x.rows(), in()});
  require(dx->rows() == x.rows() && dx->cols() == in(),
          [&] { return weight.name + ": dx shape mismatch"; });
  gemm(dy.view(), Op::N, weight.value.view(), Op::N, dx->view(), 1.0f,
       accumulate_dx ? 1.0f : 0.0f);  // dx (+)= dy · W
}

}  // namespace spotlight
