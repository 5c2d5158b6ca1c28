#include "spotlight/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "spotlight/check.h"
#include "spotlight/parallel.h"
#include "vec.h"  // private: src/vec.h

namespace spotlight {

namespace {
// Smallest chunk worth a thread, in elements (rows of a matrix count their columns).
constexpr long kElemGrain = 16384;

// Runs fn(i) for every row i of a matrix with `cols` columns, rows split over the threads.
template <class F>
void for_rows(long rows, long cols, F&& fn) {
  parallel_for(rows, std::max(1L, kElemGrain / std::max(1L, cols)), [&](long b, long e) {
    for (long i = b; i < e; ++i) fn(i);
  });
}
// Runs fn(j0, j1) over column ranges [j0, j1) of a matrix with `cols` columns, each range owned
// by one thread: column reductions (bias and LayerNorm gradients) without races, and with the
// same summation order whatever the thread count.
template <class F>
void for_columns(long rows, long cols, F&& fn) {
  const long grain = std::max(16L, kElemGrain / std::max(1L, rows));
  parallel_for(cols, grain, fn);
}
}  // namespace

void masked_softmax(const MatView& s, float scale, long keys, bool causal) {
  for (long i = 0; i < s.rows; ++i) {
    float* r = s.row(i);
    long n = std::max(std::min(keys, s.cols), 0L);
    if (causal) n = std::min(n, i + 1);
    float sum = 0.0f;
    if (n > 0) {  // e^(scale·(r − max)), eight lanes at a time
      const float mx = row_max(r, n);
      f8 lanes = f8{};
      long j = 0;
      for (; j + 8 <= n; j += 8) {
        const f8 e = exp_nonpositive<f8, i8>(scale * (load8(r + j) - mx));
        store8(r + j, e);
        lanes += e;
      }
      for (int l = 0; l < 8; ++l) sum += lanes[l];
      for (; j < n; ++j) {
        r[j] = exp_nonpositive<float, int32_t>(scale * (r[j] - mx));
        sum += r[j];
      }
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

float row_log_sum_exp(const float* x, long n) {
  const float mx = row_max(x, n);
  return mx + static_cast<float>(std::log(sum_exp(x, n, mx, nullptr)));
}

void log_softmax(const MatView& x) {
  for_rows(x.rows, x.cols, [&](long i) {
    float* r = x.row(i);
    const float lse = row_log_sum_exp(r, x.cols);
    for (long j = 0; j < x.cols; ++j) r[j] -= lse;
  });
}

void RowTop::resize(long rows, long entries) {
  count = entries;
  value.resize(static_cast<size_t>(rows * entries));
  column.resize(static_cast<size_t>(rows * entries));
  size.assign(static_cast<size_t>(rows), 0);
}

void row_top(const float* x, long n, float shift, const char* skip, RowTop& top, long r) {
  const long cap = top.count;
  float* val = top.value.data() + r * cap;
  int* col = top.column.data() + r * cap;
  long size = 0;
  auto offer = [&](long j) {
    const float v = x[j] - shift;
    if (!(size < cap ? v == v : v > val[size - 1])) return;  // NaN, or not above the last
    if (skip != nullptr && skip[j] != 0) return;
    long at = size < cap ? size++ : cap - 1;
    for (; at > 0 && v > val[at - 1]; --at) {  // equal values keep their order: lower j first
      val[at] = val[at - 1];
      col[at] = col[at - 1];
    }
    val[at] = v;
    col[at] = static_cast<int>(j);
  };
  long j = 0;
  if (cap > 0) {
    for (; j + 32 <= n; j += 32) {
      if (size == cap) {
        // A block of 32 enters only if one of its values beats the last entry. x − shift
        // rounds monotonically in x, so that is exactly when a lane's max − shift does (tested
        // in the lanes, with no reduction to one max). Each max keeps its second operand for a
        // NaN, which could never enter.
        const f8 ninf = f8{} - INFINITY;
        f8 a = load8(x + j), b = load8(x + j + 8), c = load8(x + j + 16), d = load8(x + j + 24);
        a = a > ninf ? a : ninf;
        a = b > a ? b : a;
        c = c > ninf ? c : ninf;
        c = d > c ? d : c;
        a = c > a ? c : a;
        const i8 above = (a - shift) > (f8{} + val[cap - 1]);
        uint64_t words[4];
        std::memcpy(words, &above, sizeof words);
        if ((words[0] | words[1] | words[2] | words[3]) == 0) continue;
      }
      for (long l = j; l < j + 32; ++l) offer(l);
    }
    for (; j < n; ++j) offer(j);
  }
  top.size[static_cast<size_t>(r)] = static_cast<int>(size);
}

void layer_norm(const MatView& x, const float* gamma, const float* beta, float eps,
                const MatView& y, float* mean, float* rstd) {
  const long d = x.cols;
  for_rows(x.rows, d, [&](long i) {
    const float* xr = x.row(i);
    float* yr = y.row(i);
    const float m = lane_sum(d, [&](auto j) { return load_as(xr, j); }) / static_cast<float>(d);
    const float v = lane_sum(d, [&](auto j) {
                      const auto c = load_as(xr, j) - m;
                      return c * c;
                    }) /
                    static_cast<float>(d);
    const float rs = 1.0f / std::sqrt(v + eps);
    for (long j = 0; j < d; ++j) yr[j] = (xr[j] - m) * rs * gamma[j] + beta[j];
    mean[i] = m;
    rstd[i] = rs;
  });
}

void layer_norm_backward(const MatView& x, const float* gamma, const float* mean, const float* rstd,
                         const MatView& dy, const MatView& dx, float* dgamma, float* dbeta) {
  // With xhat = (x − m)·rstd and g = dy·gamma:
  //   dx = rstd · (g − mean(g) − xhat · mean(g·xhat)).
  // dx row by row; dgamma and dbeta column by column (no two threads add to one element).
  const long d = x.cols;
  for_columns(x.rows, d, [&](long j0, long j1) {
    for (long i = 0; i < x.rows; ++i) {
      const float* xr = x.row(i);
      const float* dyr = dy.row(i);
      const float m = mean[i], rs = rstd[i];
      for (long j = j0; j < j1; ++j) {
        dgamma[j] += dyr[j] * (xr[j] - m) * rs;
        dbeta[j] += dyr[j];
      }
    }
  });
  for_rows(x.rows, d, [&](long i) {
    const float* xr = x.row(i);
    const float* dyr = dy.row(i);
    float* dxr = dx.row(i);
    const float m = mean[i], rs = rstd[i];
    const float g_mean =
        lane_sum(d, [&](auto j) { return load_as(dyr, j) * load_as(gamma, j); }) /
        static_cast<float>(d);
    const float gx_mean = lane_sum(d, [&](auto j) {
                            return load_as(dyr, j) * load_as(gamma, j) *
                                   ((load_as(xr, j) - m) * rs);
                          }) /
                          static_cast<float>(d);
    for (long j = 0; j < d; ++j) {
      const float xhat = (xr[j] - m) * rs;
      dxr[j] = rs * (dyr[j] * gamma[j] - g_mean - xhat * gx_mean);
    }
  });
}

namespace {
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
}  // namespace

void activation(Activation a, const MatView& x, const MatView& y) {
  for_rows(x.rows, x.cols, [&](long i) {
    const float* xr = x.row(i);
    float* yr = y.row(i);
    if (a == Activation::relu) {
      for (long j = 0; j < x.cols; ++j) yr[j] = xr[j] > 0.0f ? xr[j] : 0.0f;
    } else {
      for (long j = 0; j < x.cols; ++j) yr[j] = 0.5f * xr[j] * (1.0f + std::erf(xr[j] * kInvSqrt2));
    }
  });
}

void activation_backward(Activation a, const MatView& x, const MatView& dy, const MatView& dx) {
  for_rows(x.rows, x.cols, [&](long i) {
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
  });
}

namespace {
uint64_t mix64(uint64_t z) {  // splitmix64's finaliser: a bijection that scrambles every bit
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

void dropout(float p, Rng& rng, const Tensor& x, DropoutMask& mask, Tensor& y) {
  require(p >= 0.0f && p < 1.0f, "dropout: probability must be in [0, 1)");
  if (&y != &x) y.resize_like(x);
  if (p == 0.0f) {
    mask.clear();
    if (&y != &x) std::copy_n(x.data(), x.size(), y.data());
    return;
  }
  const long n = x.size();
  mask.keep.resize(static_cast<size_t>(n));
  mask.scale = 1.0f / (1.0f - p);
  // One draw from rng per call; element i's uniform comes from a hash of (that seed, i / 2), 32
  // bits per element. Any thread can make any element, so the mask is the same whatever the
  // thread count, and rng advances by exactly one step.
  const uint64_t seed = rng.next();
  const float keep = mask.scale;
  const auto threshold = static_cast<uint64_t>(static_cast<double>(p) * 4294967296.0);
  uint8_t* m = mask.keep.data();
  float* out = y.data();
  const float* in = x.data();
  // Two passes per chunk: the coins (a hash per pair of elements), then a branch-free,
  // vectorised y = x · keep · scale.
  parallel_for((n + 1) / 2, kElemGrain / 2, [&](long b, long e) {
    for (long k = b; k < e; ++k) {
      const uint64_t r = mix64(seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(k + 1));
      m[2 * k] = (r & 0xffffffffULL) >= threshold;
      if (2 * k + 1 < n) m[2 * k + 1] = (r >> 32) >= threshold;
    }
    for (long i = 2 * b; i < std::min(n, 2 * e); ++i)
      out[i] = in[i] * (static_cast<float>(m[i]) * keep);
  });
}

void dropout_backward(const DropoutMask& mask, const Tensor& dy, Tensor& dx) {
  if (&dx != &dy) dx.resize_like(dy);
  if (mask.size() == 0) {
    if (&dx != &dy) std::copy_n(dy.data(), dy.size(), dx.data());
    return;
  }
  require(mask.size() == dy.size(), "dropout_backward: mask and gradient differ in size");
  const uint8_t* m = mask.keep.data();
  const float* g = dy.data();
  float* out = dx.data();
  const float scale = mask.scale;
  parallel_for(dy.size(), kElemGrain, [&](long b, long e) {
    for (long i = b; i < e; ++i) out[i] = g[i] * (static_cast<float>(m[i]) * scale);
  });
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
  require(a.size() == b.size(), "add: operands differ in size");
  if (&y != &a && &y != &b) y.resize_like(a);
  const float* pa = a.data();
  const float* pb = b.data();
  float* py = y.data();
  parallel_for(a.size(), kElemGrain, [&](long s, long e) {
    for (long i = s; i < e; ++i) py[i] = pa[i] + pb[i];
  });
}

void add_to(Tensor& y, const Tensor& x) {
  require(x.size() == y.size(), "add_to: operands differ in size");
  const float* px = x.data();
  float* py = y.data();
  parallel_for(x.size(), kElemGrain, [&](long s, long e) {
    for (long i = s; i < e; ++i) py[i] += px[i];
  });
}

void add_bias(const MatView& y, const float* bias) {
  for_rows(y.rows, y.cols, [&](long i) {
    float* r = y.row(i);
    for (long j = 0; j < y.cols; ++j) r[j] += bias[j];
  });
}

void add_bias_backward(const MatView& dy, float* dbias) {
  for_columns(dy.rows, dy.cols, [&](long j0, long j1) {
    for (long i = 0; i < dy.rows; ++i) {
      const float* r = dy.row(i);
      for (long j = j0; j < j1; ++j) dbias[j] += r[j];
    }
  });
}

}  // namespace spotlight
