// attention.h — the one multi-head attention of the model. It serves encoder self-attention
// (kv = x, padding mask), decoder causal self-attention (kv = x, causal mask) and decoder
// cross-attention (kv = encoder memory, padding mask); only the key/value source and the Mask
// differ.
//
//   q = xq·Wqᵀ + bq   k = xkv·Wkᵀ + bk   v = xkv·Wvᵀ + bv          [N, D], heads = column blocks
//   for each sentence b and head h:
//     P_bh   = masked_softmax(q_bh · k_bhᵀ / sqrt(Dh))               [Tq, Tk]
//     ctx_bh = dropout(P_bh) · v_bh                                  [Tq, Dh]
//   y = ctx·Woᵀ + bo
//
// Rows of xq are B sentences of Tq tokens, rows of xkv B sentences of Tk tokens (b-major).
#pragma once

#include <span>

#include "spotlight/kernels.h"
#include "spotlight/layers/linear.h"

namespace spotlight {

// Where the keys and values of query block b (b < B) lie in k and v: rows
// [blk·stride, blk·stride + len) with blk = block[b]. The defaults are training's layout:
// block[b] = b, stride = k.rows()/B, len = stride. Decoding uses the rest: a KV cache with room
// for `stride` tokens filled up to `len`, and the beams of a sentence (one query block of
// `beam` rows) sharing their sentence's memory block, so reordering beams moves no memory.
struct KeyBlocks {
  std::span<const int> block;  // empty: block[b] = b
  long stride = -1;            // < 0: k.rows() / B
  long len = -1;               // < 0: stride
};

// The attention core shared by training and decoding: ctx = dropout(softmax(q·kᵀ·scale)) · v
// per query block (sentence) and head, all gemms on column-block views. q holds B blocks of
// Tq = q.rows()/B rows; keys as `kb` says. probs [B, H, Tq, Tk] receives the softmax; attn the
// dropped-out probabilities (only when dropout is on; mask as in dropout()).
void attend(const Tensor& q, const Tensor& k, const Tensor& v, long batch, long heads,
            const Mask& mask, float dropout_p, Rng* rng, Tensor& probs, DropoutMask& drop_mask,
            Tensor& attn, Tensor& ctx, const KeyBlocks& kb = {});
// Backward of attend: dq, dk, dv overwritten. dprobs [B, H, Tq, Tk] is scratch.
void attend_backward(const Tensor& q, const Tensor& k, const Tensor& v, long batch, long heads,
                     const Tensor& probs, const DropoutMask& drop_mask, const Tensor& attn,
                     const Tensor& dctx, Tensor& dprobs, Tensor& dq, Tensor& dk, Tensor& dv);

struct MultiHeadAttention {
  Linear q_proj, k_proj, v_proj, out_proj;
  long heads = 1;
  float dropout = 0.0f;  // on the attention probabilities (fairseq's attention_dropout)

  struct Cache {
    Tensor q, k, v;    // [B·Tq, D], [B·Tk, D], [B·Tk, D]
    Tensor probs;      // [B, H, Tq, Tk] softmax output
    DropoutMask drop_mask;  // [B, H, Tq, Tk] dropout on the probabilities, empty when off
    Tensor attn;       // [B, H, Tq, Tk] probs after dropout, empty when off
    Tensor ctx;        // [B·Tq, D] heads concatenated (out_proj input)
    long batch = 0;
  };

  MultiHeadAttention() = default;
  // Parameters: name + ".q_proj.weight" etc.
  MultiHeadAttention(const std::string& name, long dim, long heads, float dropout);
  long dim() const { return q_proj.in(); }
  void init(Rng& rng);
  void collect(ParamList& ps);

  // xq [B·Tq, D], xkv [B·Tk, D] → y [B·Tq, D]. Dropout is active iff rng is given.
  void forward(const Tensor& xq, const Tensor& xkv, long batch, const Mask& mask, Cache& c,
               Tensor& y, Rng* rng) const;
  // Decoding: queries xq [B·Tq, D] attend over keys/values already projected by k_proj/v_proj
  // (a KV cache, or the memory's projections), laid out as kb says. No dropout; c receives q,
  // probs and ctx.
  void forward_cached(const Tensor& xq, const Tensor& k, const Tensor& v, long batch,
                      const KeyBlocks& kb, const Mask& mask, Cache& c, Tensor& y) const;
  // dxq and dxkv overwritten (for self-attention the caller adds them: explicit fan-out).
  void backward(const Tensor& xq, const Tensor& xkv, const Cache& c, const Tensor& dy, Tensor& dxq,
                Tensor& dxkv);

 private:
  // Backward scratch shared by every MultiHeadAttention of this thread: they run backward one at a time
  // and keep nothing in it between calls, so one set serves all layers (the model's peak
  // memory holds one set, not one per layer).
  struct Scratch {
    Tensor dctx, dq, dk, dv;  // [N, D]
    Tensor dprobs;            // [B, H, Tq, Tk]
  };
  static Scratch& scratch() {
    static thread_local Scratch s;
    return s;
  }
};

}  // namespace spotlight
