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
// A vector V of floats from p on, and back (no alignment needed).
template <class V>
inline V load_lanes(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
inline void store_lanes(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
inline f8 load8(const float* p) { return load_lanes<f8>(p); }
inline void store8(float* p, f8 v) { store_lanes(p, v); }

// The eight lane sums of a[0] … a[7] as one vector (lane i: Σ a[i]), by three rounds of
// pairwise adds of interleaved halves: 7 vector adds for 8 sums instead of 56 scalar ones.
inline f8 lane_sums8(const f8* a) {
  auto pairs = [](f8 x, f8 y) {  // lanes: x01 y01 x23 y23 x45 y45 x67 y67
    return __builtin_shufflevector(x, y, 0, 8, 2, 10, 4, 12, 6, 14) +
           __builtin_shufflevector(x, y, 1, 9, 3, 11, 5, 13, 7, 15);
  };
  auto quads = [](f8 x, f8 y) {  // x from pairs(a, b), y from pairs(c, d): a b c d for 0-3, 4-7
    return __builtin_shufflevector(x, y, 0, 1, 8, 9, 4, 5, 12, 13) +
           __builtin_shufflevector(x, y, 2, 3, 10, 11, 6, 7, 14, 15);
  };
  const f8 lo = quads(pairs(a[0], a[1]), pairs(a[2], a[3]));
  const f8 hi = quads(pairs(a[4], a[5]), pairs(a[6], a[7]));
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(lo, hi, 4, 5, 6, 7, 12, 13, 14, 15);
}

// e^x for x ≤ 0 (x below −87 gives ~0; NaN gives NaN): x = n·ln 2 + r with n an integer and
// |r| ≤ ln(2)/2, e^r by its degree-6 Taylor polynomial (relative error about 1e-7, float's own),
// 2^n put into the exponent bits. T is float, f8 or f16x; the same arithmetic either way.
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
  // x NaN (a diverged row) makes p NaN; n is then NaN too, and converting it to an integer
  // would be undefined, so the exponent added is 0 wherever n is out of range and p stays NaN.
  const T e = ((n > T{} - 128.0f) & (n < T{} + 128.0f)) ? n : T{};
  if constexpr (std::is_same_v<T, float>) {
    return std::bit_cast<float>(std::bit_cast<int32_t>(p) + (static_cast<int32_t>(e) << 23));
  } else {
    return (T)((I)p + (__builtin_convertvector(e, I) << 23));  // vector casts reinterpret bits
  }
}

// Eight floats from p + j when j is a lane index (Lanes), one float when it is a plain index:
// lets one expression serve a loop's vector body and its scalar tail (lane_sum).
struct Lanes {
  long j;
};
inline f8 load_as(const float* p, Lanes l) { return load8(p + l.j); }
inline float load_as(const float* p, long j) { return p[j]; }

// Σ_{j<n} term(j) in eight float lanes (term(Lanes{j}) → f8 for j, …, j+7), then the tail one
// by one (term(long) → float): the adds run side by side instead of one after another.
template <class Term>
inline float lane_sum(long n, Term&& term) {
  f8 acc = f8{};
  long j = 0;
  for (; j + 8 <= n; j += 8) acc += term(Lanes{j});
  float sum = 0.0f;
  for (int l = 0; l < 8; ++l) sum += acc[l];
  for (; j < n; ++j) sum += term(j);
  return sum;
}

// max_j x[j] over n ≥ 1 values. Four accumulators, so that the loop runs at the max
// instruction's throughput rather than its latency (the maximum is exact in any order).
inline float row_max(const float* x, long n) {
  f8 m0 = f8{} + x[0], m1 = m0, m2 = m0, m3 = m0;
  long j = 0;
  for (; j + 32 <= n; j += 32) {
    const f8 a = load8(x + j), b = load8(x + j + 8), c = load8(x + j + 16), d = load8(x + j + 24);
    m0 = m0 > a ? m0 : a;
    m1 = m1 > b ? m1 : b;
    m2 = m2 > c ? m2 : c;
    m3 = m3 > d ? m3 : d;
  }
  for (; j + 8 <= n; j += 8) {
    const f8 v = load8(x + j);
    m0 = m0 > v ? m0 : v;
  }
  m0 = m0 > m1 ? m0 : m1;
  m2 = m2 > m3 ? m2 : m3;
  m0 = m0 > m2 ? m0 : m2;
  float mx = x[0];
  for (int k = 0; k < 8; ++k) mx = std::max(mx, m0[k]);
  for (; j < n; ++j) mx = std::max(mx, x[j]);
  return mx;
}

// max_j |x[j]| over n ≥ 0 values (0 for none); NaN if any value is NaN or infinite. Two
// accumulators of each kind, for the same reason as row_max.
inline float row_max_abs(const float* x, long n) {
  f8 m0 = f8{}, m1 = f8{}, bad0 = f8{}, bad1 = f8{};
  long j = 0;
  auto take = [](f8 v, f8& m, f8& bad) {
    const f8 a = v < 0 ? -v : v;
    m = m > a ? m : a;
    bad += v * 0.0f;  // 0, or NaN from a NaN or an infinity
  };
  for (; j + 16 <= n; j += 16) {
    take(load8(x + j), m0, bad0);
    take(load8(x + j + 8), m1, bad1);
  }
  for (; j + 8 <= n; j += 8) take(load8(x + j), m0, bad0);
  m0 = m0 > m1 ? m0 : m1;
  bad0 += bad1;
  float mx = 0.0f, b = 0.0f;
  for (int k = 0; k < 8; ++k) {
    mx = std::max(mx, m0[k]);
    b += bad0[k];
  }
  for (; j < n; ++j) {
    mx = std::max(mx, std::fabs(x[j]));
    b += x[j] * 0.0f;
  }
  return b == 0.0f ? mx : std::numeric_limits<float>::quiet_NaN();
}

// Sixteen floats: one AVX-512 register, or two AVX2 ones, for loops bound by their arithmetic
// (sum_exp's: on the Ice Lake Xeon, perf of int8 beam 5 on one thread put row_log_sum_exp at
// 31% of the time in oneDNN's JIT kernels with eight lanes, 22% with sixteen; GCC's own
// vectoriser keeps to 256 bits there). Not for loops bound by memory: the int8 products'
// scaling pass, timed alone, was slower in sixteen lanes.
using f16x = float __attribute__((vector_size(64)));
using i16x = int32_t __attribute__((vector_size(64)));

// Σ_j e^(x[j] − shift) for shift ≥ max x, in sixteen float lanes, then eight, added in double;
// each term is also written to out[j] when out is given (out may be x). sum_x (if given)
// receives Σ_j x[j].
inline double sum_exp(const float* x, long n, float shift, float* out, double* sum_x = nullptr) {
  f16x wide_se = f16x{}, wide_sx = f16x{};
  long j = 0;
  for (; j + 16 <= n; j += 16) {
    const f16x v = load_lanes<f16x>(x + j);
    const f16x e = exp_nonpositive<f16x, i16x>(v - shift);
    wide_sx += v;
    wide_se += e;
    if (out != nullptr) store_lanes(out + j, e);
  }
  f8 se = __builtin_shufflevector(wide_se, wide_se, 0, 1, 2, 3, 4, 5, 6, 7) +
          __builtin_shufflevector(wide_se, wide_se, 8, 9, 10, 11, 12, 13, 14, 15);
  f8 sx = __builtin_shufflevector(wide_sx, wide_sx, 0, 1, 2, 3, 4, 5, 6, 7) +
          __builtin_shufflevector(wide_sx, wide_sx, 8, 9, 10, 11, 12, 13, 14, 15);
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
