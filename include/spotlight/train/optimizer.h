// optimizer.h — Adam (Kingma & Ba, with bias correction, as torch.optim.Adam/AdamW) over the
// model's parameter registry, and global gradient-norm clipping (as clip_grad_norm_).
//   m ← β1·m + (1−β1)·g     v ← β2·v + (1−β2)·g²
//   p ← p − lr·wd·p  (decoupled weight decay, AdamW; 0 by default)
//   p ← p − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)
#pragma once

#include <vector>

#include "spotlight/layers/param.h"

namespace spotlight {

struct AdamConfig {
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-9;
  double weight_decay = 0.0;  // decoupled (AdamW)
};

class Adam {
 public:
  Adam(const ParamList& params, const AdamConfig& cfg);
  // One update of every parameter from its .grad with learning rate lr.
  void step(double lr);
  long steps() const { return t_; }

  // State for checkpoints: moments in registry order, and the step count.
  std::vector<Tensor>& first_moments() { return m_; }
  std::vector<Tensor>& second_moments() { return v_; }
  const std::vector<Tensor>& first_moments() const { return m_; }
  const std::vector<Tensor>& second_moments() const { return v_; }
  void set_steps(long t) { t_ = t; }

 private:
  ParamList params_;
  AdamConfig cfg_;
  std::vector<Tensor> m_, v_;
  long t_ = 0;
};

// An exponential moving average of the weights (Polyak averaging; Marian's
// exponential-smoothing, fairseq's --ema-decay). After update t (1-based):
//   e ← d_t·e + (1 − d_t)·p,   d_t = min(decay, (1 + t) / (10 + t))
// the warm-up keeping early averages from clinging to the random initialisation. It starts at
// the current weights. swap() exchanges the averaged and the live weights inside the model
// (pointer swaps), so validation and checkpoints see the average and training the live ones.
class WeightAverage {
 public:
  WeightAverage(const ParamList& params, double decay);
  void update(long t);
  void swap();
  double decay_at(long t) const;
  // The averaged weights in registry order (the live ones while swapped in).
  std::vector<Tensor>& weights() { return avg_; }

 private:
  ParamList params_;
  double decay_;
  std::vector<Tensor> avg_;
};

// The L2 norm of all gradients together.
double grad_norm(const ParamList& params);
// Scales all gradients by max_norm / (norm + 1e-6) when their norm exceeds max_norm
// (max_norm <= 0: no clipping). Returns the norm before clipping.
double clip_grad_norm(const ParamList& params, double max_norm);

}  // namespace spotlight
