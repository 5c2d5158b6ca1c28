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
// The gradient of one update: zeroes the gradients, then forward, projection and
// label-smoothed loss, and backward for each batch of the group, the loss being the mean over
// all their target tokens. Dropout draws from dropout_rng. Returns the summed loss
// statistics; times (if given) accumulates the seconds of each phase.
LossStats forward_backward(Transformer& model, Transformer::Cache& cache,
                           std::span<const Batch> group, float label_smoothing, Rng& dropout_rng,
                           StepTimes* times = nullptr);

}  // namespace spotlight
