// attention.h — the one multi-head attention of the model. It serves encoder self-attention
// (kv = x, padding), decoder causal self-attention (kv = x, causal) and decoder cross-attention
// (kv = encoder memory, padding), in training and in decoding, where keys and values sit in a
// KVCache (the memory's) or a StepCache (the tokens decoded so far); only the key/value source
// and the Keys description differ.
//
//   q = xq·Wqᵀ + bq   k = xkv·Wkᵀ + bk   v = xkv·Wvᵀ + bv          [N, D], heads = column blocks
//   for each sentence b and head h:
//     P_bh   = masked_softmax(q_bh · k_bhᵀ / sqrt(Dh))               [Tq, Tk]
//     ctx_bh = dropout(P_bh) · v_bh                                  [Tq, Dh]
//   y = ctx·Woᵀ + bo
//
// Rows of xq are B sentences of Tq tokens, rows of xkv B sentences of Tk tokens (b-major).
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "spotlight/kernels.h"
#include "spotlight/layers/linear.h"

namespace spotlight {

// The keys a block of queries sees, described once for training and decoding. Query block b
// (b < B: a sentence, or in decoding the beams of one sentence) reads rows
// [blk·stride, blk·stride + len) of k and v, blk = block[b]; query i of it sees the first
// lengths[b] of those (the rest is padding), and with `causal` none after its own position.
// Training uses the defaults (block[b] = b, stride = len = k.rows()/B); decoding reads a
// KVCache with room for `stride` tokens filled up to `len`, and the beams of a sentence share
// their sentence's memory block, so reordering beams moves no memory. A decoding step's
// self-attention reads a StepCache, whose rows are scattered: `gather` names the row of k and v
// that holds key j of block b (one query per block only).
struct Keys {
  std::span<const int> lengths;  // [B] real (unpadded) keys per block; empty: all of them
  bool causal = false;           // query i sees keys j ≤ i only (the decoder in training)
  std::span<const int> block;    // [B] the key block of each query block; empty: block[b] = b
  long stride = -1;              // rows per key block; < 0: k.rows() / B
  long len = -1;                 // keys stored per block; < 0: stride
  std::span<const int> gather;   // [B·stride] if given: key j of block b is row gather[b·stride + j]

  // The first lengths[b] keys of each block (padding after them), with or without the causal
  // limit.
  static Keys padded(std::span<const int> lengths) {
    Keys k;
    k.lengths = lengths;
    return k;
  }
  static Keys causal_padded(std::span<const int> lengths) {
    Keys k = padded(lengths);
    k.causal = true;
    return k;
  }
  // Keys only points at the lengths: a temporary vector would dangle.
  static Keys padded(std::vector<int>&&) = delete;
  static Keys causal_padded(std::vector<int>&&) = delete;

  // Keys visible to the queries of block b (before the causal limit), of tk stored.
  long visible(long b, long tk) const {
    return lengths.empty() ? tk : std::min<long>(lengths[static_cast<size_t>(b)], tk);
  }
};

// The encoder memory's keys and values, projected once per sentence and attended over by every
// decoding step: one block of `capacity` = S rows per sentence, all filled (`length`).
struct KVCache {
  Tensor k, v;        // [blocks·capacity, D]
  long capacity = 0;  // rows per block
  long length = 0;    // rows filled in every block

  long blocks() const { return capacity > 0 ? k.rows() / capacity : 0; }
};

// A decoder layer's self-attention keys and values of the tokens decoded so far, for rows that
// beams reorder and finished sentences leave. Each step's keys and values are stored once,
// where that step wrote them, and never move: row r's token t is storage row
// path[r·capacity + t], and reordering rows moves only their paths (rows × tokens ints, where
// copying the cached keys and values, as fairseq, CTranslate2 and Marian do, moves
// 2 × rows × tokens × D floats per layer and step).
struct StepCache {
  Tensor k, v;             // [storage rows, D]; the first `stored` are in use
  std::vector<int> path;   // [rows·capacity]: storage row of each row's tokens so far
  long rows = 0;           // rows being decoded
  long capacity = 0;       // tokens per row at most
  long length = 0;         // tokens so far (in every row)
  long stored = 0;         // storage rows in use

  // Empty, for `rows` rows of at most `capacity` tokens each, of width d.
  void start(long rows, long capacity, long d);
  // Token `length` of every row: key and value rows kn, vn [rows, D] (row r for row r).
  void append(const Tensor& kn, const Tensor& vn);
  // Keeps only these rows, in this order (beams reordered, finished sentences dropped, rows
  // repeated to add beams), with their histories.
  void reorder(std::span<const int> rows);

 private:
  std::vector<int> spare_;  // reorder's gather buffer
};

// The attention core's operands: q holds `batch` query blocks (sentences, or in decoding the
// beams of one sentence) of Tq = q.rows()/batch rows; k and v the keys and values, which a Keys
// locates; heads are column blocks of width D/heads.
struct Heads {
  const Tensor& q;
  const Tensor& k;
  const Tensor& v;
  long batch;
  long heads;
};

// What attend() computes, and what its backward reads.
struct Attended {
  Tensor probs;           // [B, H, Tq, Tk] softmax output
  DropoutMask drop_mask;  // [B, H, Tq, Tk] dropout on the probabilities, empty when off
  Tensor attn;            // [B, H, Tq, Tk] probs after dropout, empty when off
  Tensor ctx;             // [B·Tq, D] heads concatenated
};

// What attend_backward() computes: the gradients at q, k and v (overwritten), and its scratch.
struct AttendGrads {
  Tensor dq, dk, dv;  // like q, k, v
  Tensor dprobs;      // [B, H, Tq, Tk] scratch
};

// The attention core shared by training and decoding: ctx = dropout(softmax(q·kᵀ·scale)) · v
// per query block and head, all gemms on column-block views, keys as `keys` says. Dropout (mask
// as in dropout()) is on iff rng is given and dropout_p > 0.
void attend(const Heads& in, const Keys& keys, float dropout_p, Rng* rng, Attended& out);
// Backward of attend over the default Keys layout (training: block b of k holds sentence b);
// dctx [B·Tq, D] is the gradient at out.ctx.
void attend_backward(const Heads& in, const Attended& out, const Tensor& dctx, AttendGrads& g);

struct MultiHeadAttention {
  Linear q_proj, k_proj, v_proj, out_proj;
  long heads = 1;
  float dropout = 0.0f;  // on the attention probabilities (fairseq's attention_dropout)

  // The projections and the core's results (probs, drop_mask, attn; ctx is out_proj's input).
  struct Cache : Attended {
    Tensor q, k, v;  // [B·Tq, D], [B·Tk, D], [B·Tk, D] (a decoding step: the new token's k, v)
    long batch = 0;
  };
  // Backward scratch: nothing in it outlives a call, so every attention of a model can share one
  // (the caller's Workspace holds it).
  struct Scratch {
    Tensor dctx;       // [N, D] gradient at the context
    AttendGrads core;  // the core's gradients and scratch
  };

  MultiHeadAttention() = default;
  // Parameters: name + ".q_proj.weight" etc.
  MultiHeadAttention(const std::string& name, long dim, long heads, float dropout);
  long dim() const { return q_proj.in(); }
  void init(Rng& rng);
  void collect(ParamList& ps);

  // xq [B·Tq, D], xkv [B·Tk, D] → y [B·Tq, D]. Dropout is active iff rng is given.
  void forward(const Tensor& xq, const Tensor& xkv, long batch, const Keys& keys, Cache& c,
               Tensor& y, Rng* rng) const;

  // Decoding (no dropout; c receives q, probs and ctx).
  // An empty self-attention cache for `rows` rows of at most `capacity` tokens.
  void start_cache(long rows, long capacity, StepCache& kv) const;
  // The keys and values of memory [B·S, D] into kv, once per sentence: B blocks of S rows.
  void cache_memory(const Tensor& memory, long batch, KVCache& kv) const;
  // One step of self-attention: x [B, D], one new token per row, enters kv (its key and value
  // appended as token kv.length); y [B, D] attends over every token so far. kv.length grows by
  // one.
  void step(const Tensor& x, StepCache& kv, Cache& c, Tensor& y) const;
  // Queries xq [G·Tq, D] over the cached keys (the memory): query block g reads the cache block
  // keys.block[g] with keys.lengths[g] real keys (stride and len come from the cache).
  void attend_cached(const Tensor& xq, const KVCache& kv, long groups, Keys keys, Cache& c,
                     Tensor& y) const;
  // dxq and dxkv overwritten (for self-attention the caller adds them: explicit fan-out).
  void backward(const Tensor& xq, const Tensor& xkv, const Cache& c, const Tensor& dy, Scratch& s,
                Tensor& dxq, Tensor& dxkv);
};

}  // namespace spotlight
