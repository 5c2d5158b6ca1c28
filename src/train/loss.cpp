#include "spotlight/train/loss.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <cmath>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/parallel.h"

namespace spotlight {

namespace {
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
}  // namespace

LossStats cross_entropy(const Tensor& logits, std::span<const int> targets, int pad_id, float eps,
                        float grad_scale, Tensor* dlogits) {
  const long n = logits.rows(), v = logits.cols();
  require(static_cast<long>(targets.size()) == n, [&] {
    return "cross_entropy: " + std::to_string(targets.size()) + " targets for " +
           std::to_string(n) + " rows of logits";
  });
  require(eps >= 0.0f && eps < 1.0f, "cross_entropy: label smoothing must be in [0, 1)");
  if (dlogits != nullptr && dlogits != &logits) dlogits->resize_like(logits);
  // Rows are independent: split over the threads, each row's loss kept apart and summed in row
  // order afterwards (the same sums whatever the thread count).
  std::vector<double> row_nll(static_cast<size_t>(n), 0.0), row_loss(static_cast<size_t>(n), 0.0);
  parallel_for(n, 8, [&](long r0, long r1) {
    for (long i = r0; i < r1; ++i) {
      const int y = targets[static_cast<size_t>(i)];
      const float* l = logits.view().row(i);
      float* d = dlogits != nullptr ? dlogits->view().row(i) : nullptr;
      if (y == pad_id) {
        if (d != nullptr) std::fill_n(d, v, 0.0f);
        continue;
      }
      require(y >= 0 && y < v, [&] {
        return "cross_entropy: target id " + std::to_string(y) + " out of range [0, " +
               std::to_string(v) + ")";
      });
      // Max, then one exp per logit (kept in d for the gradient) with the sums of the
      // exponentials and of the logits: eight lanes at a time, the lanes added in double.
      f8 vmax = load8(l) * 0.0f + l[0];
      long j = 0;
      for (; j + 8 <= v; j += 8) {
        const f8 x = load8(l + j);
        vmax = vmax > x ? vmax : x;
      }
      float mx = l[0];
      for (int k = 0; k < 8; ++k) mx = std::max(mx, vmax[k]);
      for (; j < v; ++j) mx = std::max(mx, l[j]);
      const float target_logit = l[y];  // read before d (which may alias l) is written
      f8 vexp = f8{}, vlogit = f8{};
      for (j = 0; j + 8 <= v; j += 8) {
        const f8 x = load8(l + j);
        const f8 ex = exp_nonpositive<f8, i8>(x - mx);
        vlogit += x;
        vexp += ex;
        if (d != nullptr) store8(d + j, ex);
      }
      double sum_exp = 0.0, sum_logits = 0.0;
      for (int k = 0; k < 8; ++k) {
        sum_exp += vexp[k];
        sum_logits += vlogit[k];
      }
      for (; j < v; ++j) {
        const float ex = exp_nonpositive<float, int32_t>(l[j] - mx);
        sum_logits += l[j];
        sum_exp += ex;
        if (d != nullptr) d[j] = ex;
      }
      const double lse = mx + std::log(sum_exp);
      const double nll = lse - target_logit;
      const double smooth = lse - sum_logits / static_cast<double>(v);  // −Σ lp_j / V
      row_nll[static_cast<size_t>(i)] = nll;
      row_loss[static_cast<size_t>(i)] = (1.0 - eps) * nll + eps * smooth;
      if (d != nullptr) {
        const float scale = grad_scale * static_cast<float>(1.0 / sum_exp);
        const float uniform = grad_scale * eps / static_cast<float>(v);
        for (j = 0; j < v; ++j) d[j] = d[j] * scale - uniform;
        d[y] -= grad_scale * (1.0f - eps);
      }
    }
  });
  LossStats st;
  for (long i = 0; i < n; ++i) {
    if (targets[static_cast<size_t>(i)] == pad_id) continue;
    st.nll += row_nll[static_cast<size_t>(i)];
    st.loss += row_loss[static_cast<size_t>(i)];
    ++st.tokens;
  }
  return st;
}

}  // namespace spotlight
