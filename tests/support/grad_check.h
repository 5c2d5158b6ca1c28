// grad_check.h — finite-difference gradient checks for the float32 model.
//
// Method: the scalar under test is accumulated in double; each checked entry x_i is moved by
// ±h and the central difference (f(x+h) − f(x−h)) / 2h compared with the analytic gradient.
// Per tensor, over the checked entries, near.h's mixed rule on norms:
//
//     ‖analytic − numeric‖ ≤ noise + kGradTol·‖numeric‖
//
// kGradTol = 5e-3 is the relative bar: in float32 with h = 1e-2 the correct backward of every
// layer here lands at ~1e-5..1e-3 of ‖numeric‖ (truncation O(h²) plus rounding). The bugs this
// must catch are O(1): a transposed weight gradient, a missing 1/sqrt(Dh) (a factor sqrt(Dh) ≥ 2
// on the q/k paths), a mask applied in forward but not in backward (gradient leaking to masked
// keys). tests/grad_check_test.cpp shows each of those missing the bar by more than 30×.
//
// `noise` is the rounding-noise floor of the differences themselves, which a relative bar alone
// misses: f(x±h) carry rounding error of their own, whatever the gradient's size, so a small
// gradient's central difference is mostly noise and its relative error says nothing. We allow
// f the error of a correctly rounded float32 result, half an ulp: ε/2·|f| per evaluation, so
// ε·max|f(x±h)| / 2h per entry, summed in quadrature over the entries. (f is accumulated in
// double from float32 results whose errors partly cancel: the differences of the key-projection
// biases, pure noise since their gradient is exactly 0, stay within 15% of this floor on every
// OpenBLAS core tried — whole model: up to 2.7e-6 per entry against 2e-5.) A tensor of gradient
// norm 0.015 over 16 entries is then held to ~1% instead of 0.5%; an O(1) bug misses by far.
//
// A gradient that is zero in exact arithmetic (a key-projection bias: softmax ignores a shift of
// all of a query's scores) is not checked by a relative error (noise over noise): its analytic
// value must be ≈ 0 absolutely (near.h's expect_zero, atol from the scale of the terms that
// cancel: key_bias_zero_atol) and its central differences must stay within their noise floor.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/rng.h"
#include "spotlight/tensor.h"
#include "support/near.h"

namespace spotlight::testing {

constexpr double kGradTol = 5e-3;

struct GradCheck {
  double error = 0.0;  // ‖a − n‖ over the checked entries
  double norm = 0.0;   // ‖n‖
  double noise = 0.0;  // the central differences' rounding-noise floor over the same entries
  long checked = 0;
  // ‖a − n‖ / ‖n‖, for messages.
  double rel_error() const { return norm > 0.0 ? error / norm : error > 0.0 ? INFINITY : 0.0; }
  // ‖a − n‖ in units of the bar noise + tol·‖n‖: at most 1 passes.
  double excess(double tol = kGradTol) const { return error / (noise + tol * norm); }
  bool passes(double tol = kGradTol) const { return excess(tol) <= 1.0; }
};

// Checks entries of x (a parameter or an input) against analytic gradient g. f recomputes the
// scalar from the current contents of x. Checks every entry when x has at most max_entries,
// else a seeded random sample of max_entries.
inline GradCheck check_gradient(float* x, const float* g, long n, const std::function<double()>& f,
                                double h = 1e-2, long max_entries = 48, uint64_t seed = 7) {
  std::vector<long> idx;
  if (n <= max_entries) {
    for (long i = 0; i < n; ++i) idx.push_back(i);
  } else {
    Rng rng(seed);
    for (long k = 0; k < max_entries; ++k)
      idx.push_back(static_cast<long>(rng.below(static_cast<uint32_t>(n))));
  }
  double diff2 = 0.0, num2 = 0.0, noise2 = 0.0;
  for (long i : idx) {
    const float orig = x[i];
    x[i] = static_cast<float>(orig + h);
    const double fp = f();
    x[i] = static_cast<float>(orig - h);
    const double fm = f();
    x[i] = orig;
    const double actual_h = (static_cast<double>(static_cast<float>(orig + h)) -
                             static_cast<double>(static_cast<float>(orig - h))) /
                            2.0;
    const double numeric = (fp - fm) / (2.0 * actual_h);
    const double noise = kFloatEps * std::max(std::fabs(fp), std::fabs(fm)) / (2.0 * actual_h);
    diff2 += (g[i] - numeric) * (g[i] - numeric);
    num2 += numeric * numeric;
    noise2 += noise * noise;
  }
  GradCheck r;
  r.error = std::sqrt(diff2);
  r.norm = std::sqrt(num2);
  r.noise = std::sqrt(noise2);
  r.checked = static_cast<long>(idx.size());
  return r;
}

inline GradCheck check_gradient(Tensor& x, const Tensor& g, const std::function<double()>& f,
                                double h = 1e-2, long max_entries = 48) {
  return check_gradient(x.data(), g.data(), x.size(), f, h, max_entries);
}

// The absolute bar for a key-projection bias gradient, zero in exact arithmetic:
// db_k = Σ_rows dk, whose rows cancel. Its rounding noise is set by the same dk rows that make
// the key weight's gradient dW_k = dkᵀ·x (x layer-normed, entries of order 1), so the scale is
// max |dW_k|; k = 64 leaves room over the measured noise (≤ 3·ε·max |dW_k| on every OpenBLAS
// core tried, whole model and single layer). A softmax backward whose rows do not sum to zero
// gives db_k ~10⁵× this bar (tests/grad_check_test.cpp).
inline double key_bias_zero_atol(const Tensor& key_weight_grad) {
  return noise_atol(max_abs(key_weight_grad), 64);
}

// Σ w ⊙ y in double: a scalar whose gradient with respect to y is w.
inline double dot(const Tensor& y, const Tensor& w) {
  double s = 0.0;
  for (long i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * w[i];
  return s;
}

inline void fill_uniform(Tensor& t, Rng& rng, float lo = -1.0f, float hi = 1.0f) {
  for (long i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
}

}  // namespace spotlight::testing

#include <doctest/doctest.h>

namespace spotlight::testing {

// One tensor to check: its values and the analytic gradient computed for them. zero_atol ≥ 0
// marks a gradient that is zero in exact arithmetic: checked as |g| ≤ zero_atol, and its central
// differences within their noise floor, instead of by a relative error.
struct Checked {
  std::string name;
  Tensor* x;
  const Tensor* g;
  double zero_atol = -1.0;
};

// Checks every listed tensor against f and returns the worst excess (the error in units of its
// bar, at most 1 passing) over the tensors checked by the mixed rule. A test asserts on each
// tensor, so a failure names it.
inline double expect_gradients(const std::vector<Checked>& items, const std::function<double()>& f,
                               double tol = kGradTol, double h = 1e-2) {
  double worst = 0.0;
  for (const auto& it : items) {
    const GradCheck r = check_gradient(*it.x, *it.g, f, h);
    INFO(it.name << ": ‖analytic − numeric‖ " << r.error << ", ‖numeric‖ " << r.norm
                 << " (relative error " << r.rel_error() << "), noise floor " << r.noise
                 << ", over " << r.checked << " entries");
    if (it.zero_atol >= 0.0) {
      expect_zero(it.name, *it.g, it.zero_atol);
      CHECK_MESSAGE(r.norm <= r.noise, "the central differences of a zero gradient exceed noise");
    } else {
      CHECK(r.excess(tol) <= 1.0);
      worst = std::max(worst, r.excess(tol));
    }
  }
  return worst;
}

// Every parameter of a model or layer, for expect_gradients: key-projection biases as zeros.
template <class Params, class Find>
std::vector<Checked> all_gradients(const Params& params, Find&& find_param) {
  std::vector<Checked> items;
  for (auto* p : params) {
    const std::string& n = p->name;
    const std::string suffix = "k_proj.bias";
    const bool key_bias = n.size() >= suffix.size() && n.ends_with(suffix);
    items.push_back({n, &p->value, &p->grad,
                     key_bias ? key_bias_zero_atol(find_param(n.substr(0, n.size() - 4) + "weight").grad)
                              : -1.0});
  }
  return items;
}

}  // namespace spotlight::testing
