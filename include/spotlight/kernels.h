// kernels.h — the row kernels of the model, each a forward/backward pair on MatViews:
// masked scaled softmax (attention), layer norm, ReLU/GELU, dropout, residual adds and biases.
// Input gradients are overwritten; parameter gradients (dgamma, dbeta, dbias) accumulate.
// Rows are split over the compute threads (parallel.h); column reductions (dgamma, dbeta,
// dbias) are split by columns, so every result is the same for any thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "spotlight/rng.h"
#include "spotlight/tensor.h"

namespace spotlight {

// scores [Tq, Tk] → probs in place, row by row: row i becomes softmax(scale · scores) over its
// first n_i = min(keys, Tk) entries — with `causal` at most i + 1 of them (query i sees no
// later key) — and exactly 0 beyond (a row with no visible key becomes all zeros). Never a −inf
// tensor: layers/attention.h's Keys says which keys a query block sees.
void masked_softmax(const MatView& scores, float scale, long keys, bool causal);
// dprobs → dscores in place: dscores = scale · p ⊙ (dp − Σ_j p·dp). Masked keys have p = 0, so
// their gradient is 0.
void masked_softmax_backward(const MatView& probs, const MatView& dprobs, float scale);

// Each row of x becomes log(softmax(row)) in place (decoding).
void log_softmax(const MatView& x);
// The amount log_softmax subtracts from a row of n ≥ 1 values: its log Σ e^x, computed the
// same way, so x[j] − row_log_sum_exp(x, n) is bit for bit what log_softmax writes.
float row_log_sum_exp(const float* x, long n);

// Per row, the best entries of a matrix: a search's candidates without writing the matrix out.
struct RowTop {
  long count = 0;             // entries asked for per row
  std::vector<float> value;   // [rows · count] row r's entries at r·count, best first
  std::vector<int> column;    // [rows · count]
  std::vector<int> size;      // [rows] entries filled (fewer than count if a row has fewer)
  void resize(long rows, long entries);
  const float* values(long r) const { return value.data() + r * count; }
  const int* columns(long r) const { return column.data() + r * count; }
};
// Row r of `top` := the `top.count` largest x[j] − shift over j < n with skip[j] == 0 (skip
// may be null), largest first, ties to the lower j; NaN never enters. Reads the row once,
// skipping blocks of 32 that cannot enter once the list is full.
void row_top(const float* x, long n, float shift, const char* skip, RowTop& top, long r);

// y = (x − mean) · rstd · gamma + beta per row, biased variance. mean, rstd: [rows].
void layer_norm(const MatView& x, const float* gamma, const float* beta, float eps,
                const MatView& y, float* mean, float* rstd);
// dx overwritten; dgamma, dbeta accumulate.
void layer_norm_backward(const MatView& x, const float* gamma, const float* mean, const float* rstd,
                         const MatView& dy, const MatView& dx, float* dgamma, float* dbeta);

enum class Activation { relu, gelu };  // gelu: exact (erf) form, as PyTorch's default
// y = f(x) element-wise; y may alias x.
void activation(Activation a, const MatView& x, const MatView& y);
// dx = dy · f'(x), x the activation's input. dx may alias dy.
void activation_backward(Activation a, const MatView& x, const MatView& dy, const MatView& dx);

// Which elements dropout kept — one byte each, a quarter of a float mask — and their scale.
struct DropoutMask {
  std::vector<uint8_t> keep;  // [x.size()] 1 = kept, 0 = dropped; empty when dropout is off
  float scale = 1.0f;         // 1 / (1 − p), the kept elements' factor
  long size() const { return static_cast<long>(keep.size()); }
  void clear() { keep.clear(); }  // (capacity kept: no allocation next step)
};

// Inverted dropout: y = x ⊙ keep / (1 − p), each element dropped with probability p. Draws one
// number from rng; element i's coin is a hash of it and i (32 bits), so the mask is the same for
// any thread count. With p == 0 the mask is left empty and y = x. y may alias x.
void dropout(float p, Rng& rng, const Tensor& x, DropoutMask& mask, Tensor& y);
// dx = dy ⊙ keep · scale (dx = dy when mask is empty). dx may alias dy.
void dropout_backward(const DropoutMask& mask, const Tensor& dy, Tensor& dx);

// y = a + b (y may alias either); y += x.
void add(const Tensor& a, const Tensor& b, Tensor& y);
void add_to(Tensor& y, const Tensor& x);
// y[i, :] += bias for every row; dbias += Σ_i dy[i, :].
void add_bias(const MatView& y, const float* bias);
void add_bias_backward(const MatView& dy, float* dbias);

}  // namespace spotlight
