#include "spotlight/train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "spotlight/parallel.h"

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
    parallel_for(n, 16384, [&](long i0, long i1) {
      for (long i = i0; i < i1; ++i) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
      }
    });
  }
}

WeightAverage::WeightAverage(const ParamList& params, double decay)
    : params_(params), decay_(decay) {
  for (const Param* p : params_) {
    avg_.emplace_back();
    avg_.back().resize_like(p->value);
    std::copy_n(p->value.data(), p->value.size(), avg_.back().data());
  }
}

double WeightAverage::decay_at(long t) const {
  return std::min(decay_, (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t)));
}

void WeightAverage::update(long t) {
  const float d = static_cast<float>(decay_at(t)), w = 1.0f - d;
  for (size_t k = 0; k < params_.size(); ++k) {
    const float* p = params_[k]->value.data();
    float* e = avg_[k].data();
    parallel_for(avg_[k].size(), 16384, [&](long i0, long i1) {
      for (long i = i0; i < i1; ++i) e[i] = d * e[i] + w * p[i];
    });
  }
}

void WeightAverage::swap() {
  for (size_t k = 0; k < params_.size(); ++k) std::swap(params_[k]->value, avg_[k]);
}

double grad_norm(const ParamList& params) {
  // Sums of squares over fixed blocks, added in order: the same result for any thread count.
  constexpr long kBlock = 8192;
  double s = 0.0;
  std::vector<double> partial;
  for (const Param* p : params) {
    const float* g = p->grad.data();
    const long n = p->grad.size(), blocks = (n + kBlock - 1) / kBlock;
    partial.assign(static_cast<size_t>(blocks), 0.0);
    parallel_for(blocks, 2, [&](long b0, long b1) {
      for (long b = b0; b < b1; ++b) {
        double acc = 0.0;
        for (long i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i)
          acc += static_cast<double>(g[i]) * g[i];
        partial[static_cast<size_t>(b)] = acc;
      }
    });
    for (double x : partial) s += x;
  }
  return std::sqrt(s);
}

double clip_grad_norm(const ParamList& params, double max_norm) {
  const double norm = grad_norm(params);
  if (max_norm > 0.0 && norm > max_norm) {
    const float c = static_cast<float>(max_norm / (norm + 1e-6));
    for (Param* p : params) {
      float* g = p->grad.data();
      parallel_for(p->grad.size(), 16384, [&](long i0, long i1) {
        for (long i = i0; i < i1; ++i) g[i] *= c;
      });
    }
  }
  return norm;
}

}  // namespace spotlight
