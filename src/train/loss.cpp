#include "spotlight/train/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/parallel.h"
#include "vec.h"  // private: src/vec.h

namespace spotlight {

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
      // One exp per logit, kept in d for the gradient.
      const float mx = row_max(l, v);
      const float target_logit = l[y];  // read before d (which may alias l) is written
      double sum_logits = 0.0;
      const double sum_e = sum_exp(l, v, mx, d, &sum_logits);
      const double lse = mx + std::log(sum_e);
      const double nll = lse - target_logit;
      const double smooth = lse - sum_logits / static_cast<double>(v);  // −Σ lp_j / V
      row_nll[static_cast<size_t>(i)] = nll;
      row_loss[static_cast<size_t>(i)] = (1.0 - eps) * nll + eps * smooth;
      if (d != nullptr) {
        const float scale = grad_scale * static_cast<float>(1.0 / sum_e);
        const float uniform = grad_scale * eps / static_cast<float>(v);
        for (long j = 0; j < v; ++j) d[j] = d[j] * scale - uniform;
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
