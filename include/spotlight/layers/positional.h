// positional.h — fixed sinusoidal positions (Vaswani et al.), interleaved as in PyTorch
// tutorials and tensor2tensor: pe[p, 2i] = sin(p·w_i), pe[p, 2i+1] = cos(p·w_i),
// w_i = 10000^(−2i/D). Added to the scaled embeddings; no parameters, so no backward.
#pragma once

#include "spotlight/tensor.h"

namespace spotlight {

struct SinusoidalPositions {
  Tensor table;  // [P, D]

  SinusoidalPositions() = default;
  SinusoidalPositions(long max_positions, long dim);
  long max_positions() const { return table.rows(); }
  // x [B·T, D] += pe[offset + t] on row b·T + t.
  void add(Tensor& x, long batch, long len, long offset = 0) const;
};

}  // namespace spotlight
