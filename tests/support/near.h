// near.h — the suite's one rule for comparing floating-point results.
//
// A computed value a matches its reference b when
//
//     |a − b| ≤ atol + rtol·|b|            (gemma.cpp's TestNear; numpy.isclose)
//
// rtol bounds the error relative to the value itself. atol is the rounding-noise floor that a
// relative bar alone misses: a result much smaller than the operands it was computed from (a
// sum that cancels, the small entries of a tensor whose large ones set the rounding) carries the
// operands' rounding error, not a share of its own size. So atol comes from the operands' scale,
//
//     atol = k · ε · scale        (noise_atol below)
//
// with ε = 2⁻²³ (float32's epsilon), scale the magnitude of the terms that made b — for a tensor
// of results of one origin, max |b| over the tensor (scaled_tol) — and k the number of rounding
// steps that can pile up: a dot product of length n rounds n times, but errors of random sign
// grow like √n, so k = 16–64 covers the model's products; each call site says why its k.
//
// Zero in exact arithmetic. A quantity that is exactly 0 in exact arithmetic (the gradient of a
// key-projection bias: softmax ignores a shift of all of a query's scores, so dL/db_k = 0) holds
// rounding noise only, and so does every other computation of it. It is checked absolutely,
// |a| ≤ atol with atol from the scale of the terms that cancel (expect_zero) — never by a
// relative error and never against another computation of the same zero: noise over noise is
// O(1), and which way it falls depends on the BLAS kernel (OPENBLAS_CORETYPE).
//
// Bit-exact comparisons (==, memcmp) stay only where the arithmetic is the same by construction:
// the same code on the same shapes in the same order (a resumed run against an uninterrupted one
// with the same thread count, an element-wise kernel split over threads, masked entries written
// as 0). Never across BLAS kernels, batch compositions, paddings or chunkings: those change the
// blocking of the products and so their rounding. doctest::Approx remains for closed-form
// numbers computed in double by plain scalar code (BLEU, schedules, Adam's first steps), where
// its own mixed rule |a − b| < ε·(1 + max(|a|, |b|)) applies.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include "spotlight/check.h"
#include <sstream>
#include <string>
#include <vector>

#include "spotlight/tensor.h"

namespace spotlight::testing {

constexpr double kFloatEps = std::numeric_limits<float>::epsilon();  // 2⁻²³ ≈ 1.19e-7

struct Tol {
  double rtol = 0.0;
  double atol = 0.0;
};

// k·ε·scale: the rounding noise of results of magnitude `scale` after about k rounding steps.
inline double noise_atol(double scale, double k) { return k * kFloatEps * scale; }

inline double max_abs(const float* x, long n) {
  double m = 0.0;
  for (long i = 0; i < n; ++i) m = std::max(m, static_cast<double>(std::fabs(x[i])));
  return m;
}
inline double max_abs(const Tensor& t) { return max_abs(t.data(), t.size()); }

// A tolerance for results of one origin with `reference`: rtol, and atol = k·ε·max |reference|.
inline Tol scaled_tol(const Tensor& reference, double rtol, double k) {
  return {rtol, noise_atol(max_abs(reference), k)};
}

// |a − b| ≤ atol + rtol·|b|; equal values (infinities too) match, NaN never does.
inline bool near(double a, double b, Tol t) {
  return a == b || std::fabs(a - b) <= t.atol + t.rtol * std::fabs(b);
}

// |a − b| in units of the bar atol + rtol·|b|: at most 1 matches (0 when equal, ∞ for NaN or
// for a difference against a zero bar).
inline double excess(double a, double b, Tol t) {
  if (a == b) return 0.0;
  const double d = std::fabs(a - b), bar = t.atol + t.rtol * std::fabs(b);
  if (std::isnan(d)) return std::numeric_limits<double>::infinity();
  return bar > 0.0 ? d / bar : std::numeric_limits<double>::infinity();
}

// Entry-wise comparison of two arrays: how many entries miss the bar and the worst one.
struct Comparison {
  long n = 0, failures = 0, worst = -1;
  double worst_excess = 0.0, a = 0.0, b = 0.0;  // a and b at the worst entry
  Tol tol;
  bool ok() const { return failures == 0; }
  std::string describe() const {
    std::ostringstream s;
    s << failures << " of " << n << " entries beyond |a−b| ≤ " << tol.atol << " + " << tol.rtol
      << "·|b|";
    if (worst >= 0)
      s << "; worst at " << worst << ": a = " << a << ", b = " << b << " (" << worst_excess
        << "× the bar)";
    return s.str();
  }
};

template <class A, class B>
Comparison compare(const A* a, const B* b, long n, Tol t) {
  Comparison c;
  c.n = n;
  c.tol = t;
  for (long i = 0; i < n; ++i) {
    const double e = excess(static_cast<double>(a[i]), static_cast<double>(b[i]), t);
    if (e > 1.0) ++c.failures;
    if (c.worst < 0 || e > c.worst_excess) {
      c.worst = i;
      c.worst_excess = e;
      c.a = a[i];
      c.b = b[i];
    }
  }
  return c;
}

// One doctest check per call, reported at the caller's line with the worst entry. They return
// whether the check passed.
inline bool expect_near(const std::string& what, const Tensor& a, const Tensor& b, Tol t,
                        SourceLocation at = SourceLocation::current()) {
  if (a.size() != b.size()) {
    ADD_FAIL_CHECK_AT(at.file_name(), static_cast<int>(at.line()),
                      what << ": " << a.size() << " entries against " << b.size());
    return false;
  }
  const Comparison c = compare(a.data(), b.data(), a.size(), t);
  if (!c.ok()) ADD_FAIL_CHECK_AT(at.file_name(), static_cast<int>(at.line()),
                                 what << ": " << c.describe());
  return c.ok();
}

inline bool expect_near(const std::string& what, double a, double b, Tol t,
                        SourceLocation at = SourceLocation::current()) {
  const bool ok = near(a, b, t);
  if (!ok)
    ADD_FAIL_CHECK_AT(at.file_name(), static_cast<int>(at.line()),
                      what << ": a = " << a << ", b = " << b << ", |a−b| = " << std::fabs(a - b)
                           << " beyond " << t.atol << " + " << t.rtol << "·|b|");
  return ok;
}

// Zero in exact arithmetic: every |a_i| ≤ atol (see the file comment for atol's scale).
template <class T>
bool expect_zero(const std::string& what, const T* a, long n, double atol,
                 SourceLocation at = SourceLocation::current()) {
  const std::vector<double> zeros(static_cast<size_t>(n), 0.0);
  const Comparison c = compare(a, zeros.data(), n, Tol{0.0, atol});
  if (!c.ok())
    ADD_FAIL_CHECK_AT(at.file_name(), static_cast<int>(at.line()),
                      what << " (zero in exact arithmetic): " << c.failures << " of " << n
                           << " entries beyond |a| ≤ " << atol << "; largest |a| = "
                           << std::fabs(c.a) << " at " << c.worst);
  return c.ok();
}
inline bool expect_zero(const std::string& what, const Tensor& a, double atol,
                        SourceLocation at = SourceLocation::current()) {
  return expect_zero(what, a.data(), a.size(), atol, at);
}
inline bool expect_zero(const std::string& what, double a, double atol,
                        SourceLocation at = SourceLocation::current()) {
  return expect_zero(what, &a, 1, atol, at);
}

}  // namespace spotlight::testing
