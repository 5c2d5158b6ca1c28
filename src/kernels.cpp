#include "spotlight/kernels.h"

#include <algorithm>
#include <cmath>

#include "spotlight/check.h"

namespace spotlight {

long Mask::visible(long b, long i, long tk) const {
  long n = key_len.empty() ? tk : std::min<long>(key_len[static_cast<size_t>(b)], tk);
  if (causal) n = std::min(n, i + query_offset + 1);
  return std::max(n, 0L);
}

void masked_softmax(const MatView& s, float scale, const Mask& mask, long b) {
  for (long i = 0; i < s.rows; ++i) {
    float* r = s.row(i);
    const long n = mask.visible(b, i, s.cols);
    float mx = -INFINITY;
    for (long j = 0; j < n; ++j) mx = std::max(mx, r[j]);
    float sum = 0.0f;
    for (long j = 0; j < n; ++j) {
      r[j] = std::exp(scale * (r[j] - mx));
      sum += r[j];
    }
    const float inv = n > 0 ? 1.0f / sum : 0.0f;
    for (long j = 0; j < n; ++j) r[j] *= inv;
    for (long j = n; j < s.cols; ++j) r[j] = 0.0f;
  }
}

void masked_softmax_backward(const MatView& p, const MatView& dp, float scale) {
  for (long i = 0; i < p.rows; ++i) {
    const float* pr = p.row(i);
    float* dr = dp.row(i);
    float dot = 0.0f;
    for (long j = 0; j < p.cols; ++j) dot += pr[j] * dr[j];
    for (long j = 0; j < p.cols; ++j) dr[j] = scale * pr[j] * (dr[j] - dot);
  }
}

void log_softmax(const MatView& x) {
  for (long i = 0; i < x.rows; ++i) {
    float* r = x.row(i);
    float mx = -INFINITY;
    for (long j = 0; j < x.cols; ++j) mx = std::max(mx, r[j]);
    double sum = 0.0;
    for (long j = 0; j < x.cols; ++j) sum += std::exp(static_cast<double>(r[j] - mx));
    const float lse = mx + static_cast<float>(std::log(sum));
    for (long j = 0; j < x.cols; ++j) r[j] -= lse;
  }
}

void layer_norm(const MatView& x, const float* gamma, const float* beta, float eps,
                const MatView& y, float* mean, float* rstd) {
  const long d = x.cols;
  for (long i = 0; i < x.rows; ++i) {
    const float* xr = x.row(i);
    float* yr = y.row(i);
    float m = 0.0f;
    for (long j = 0; j < d; ++j) m += xr[j];
    m /= static_cast<float>(d);
    float v = 0.0f;
    for (long j = 0; j < d; ++j) v += (xr[j] - m) * (xr[j] - m);
    v /= static_cast<float>(d);
    const float rs = 1.0f / std::sqrt(v + eps);
    for (long j = 0; j < d; ++j) yr[j] = (xr[j] - m) * rs * gamma[j] + beta[j];
    mean[i] = m;
    rstd[i] = rs;
  }
}

void layer_norm_backward(const MatView& x, const float* gamma, const float* mean, const float* rstd,
                         const MatView& dy, const MatView& dx, float* dgamma, float* dbeta) {
  // With xhat = (x − m)·rstd and g = dy·gamma:
  //   dx = rstd · (g − mean(g) − xhat · mean(g·xhat)).
  const long d = x.cols;
  for (long i = 0; i < x.rows; ++i) {
    const float* xr = x.row(i);
    const float* dyr = dy.row(i);
    float* dxr = dx.row(i);
    const float m = mean[i], rs = rstd[i];
    float g_mean = 0.0f, gx_mean = 0.0f;
    for (long j = 0; j < d; ++j) {
      const float xhat = (xr[j] - m) * rs;
      const float g = dyr[j] * gamma[j];
      g_mean += g;
      gx_mean += g * xhat;
      dgamma[j] += dyr[j] * xhat;
      dbeta[j] += dyr[j];
    }
    g_mean /= static_cast<float>(d);
    gx_mean /= static_cast<float>(d);
    for (long j = 0; j < d; ++j) {
      const float xhat = (xr[j] - m) * rs;
      dxr[j] = rs * (dyr[j] * gamma[j] - g_mean - xhat * gx_mean);
    }
  }
}

namespace {
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
}  // namespace

void activation(Activation a, const MatView& x, const MatView& y) {
  for (long i = 0; i < x.rows; ++i) {
    const float* xr = x.row(i);
    float* yr = y.row(i);
    if (a == Activation::relu) {
      for (long j = 0; j < x.cols; ++j) yr[j] = xr[j] > 0.0f ? xr[j] : 0.0f;
    } else {
      for (long j = 0; j < x.cols; ++j) yr[j] = 0.5f * xr[j] * (1.0f + std::erf(xr[j] * kInvSqrt2));
    }
  }
}

void activation_backward(Activation a, const MatView& x, const MatView& dy, const MatView& dx) {
  for (long i = 0; i < x.rows; ++i) {
    const float* xr = x.row(i);
    const float* dyr = dy.row(i);
    float* dxr = dx.row(i);
    if (a == Activation::relu) {
      for (long j = 0; j < x.cols; ++j) dxr[j] = xr[j] > 0.0f ? dyr[j] : 0.0f;
    } else {  // d/dx [x·Φ(x)] = Φ(x) + x·φ(x)
      for (long j = 0; j < x.cols; ++j) {
        const float cdf = 0.5f * (1.0f + std::erf(xr[j] * kInvSqrt2));
        const float pdf = kInvSqrt2Pi * std::exp(-0.5f * xr[j] * xr[j]);
        dxr[j] = dyr[j] * (cdf + xr[j] * pdf);
      }
    }
  }
}

void dropout(float p, Rng& rng, const Tensor& x, Tensor& mask, Tensor& y) {
  require(p >= 0.0f && p < 1.0f, "dropout: probability must be in [0, 1)");
  if (&y != &x) y.resize_like(x);
  if (p == 0.0f) {
    mask.resize({0});
    if (&y != &x) std::copy_n(x.data(), x.size(), y.data());
    return;
  }
  mask.resize_like(x);
  const float keep = 1.0f / (1.0f - p);
  float* m = mask.data();
  for (long i = 0; i < x.size(); ++i) m[i] = rng.uniform() < p ? 0.0f : keep;
  for (long i = 0; i < x.size(); ++i) y[i] = x[i] * m[i];
}

void dropout_backward(const Tensor& mask, const Tensor& dy, Tensor& dx) {
  if (&dx != &dy) dx.resize_like(dy);
  if (mask.size() == 0) {
    if (&dx != &dy) std::copy_n(dy.data(), dy.size(), dx.data());
    return;
  }
  require(mask.size() == dy.size(), "dropout_backward: mask and gradient differ in size");
  for (long i = 0; i < dy.size(); ++i) dx[i] = dy[i] * mask[i];
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
  require(a.size() == b.size(), "add: operands differ in size");
  if (&y != &a && &y != &b) y.resize_like(a);
  for (long i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
}

void add_to(Tensor& y, const Tensor& x) {
  require(x.size() == y.size(), "add_to: operands differ in size");
  for (long i = 0; i < x.size(); ++i) y[i] += x[i];
}

void add_bias(const MatView& y, const float* bias) {
  for (long i = 0; i < y.rows; ++i) {
    float* r = y.row(i);
    for (long j = 0; j < y.cols; ++j) r[j] += bias[j];
  }
}

void add_bias_backward(const MatView& dy, float* dbias) {
  for (long i = 0; i < dy.rows; ++i) {
    const float* r = dy.row(i);
    for (long j = 0; j < dy.cols; ++j) dbias[j] += r[j];
  }
}

}  // namespace spotlight
