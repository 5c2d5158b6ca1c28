// embedding.h — the one token embedding E [V, D], shared by the encoder input, the decoder
// input and the output projection (tied weights):
//   lookup:  y[n] = E[id_n] · scale            (scale = sqrt(D))
//   project: logits = h · Eᵀ                   (no bias)
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

  // h [N, D] → logits [N, V].
  void project(const Tensor& h, Tensor& logits) const;
  // dh = dlogits · E (overwritten), E.grad += dlogitsᵀ · h.
  void project_backward(const Tensor& h, const Tensor& dlogits, Tensor& dh);
  // The same on views (row chunks of h, logits and dh): logits overwritten; dh overwritten, the
  // weight gradient accumulated.
  void project(const MatView& h, const MatView& logits) const;
  void project_backward(const MatView& h, const MatView& dlogits, const MatView& dh);
};

}  // namespace spotlight
