// loss_step.h — the loss and gradient of one update, shared by `spotlight train`, `spotlight
// bench` and the tests: forward without the output projection, then the projection and the
// label-smoothed cross-entropy in row chunks (the [B·T, V′] logits never exist whole), then
// backward.
#pragma once

#include <span>

#include "spotlight/model/transformer.h"
#include "spotlight/rng.h"
#include "spotlight/train/loss.h"

namespace spotlight {

// Rows of the output projection and loss computed at once: the [B·T, V′] logits never exist
// whole (a 4,096-token batch's would take 131 MB at V = 8,000), only [kLossChunkRows, V′].
constexpr long kLossChunkRows = 512;

// After model.forward_hidden: projects c.h onto the output columns (model.output) and scores
// them against b.tgt_out (label-smoothed cross-entropy, loss.h) in chunks of kLossChunkRows
// rows, reusing c.logits for each chunk. With dh, also the gradient: grad_scale · d(Σ loss)/d h
// into *dh [B·T, D] (overwritten) and the embedding's weight gradient (accumulated).
LossStats projected_loss(Transformer& model, Transformer::Cache& c, const Batch& b,
                         float label_smoothing, float grad_scale, Tensor* dh);

struct StepTimes {
  double forward = 0.0, loss = 0.0, backward = 0.0;  // seconds, accumulated
};
// One update's gradient on this process, over the batches it computes, summed as the same
// update is summed over several processes: each batch's gradient is computed alone, from zero,
// and the batches' gradients are added in order (so one process with update_freq 2 sums the
// two gradients exactly as an all-reduce over two processes does). The loss is the mean over
// `tokens` target tokens (the whole update's, the same on every process). Batch k draws its
// dropout from update_rng.fork(index[k]), index[k] being its place in the update, so a batch
// gets the same masks whichever process computes it.
// On return p->grad holds the last batch's gradient (zero without batches) and, with several
// batches (the result's `earlier`), cache.grad_sum the sum of the others': add_earlier() or a
// GradientSync completes the sum. `ready` goes to the last batch's backward pass.
struct UpdateGradient {
  LossStats stats;
  bool earlier = false;
};
UpdateGradient update_gradient(Transformer& model, Transformer::Cache& cache,
                               std::span<const Batch> batches, std::span<const long> index,
                               long tokens, float label_smoothing, const Rng& update_rng,
                               const Transformer::GradientsReady& ready = {},
                               StepTimes* times = nullptr);
// p->grad += cache.grad_sum for every parameter.
void add_earlier(Transformer& model, const Transformer::Cache& cache);

// The gradient of one update on one process: update_gradient over the whole group (its target
// tokens, batch k drawing from dropout_rng.fork(k)) with the sum completed, then dropout_rng
// advanced once. Returns the summed loss statistics; times (if given) accumulates the seconds
// of each phase.
LossStats forward_backward(Transformer& model, Transformer::Cache& cache,
                           std::span<const Batch> group, float label_smoothing, Rng& dropout_rng,
                           StepTimes* times = nullptr);

}  // namespace spotlight
