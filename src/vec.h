// vec.h — eight floats at a time for the row kernels that BLAS does not cover (softmax, loss):
// GCC/Clang vector extensions, which compile to AVX2 or AVX-512 with -march=native and to
// plain SSE otherwise; and an exp for arguments ≤ 0 that vectorises, accurate to float.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace spotlight {

// Eight floats at a time (GCC/Clang vector extensions; AVX2 or better with -march=native).
using f8 = float __attribute__((vector_size(32)));
using i8 = int32_t __attribute__((vector_size(32)));
inline f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }

// e^x for x ≤ 0 (x below −87 gives ~0): x = n·ln 2 + r with n an integer and |r| ≤ ln(2)/2,
// e^r by its degree-6 Taylor polynomial (relative error about 1e-7, float's own), 2^n put into
// the exponent bits. T is float or f8; the same arithmetic either way.
template <class T, class I>
inline T exp_nonpositive(T x) {
  const T lo = T{} - 87.0f;
  x = x < lo ? lo : x;
  const float shifter = 12582912.0f;  // 1.5·2^23: adding and subtracting it rounds to an integer
  const T n = (x * 1.44269504088896341f + shifter) - shifter;
  const T r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
  const T p =
      1.0f +
      r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r / 720)))));
  if constexpr (std::is_same_v<T, float>) {
    return std::bit_cast<float>(std::bit_cast<int32_t>(p) + (static_cast<int32_t>(n) << 23));
  } else {
    return (T)((I)p + (__builtin_convertvector(n, I) << 23));  // vector casts reinterpret bits
  }
}

// max_j x[j] over n ≥ 1 values.
inline float row_max(const float* x, long n) {
  f8 m = f8{} + x[0];
  long j = 0;
  for (; j + 8 <= n; j += 8) {
    const f8 v = load8(x + j);
    m = m > v ? m : v;
  }
  float mx = x[0];
  for (int k = 0; k < 8; ++k) mx = std::max(mx, m[k]);
  for (; j < n; ++j) mx = std::max(mx, x[j]);
  return mx;
}

// max_j |x[j]| over n ≥ 0 values (0 for none); NaN if any value is NaN or infinite.
inline float row_max_abs(const float* x, long n) {
  f8 m = f8{}, bad = f8{};
  long j = 0;
  for (; j + 8 <= n; j += 8) {
    const f8 v = load8(x + j);
    const f8 a = v < 0 ? -v : v;
    m = m > a ? m : a;
    bad += v * 0.0f;  // 0, or NaN from a NaN or an infinity
  }
  float mx = 0.0f, b = 0.0f;
  for (int k = 0; k < 8; ++k) {
    mx = std::max(mx, m[k]);
    b += bad[k];
  }
  for (; j < n; ++j) {
    mx = std::max(mx, std::fabs(x[j]));
    b += x[j] * 0.0f;
  }
  return b == 0.0f ? mx : std::numeric_limits<float>::quiet_NaN();
}

// Σ_j e^(x[j] − shift) for shift ≥ max x, in eight float lanes added in double; each term is
// also written to out[j] when out is given (out may be x). sum_x (if given) receives Σ_j x[j].
inline double sum_exp(const float* x, long n, float shift, float* out, double* sum_x = nullptr) {
  f8 se = f8{}, sx = f8{};
  long j = 0;
  for (; j + 8 <= n; j += 8) {
    const f8 v = load8(x + j);
    const f8 e = exp_nonpositive<f8, i8>(v - shift);
    sx += v;
    se += e;
    if (out != nullptr) store8(out + j, e);
  }
  double total = 0.0, total_x = 0.0;
  for (int k = 0; k < 8; ++k) {
    total += se[k];
    total_x += sx[k];
  }
  for (; j < n; ++j) {
    const float v = x[j];
    const float e = exp_nonpositive<float, int32_t>(v - shift);
    total_x += v;
    total += e;
    if (out != nullptr) out[j] = e;
  }
  if (sum_x != nullptr) *sum_x = total_x;
  return total;
}

}  // namespace spotlight
