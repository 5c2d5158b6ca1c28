// loss.h — label-smoothed cross-entropy, defined exactly as PyTorch's
// CrossEntropyLoss(label_smoothing=ε, ignore_index=pad, reduction='sum'):
//   per non-pad row with target y and log-probs lp = log_softmax(logits):
//     loss = (1 − ε)·(−lp_y) + ε·(−Σ_j lp_j / V)        (j over all V classes, pad included)
//   d loss / d logits_j = p_j − (1 − ε)·[j = y] − ε/V
// The training loss is the sum divided by the number of non-pad target tokens (PyTorch's mean).
#pragma once

#include <span>

#include "spotlight/tensor.h"

namespace spotlight {

struct LossStats {
  double loss = 0.0;  // Σ smoothed loss over non-pad rows
  double nll = 0.0;   // Σ −log p(target) (no smoothing)
  long tokens = 0;    // non-pad rows

  LossStats& operator+=(const LossStats& o) {
    loss += o.loss;
    nll += o.nll;
    tokens += o.tokens;
    return *this;
  }
};

// logits [N, V], targets [N]. When dlogits is given it receives grad_scale · d(Σ loss)/d logits
// (pad rows 0); it may be the logits tensor itself, which is then overwritten.
LossStats cross_entropy(const Tensor& logits, std::span<const int> targets, int pad_id,
                        float label_smoothing, float grad_scale, Tensor* dlogits);

}  // namespace spotlight
