#include "spotlight/train/loss_step.h"

#include <algorithm>
#include <chrono>

#include "spotlight/check.h"
#include "spotlight/parallel.h"

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

UpdateGradient update_gradient(Transformer& model, Transformer::Cache& cache,
                               std::span<const Batch> batches, std::span<const long> index,
                               long tokens, float label_smoothing, const Rng& update_rng,
                               const Transformer::GradientsReady& ready, StepTimes* times) {
  require(index.size() == batches.size(), "update_gradient: one index per batch");
  const ParamList& params = model.params();
  UpdateGradient r;
  r.earlier = batches.size() > 1;
  if (r.earlier && cache.grad_sum.size() != params.size()) {
    cache.grad_sum.resize(params.size());
    for (size_t i = 0; i < params.size(); ++i) cache.grad_sum[i].resize_like(params[i]->grad);
  }
  model.zero_grad();
  const float scale = 1.0f / static_cast<float>(std::max(tokens, 1L));
  for (size_t k = 0; k < batches.size(); ++k) {
    const Batch& b = batches[k];
    const bool last = k + 1 == batches.size();
    Rng rng = update_rng.fork(static_cast<uint64_t>(index[k]));
    const auto t0 = Clock::now();
    model.forward_hidden(b, cache, &rng);
    const auto t1 = Clock::now();
    r.stats += projected_loss(model, cache, b, label_smoothing, scale, &cache.dh);
    const auto t2 = Clock::now();
    model.backward_hidden(b, cache, cache.dh, last ? ready : Transformer::GradientsReady());
    if (times != nullptr) {
      times->forward += std::chrono::duration<double>(t1 - t0).count();
      times->loss += std::chrono::duration<double>(t2 - t1).count();
      times->backward += std::chrono::duration<double>(Clock::now() - t2).count();
    }
    if (last) break;
    // This batch's gradient into the sum of the earlier ones; the parameters' back to zero.
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor& g = params[i]->grad;
      Tensor& sum = cache.grad_sum[i];
      if (k == 0) {
        std::swap(g, sum);
      } else {
        float* s = sum.data();
        const float* x = g.data();
        parallel_for(g.size(), 16384, [&](long i0, long i1) {
          for (long j = i0; j < i1; ++j) s[j] += x[j];
        });
      }
      g.zero();
    }
  }
  return r;
}

void add_earlier(Transformer& model, const Transformer::Cache& cache) {
  const ParamList& params = model.params();
  for (size_t i = 0; i < params.size(); ++i) {
    float* g = params[i]->grad.data();
    const float* s = cache.grad_sum[i].data();
    parallel_for(params[i]->grad.size(), 16384, [&](long i0, long i1) {
      for (long j = i0; j < i1; ++j) g[j] = s[j] + g[j];
    });
  }
}

LossStats forward_backward(Transformer& model, Transformer::Cache& cache,
                           std::span<const Batch> group, float label_smoothing, Rng& dropout_rng,
                           StepTimes* times) {
  long tokens = 0;
  std::vector<long> index;
  for (const Batch& b : group) {
    tokens += b.target_tokens();
    index.push_back(static_cast<long>(index.size()));
  }
  const UpdateGradient g =
      update_gradient(model, cache, group, index, tokens, label_smoothing, dropout_rng, {}, times);
  if (g.earlier) add_earlier(model, cache);
  dropout_rng.next();
  return g.stats;
}

}  // namespace spotlight
