// embedding.h — the one token embedding E [V, D], shared by the encoder input, the decoder
// input and the output projection (tied weights; output_projection.h):
//   lookup:  y[n] = E[id_n] · scale            (scale = sqrt(D))
// Gradients from the three uses all accumulate into E.grad, so the fan-out sum is explicit in
// the order the model calls backward.
#pragma once

#include <span>

#include "spotlight/layers/param.h"
#include "spotlight/rng.h"

namespace spotlight {

struct Embedding {
  Param weight;  // [V, D]
  int pad_id = 0;

  Embedding() = default;
  Embedding(const std::string& name, long vocab, long dim, int pad_id);
  long vocab() const { return weight.value.dim(0); }
  long dim() const { return weight.value.dim(1); }
  float scale() const;
  void init(Rng& rng);  // N(0, D^-1/2), pad row zero
  void collect(ParamList& ps) { ps.push_back(&weight); }

  // ids [N] → y [N, D]. Throws on an id outside [0, V).
  void forward(std::span<const int> ids, Tensor& y) const;
  // E.grad[id_n] += scale · dy[n] for every non-pad id (pad rows get no lookup gradient, as
  // PyTorch's padding_idx).
  void backward(std::span<const int> ids, const Tensor& dy);
};

}  // namespace spotlight
