#include "spotlight/train/optimizer.h"

#include <cmath>

namespace spotlight {

Adam::Adam(const ParamList& params, const AdamConfig& cfg) : params_(params), cfg_(cfg) {
  for (const Param* p : params_) {
    m_.emplace_back();
    m_.back().resize_like(p->value);
    m_.back().zero();
    v_.emplace_back();
    v_.back().resize_like(p->value);
    v_.back().zero();
  }
}

void Adam::step(double lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t_));
  const float b1 = static_cast<float>(cfg_.beta1), b2 = static_cast<float>(cfg_.beta2);
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float eps = static_cast<float>(cfg_.eps);
  const float decay = static_cast<float>(1.0 - lr * cfg_.weight_decay);
  for (size_t k = 0; k < params_.size(); ++k) {
    float* p = params_[k]->value.data();
    const float* g = params_[k]->grad.data();
    float* m = m_[k].data();
    float* v = v_[k].data();
    const long n = params_[k]->value.size();
    for (long i = 0; i < n; ++i) {
      m[i] = b1 * m[i] + (1.0f - b1) * g[i];
      v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
      p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
    }
  }
}

double grad_norm(const ParamList& params) {
  double s = 0.0;
  for (const Param* p : params)
    for (long i = 0; i < p->grad.size(); ++i) s += static_cast<double>(p->grad[i]) * p->grad[i];
  return std::sqrt(s);
}

double clip_grad_norm(const ParamList& params, double max_norm) {
  const double norm = grad_norm(params);
  if (max_norm > 0.0 && norm > max_norm) {
    const float c = static_cast<float>(max_norm / (norm + 1e-6));
    for (Param* p : params)
      for (long i = 0; i < p->grad.size(); ++i) p->grad[i] *= c;
  }
  return norm;
}

}  // namespace spotlight
