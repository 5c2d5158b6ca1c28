// decoder.h — the decoder stack: L layers of [causal self-attention, cross-attention over the
// encoder memory, feed-forward], each inside a Residual block, and (pre-norm only) a final
// LayerNorm. Every layer's cross-attention reads the same memory, so its gradient is the sum
// over layers (accumulated explicitly in backward).
#pragma once

#include <vector>

#include "spotlight/model/encoder.h"

namespace spotlight {

struct DecoderLayer {
  MultiHeadAttention self_attn;
  Residual self_block;  // self_attn_layer_norm
  MultiHeadAttention encoder_attn;
  Residual cross_block;  // encoder_attn_layer_norm
  FeedForward ff;        // fc1, fc2
  Residual ff_block;     // final_layer_norm

  struct Cache {
    Residual::Cache r_self, r_cross, r_ff;
    MultiHeadAttention::Cache self, cross;
    FeedForward::Cache ff;
    Tensor mid1, mid2;  // [N, D] outputs of the self- and cross-attention blocks
  };

  DecoderLayer(const std::string& prefix, const LayerShape& s);
  void init(Rng& rng);
  void collect(ParamList& ps);

  // x, y [B·T, D]; memory [B·S, D]; self_mask causal over target lengths, memory_mask over
  // source lengths.
  void forward(const Tensor& x, const Tensor& memory, long batch, const Mask& self_mask,
               const Mask& memory_mask, Cache& c, Tensor& y, Rng* rng) const;
  // dx overwritten; dmemory accumulates (+=) this layer's cross-attention gradient.
  void backward(const Tensor& x, const Tensor& memory, const Cache& c, const Tensor& dy, Tensor& dx,
                Tensor& dmemory);

 private:
  Tensor dmid1_, dmid2_, dkv_;
};

struct Decoder {
  std::vector<DecoderLayer> layers;
  LayerNorm layer_norm;  // final norm, pre-norm only
  bool final_norm = true;

  struct Cache {
    std::vector<DecoderLayer::Cache> layers;
    std::vector<Tensor> outs;  // [L] × [B·T, D]
    LayerNorm::Cache ln;
  };

  Decoder() = default;
  Decoder(const std::string& prefix, long num_layers, const LayerShape& s);
  void init(Rng& rng);
  void collect(ParamList& ps);

  // x [B·T, D] (embedded target input), memory [B·S, D] → h [B·T, D].
  void forward(const Tensor& x, const Tensor& memory, long batch, const Mask& self_mask,
               const Mask& memory_mask, Cache& c, Tensor& h, Rng* rng) const;
  // dh → dx (overwritten) and dmemory (overwritten: the sum over all layers).
  void backward(const Tensor& x, const Tensor& memory, const Cache& c, const Tensor& dh, Tensor& dx,
                Tensor& dmemory);

 private:
  Tensor dbuf_[2];
};

}  // namespace spotlight
