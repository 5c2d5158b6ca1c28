// grad_check.h — finite-difference gradient checks for the float32 model.
//
// Method: the scalar under test is accumulated in double; each checked entry x_i is moved by
// ±h and the central difference (f(x+h) − f(x−h)) / 2h compared with the analytic gradient.
// Per tensor we report ‖analytic − numeric‖ / ‖numeric‖ over the checked entries.
//
// Tolerance (kGradTol = 5e-3): in float32 with h = 1e-2 the correct backward of every layer
// here lands at ~1e-5..1e-3 (truncation O(h²) plus float rounding O(1e-7·|f|/h)). The bugs this
// must catch are O(1): a transposed weight gradient, a missing 1/sqrt(Dh) (a factor sqrt(Dh) ≥
// 2 on the q/k paths), a mask applied in forward but not in backward (gradient leaking to
// masked keys). tests/grad_check_test.cpp shows each of those failing this check by more than
// an order of magnitude beyond kGradTol.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/rng.h"
#include "spotlight/tensor.h"

namespace spotlight::testing {

constexpr double kGradTol = 5e-3;

struct GradCheck {
  double rel_error = 0.0;  // ‖a − n‖ / ‖n‖ over the checked entries
  double norm = 0.0;       // ‖n‖
  long checked = 0;
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
  double diff2 = 0.0, num2 = 0.0;
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
    diff2 += (g[i] - numeric) * (g[i] - numeric);
    num2 += numeric * numeric;
  }
  GradCheck r;
  r.norm = std::sqrt(num2);
  r.rel_error = std::sqrt(diff2) / std::max(r.norm, 1e-12);
  r.checked = static_cast<long>(idx.size());
  return r;
}

inline GradCheck check_gradient(Tensor& x, const Tensor& g, const std::function<double()>& f,
                                double h = 1e-2, long max_entries = 48) {
  return check_gradient(x.data(), g.data(), x.size(), f, h, max_entries);
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

// One tensor to check: its values and the analytic gradient computed for them.
struct Checked {
  std::string name;
  Tensor* x;
  const Tensor* g;
};

// Checks every listed tensor against f and returns the worst relative error. A test asserts on
// each tensor, so a failure names it.
inline double expect_gradients(const std::vector<Checked>& items, const std::function<double()>& f,
                               double tol = kGradTol, double h = 1e-2) {
  double worst = 0.0;
  for (const auto& it : items) {
    const GradCheck r = check_gradient(*it.x, *it.g, f, h);
    INFO(it.name << ": relative error " << r.rel_error << " over " << r.checked
                 << " entries (|numeric| = " << r.norm << ")");
    CHECK(r.rel_error < tol);
    worst = std::max(worst, r.rel_error);
  }
  return worst;
}

}  // namespace spotlight::testing
