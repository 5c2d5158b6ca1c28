// decoder.h — the decoder stack: L layers of [causal self-attention, cross-attention over the
// encoder memory, feed-forward], each inside a Residual block, and (pre-norm only) a final
// LayerNorm. Every layer's cross-attention reads the same memory, so its gradient is the sum
// over layers (accumulated explicitly in backward).
#pragma once

#include <functional>
#include <vector>

#include "spotlight/model/encoder.h"

namespace spotlight {

struct DecoderState;

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

  // x, y [B·T, D]; memory [B·S, D]; self_keys causal over target lengths, memory_keys over
  // source lengths.
  void forward(const Tensor& x, const Tensor& memory, long batch, const Keys& self_keys,
               const Keys& memory_keys, Cache& c, Workspace& ws, Tensor& y, Rng* rng) const;
  // Decoding: one new token per row, x, y [B, D]; its keys/values enter layer i's cache in st.
  void step(const Tensor& x, DecoderState& st, size_t i, Tensor& y) const;
  // dx overwritten; dmemory accumulates (+=) this layer's cross-attention gradient.
  void backward(const Tensor& x, const Tensor& memory, const Cache& c, const Tensor& dy,
                Workspace& ws, Tensor& dx, Tensor& dmemory);

};

// The decoder's state while generating: per layer, a StepCache of the self-attention
// keys/values of every token so far and a KVCache of the cross-attention keys/values of the
// memory (one block per sentence, filled once in start()). Rows come in groups of `group` (the
// beams of one sentence) that share one memory block: reordering beams or dropping finished
// sentences moves the self-attention caches' paths, no keys or values and never the memory.
struct DecoderState {
  long batch = 0;                      // B rows being decoded (sentences, or sentences × beams)
  long group = 1;                      // rows per memory block (the beam size; 1 for greedy)
  long capacity = 0;                   // the longest output allowed (start()'s capacity)
  long length = 0;                     // tokens decoded so far (the next token's position)
  std::vector<int> mem_block;          // [B / group] the memory block each group reads
  std::vector<int> mem_len;            // [B / group] its source length
  std::vector<StepCache> self;         // [L]
  std::vector<KVCache> memory;         // [L]
  std::vector<DecoderLayer::Cache> layers;  // per-layer scratch
  Workspace ws;                             // the layers' shared scratch
  std::vector<Tensor> outs;                 // [L] × [B, D]
  LayerNorm::Cache ln;
  std::vector<int> spare_block, spare_len;  // select()'s buffers for mem_block and mem_len

  // Keeps only these rows, in this order (finished sentences dropped, beams reordered), in
  // groups of new_group rows (0: unchanged). The rows of each new group must all come from one
  // old group (beams stay with their sentence).
  void select(std::span<const int> rows, long new_group = 0);
  // Repeats every row `copies` times in place; each row's copies join its group.
  void expand(long copies);
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
  void forward(const Tensor& x, const Tensor& memory, long batch, const Keys& self_keys,
               const Keys& memory_keys, Cache& c, Workspace& ws, Tensor& h, Rng* rng) const;
  // Decoding: prepares st for `batch` rows over memory [B·S, D] with source lengths src_len,
  // for at most `capacity` output tokens (one row per sentence; st.expand() adds beams).
  void start(const Tensor& memory, long batch, std::span<const int> src_len, long capacity,
             DecoderState& st) const;
  // One token per row: x [B, D] (embedded at position st.length) → h [B, D]; st.length + 1.
  void step(const Tensor& x, DecoderState& st, Tensor& h) const;
  // dh → dx (overwritten) and dmemory (overwritten: the sum over all layers). layer_done(i), if
  // given, after layer i's gradients are complete (from the top layer down).
  void backward(const Tensor& x, const Tensor& memory, const Cache& c, const Tensor& dh,
                Workspace& ws, Tensor& dx, Tensor& dmemory,
                const std::function<void(size_t)>& layer_done = {});
};

}  // namespace spotlight
