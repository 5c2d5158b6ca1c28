// encoder.h — the encoder stack: L layers of [self-attention, feed-forward], each inside a
// Residual block, and (pre-norm only) a final LayerNorm. Its output is the "memory" that every
// decoder layer's cross-attention reads.
#pragma once

#include <functional>
#include <vector>

#include "spotlight/layers/attention.h"
#include "spotlight/layers/feed_forward.h"
#include "spotlight/model_config.h"
#include "spotlight/model/residual.h"
#include "spotlight/model/workspace.h"

namespace spotlight {

struct EncoderLayer {
  MultiHeadAttention self_attn;
  Residual self_block;  // self_attn_layer_norm
  FeedForward ff;       // fc1, fc2
  Residual ff_block;    // final_layer_norm

  struct Cache {
    Residual::Cache r_attn, r_ff;
    MultiHeadAttention::Cache attn;
    FeedForward::Cache ff;
    Tensor mid;  // [N, D] output of the attention block
  };

  EncoderLayer(const std::string& prefix, const LayerShape& s);
  void init(Rng& rng) {
    self_attn.init(rng);
    ff.init(rng);
  }
  void collect(ParamList& ps);

  // x, y [B·S, D]; keys: the source lengths.
  void forward(const Tensor& x, long batch, const Keys& keys, Cache& c, Workspace& ws, Tensor& y,
               Rng* rng) const;
  void backward(const Tensor& x, const Cache& c, const Tensor& dy, Workspace& ws, Tensor& dx);

};

struct Encoder {
  std::vector<EncoderLayer> layers;
  LayerNorm layer_norm;  // final norm, pre-norm only
  bool final_norm = true;

  struct Cache {
    std::vector<EncoderLayer::Cache> layers;
    std::vector<Tensor> outs;  // [L] × [B·S, D] output of each layer
    LayerNorm::Cache ln;
  };

  Encoder() = default;
  Encoder(const std::string& prefix, long num_layers, const LayerShape& s);
  void init(Rng& rng);
  void collect(ParamList& ps);

  // x [B·S, D] (embedded source) → memory [B·S, D].
  void forward(const Tensor& x, long batch, const Keys& keys, Cache& c, Workspace& ws,
               Tensor& memory, Rng* rng) const;
  // dmemory → dx (overwritten). layer_done(i), if given, after layer i's gradients are complete
  // (from the top layer down).
  void backward(const Tensor& x, const Cache& c, const Tensor& dmemory, Workspace& ws, Tensor& dx,
                const std::function<void(size_t)>& layer_done = {});
};

}  // namespace spotlight
