#include "spotlight/train/loss_step.h"

#include <algorithm>
#include <chrono>

namespace spotlight {

using Clock = std::chrono::steady_clock;

LossStats projected_loss(Transformer& model, Transformer::Cache& cache, const Batch& b,
                         float label_smoothing, float grad_scale, Tensor* dh) {
  const Tensor& h = cache.h;  // [B·T, D]
  const OutputProjection& out = model.output();
  const long n = h.rows(), d = h.cols(), v = out.size();
  // Targets as output columns (PAD → −1, ignored); the weight [V′, D] gathered once.
  cache.targets.resize(b.tgt_out.size());
  for (size_t i = 0; i < b.tgt_out.size(); ++i) cache.targets[i] = out.target(b.tgt_out[i]);
  const std::span<const int> targets(cache.targets);
  const MatView w = out.weight(cache.out_w);
  MatView dw;
  if (dh != nullptr) {
    dh->resize({n, d});
    dw = model.output_gradient(cache);
  }
  LossStats st;
  for (long r0 = 0; r0 < n; r0 += kLossChunkRows) {
    const long rows = std::min(kLossChunkRows, n - r0);
    const MatView hc = h.view().block(r0, 0, rows, d);
    cache.logits.resize({rows, v});  // [rows, V′], reused chunk to chunk
    out.forward(hc, w, cache.logits.view());
    st += cross_entropy(cache.logits,
                        targets.subspan(static_cast<size_t>(r0), static_cast<size_t>(rows)), -1,
                        label_smoothing, grad_scale, dh != nullptr ? &cache.logits : nullptr);
    if (dh != nullptr)  // undo the projection of this chunk
      out.backward(hc, cache.logits.view(), w, dw, dh->view().block(r0, 0, rows, d));
  }
  if (dh != nullptr) model.add_output_gradient(cache);
  return st;
}

LossStats forward_backward(Transformer& model, Transformer::Cache& cache,
                           std::span<const Batch> group, float label_smoothing, Rng& dropout_rng,
                           StepTimes* times) {
  long tokens = 0;
  for (const Batch& b : group) tokens += b.target_tokens();
  model.zero_grad();
  LossStats st;
  for (const Batch& b : group) {
    const auto t0 = Clock::now();
    model.forward_hidden(b, cache, &dropout_rng);
    const auto t1 = Clock::now();
    st += projected_loss(model, cache, b, label_smoothing, 1.0f / static_cast<float>(tokens),
                         &cache.dh);
    const auto t2 = Clock::now();
    model.backward_hidden(b, cache, cache.dh);
    if (times != nullptr) {
      times->forward += std::chrono::duration<double>(t1 - t0).count();
      times->loss += std::chrono::duration<double>(t2 - t1).count();
      times->backward += std::chrono::duration<double>(Clock::now() - t2).count();
    }
  }
  return st;
}

}  // namespace spotlight
