// transformer.h — the encoder–decoder Transformer: one shared Embedding (source, target and
// output projection), sinusoidal positions, Encoder, Decoder, OutputProjection. forward/backward
// for training (logits for a whole Batch); the parameter registry every optimizer and checkpoint
// walks.
//
//   src_x  = dropout(E[src]·√D + pe)      memory = Encoder(src_x)
//   tgt_x  = dropout(E[tgt_in]·√D + pe)   h      = Decoder(tgt_x, memory)
//   logits = h · W′ᵀ                       [B·T, V′]  (output_projection.h: W′ = E or E[pieces])
//
// Output vocabulary (model.output_vocab): "all" scores every piece of the joint vocabulary
// (V′ = V); "target" scores only the pieces that occur on the target side of the training data
// (plus EOS and UNK), a sorted list the trainer sets, and every other piece has probability 0.
// A joint English–French vocabulary spends about a quarter of its pieces on English only; the
// projection, the largest GEMM of a small model, then shrinks by that much. The list is saved
// with the weights as "output_mask" [V] (1 = scored), a float32 buffer like PyTorch's.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "spotlight/layers/embedding.h"
#include "spotlight/layers/output_projection.h"
#include "spotlight/layers/positional.h"
#include "spotlight/model/batch.h"
#include "spotlight/model/decoder.h"
#include "spotlight/model_config.h"

namespace spotlight {

class Transformer {
 public:
  ModelConfig cfg;
  Embedding embed;  // "embed_tokens.weight"
  SinusoidalPositions positions;
  Encoder encoder;  // "encoder.*"
  Decoder decoder;  // "decoder.*"

  struct Cache {
    Tensor src_x, tgt_x;  // [B·S, D], [B·T, D] embedded source and target input, dropped out
    DropoutMask src_mask, tgt_mask;  // their dropout
    Encoder::Cache enc;
    Tensor memory;  // [B·S, D]
    Decoder::Cache dec;
    Tensor h;       // [B·T, D] decoder output
    Tensor logits;  // [B·T, V′] (forward), or one row chunk of them (chunked training loss)
    Tensor dh;      // [B·T, D] gradient at the decoder output
    Tensor out_w, out_dw;  // [V′, D] gathered output weights and their gradient (a shortlist)
    std::vector<int> targets;  // tgt_out as output columns (chunked training loss)
    Workspace ws;              // the layers' shared scratch
    // The summed gradients of an update's earlier batches (update_gradient), shaped as params().
    std::vector<Tensor> grad_sum;
  };

  explicit Transformer(const ModelConfig& cfg);
  Transformer(const Transformer&) = delete;  // the registry points into this object
  Transformer& operator=(const Transformer&) = delete;

  void init(Rng& rng);
  // Every parameter once, in a fixed order (the paper's): embedding, encoder, decoder.
  const ParamList& params() const { return params_; }
  Param& param(const std::string& name);  // throws if absent
  long num_parameters() const;
  void zero_grad();

  // Weights as safetensors (PyTorch names and layouts), written atomically.
  void save_weights(const std::string& path,
                    const std::map<std::string, std::string>& metadata = {}) const;
  // Loads every parameter; the file must hold exactly this model's names and shapes.
  void load_weights(const std::string& path);

  // The output vocabulary (model.output_vocab "target"): sorted, unique piece ids within the
  // vocabulary, EOS included, PAD and BOS excluded; throws otherwise, or if the config's
  // output_vocab is "all". Empty until set: every piece is scored.
  void set_output_ids(std::vector<int> ids);
  const std::vector<int>& output_ids() const { return output_.pieces(); }
  long output_size() const { return output_.size(); }  // V′ (V when every piece is scored)
  // The output projection: scores h against E (or its shortlist's rows); no parameter of its
  // own. Read-only: its pieces are set through set_output_ids, which checks them against the
  // config.
  const OutputProjection& output() const { return output_; }
  // Where a backward through output() accumulates the weight gradient (c.out_dw for a
  // shortlist, E's gradient otherwise), and adding it into E's gradient once the pass is done.
  MatView output_gradient(Cache& c) { return output_.gradient(c.out_dw); }
  void add_output_gradient(const Cache& c) { output_.add_gradient(c.out_dw); }

  // Logits over the output columns for every target position into c.logits [B·T, V′]
  // (output().piece(c) is column c's piece). Dropout is active iff rng is given.
  void forward(const Batch& batch, Cache& c, Rng* rng) const;
  // dlogits [B·T, V′] → every parameter's gradient (accumulated).
  void backward(const Batch& batch, Cache& c, const Tensor& dlogits);
  // forward and backward without the output projection, for training that projects and
  // scores the decoder output in row chunks (projected_loss): forward_hidden leaves
  // the decoder output in c.h [B·T, D]; backward_hidden takes its gradient dh.
  void forward_hidden(const Batch& batch, Cache& c, Rng* rng) const;
  // `ready` (if given) is told during the pass as parameters' gradients become complete, with
  // the registry indices [first, last) of params(): the ranges of gradient_ranges(), in order.
  using GradientsReady = std::function<void(long first, long last)>;
  void backward_hidden(const Batch& batch, Cache& c, const Tensor& dh,
                       const GradientsReady& ready = {});
  // The order in which backward_hidden completes gradients: each decoder layer from the top (the
  // top one with the decoder's final norm), then each encoder layer so, the embedding last. The
  // ranges cover params() once. For overlapping a gradient all-reduce with the backward pass.
  const std::vector<std::pair<long, long>>& gradient_ranges() const { return grad_ranges_; }

  // Decoding state: the decoder's (KV caches, the beams' memory blocks) and the step's scratch,
  // so that a const model can decode.
  struct DecodeState {
    DecoderState decoder;
    Tensor x, h;   // [B, D] the step's embedded input and decoder output
    Tensor out_w;  // a shortlist's output weight [V′, D], gathered once in start()
    Tensor logits;  // [B, V′] step_logits()'s, in float

    long rows() const { return decoder.batch; }
    void select(std::span<const int> rows) { decoder.select(rows); }
    void expand(long copies) { decoder.expand(copies); }
  };

  // Decoding (no dropout). encode: source ids [B·S] with lengths → c.memory [B·S, D].
  void encode(std::span<const int> src, long batch, std::span<const int> src_len, Cache& c) const;
  // Prepares st to decode from c.memory for at most `capacity` tokens per row, one row per
  // sentence (st.expand() makes room for beams, which share their sentence's memory).
  void start(const Cache& c, std::span<const int> src_len, long capacity, DecodeState& st) const;
  // Feeds one token per row (piece ids, BOS first) → log-probabilities of the next token over
  // the output columns [B, V′].
  void step(std::span<const int> tokens, DecodeState& st, Tensor& logprobs) const;
  // The same step up to the logits, handed to consume(r0, r1, logits of rows r0 … r1) instead
  // of written out as log-probabilities: in float all rows at once (consume may split them over
  // the threads); in int8 each chunk of rows of the output projection as it is computed, on
  // the pool thread that computed it, in that thread's buffer (so a search that keeps a few
  // columns per row never sends the [B, V′] scores through memory).
  using LogitRows = std::function<void(long r0, long r1, const MatView& logits)>;
  void step_logits(std::span<const int> tokens, DecodeState& st, const LogitRows& consume) const;

  // int8 decoding (decode.compute_type "int8", blas.h): every linear layer of both stacks and
  // the output projection multiply in int8, their weights quantized per row here, once (the
  // output projection's: the rows of W′ it scores); the embedding lookup, the layer norms and
  // attention's scores and contexts stay float. false: float again. Decoding and scoring only:
  // the quantized copies do not follow later changes of the weights.
  void set_int8(bool on);
  bool int8() const { return int8_; }
  // Decoding and scoring in float: the shortlist's rows of the output layer (W′) gathered once,
  // here, not again by every start() and forward() (a 3 MB copy per batch with the
  // multi30k_en_fr model, 5% of a sentence decoded alone). Like set_int8's copies they do not
  // follow later changes of the weights (load_weights and set_output_ids gather them again);
  // backward refuses a model that keeps them. A no-op when every piece is scored (W′ is E).
  void keep_output_rows();

  // Pieces of forward, public for decoding and tests.
  void embed_tokens(std::span<const int> ids, long batch, long len, long offset, Tensor& x) const;
  static Keys source_keys(const Batch& b) { return Keys::padded(b.src_len); }
  static Keys target_keys(const Batch& b) { return Keys::causal_padded(b.tgt_len); }

 private:
  // A decoding step up to the decoder's output st.h [B, D].
  void step_hidden(std::span<const int> tokens, DecodeState& st) const;
  // logits = h · wᵀ, or in int8 after set_int8 (w unused then); log_softmax'ed in place when
  // asked (int8: each chunk of rows as it is computed, while in cache).
  void project(const MatView& h, const MatView& w, const MatView& logits,
               bool log_probs = false) const;

  OutputProjection output_;
  ParamList params_;
  std::vector<std::pair<long, long>> grad_ranges_;  // see gradient_ranges()
  // W′ for decoding: the kept rows (keep_output_rows), else the state's own gathered copy.
  MatView decoding_weight(const Tensor& gathered) const {
    return output_.weight_as_gathered(keep_rows_ ? output_rows_ : gathered);
  }

  bool int8_ = false;
  std::optional<Int8Matrix> output_int8_;  // W′ quantized (set_int8)
  bool keep_rows_ = false;
  Tensor output_rows_;  // W′ gathered once (keep_output_rows)
};

// Throws with a message naming the problem unless the batch is well formed for this model:
// non-empty, consistent sizes, lengths within [1, padded length], ids within the vocabulary.
void validate_batch(const Batch& b, const ModelConfig& cfg);

// Matrix-multiply FLOPs (2 per multiply-add) of one forward pass over a padded batch of
// `batch` sentences, src_len × tgt_len positions each: projections, attention scores and
// contexts, feed-forward, and the output projection (onto output_size pieces; 0: the whole
// vocabulary). A training step costs 3× this (the backward computes gradients for both inputs
// and weights). Same count as the PyTorch peer's.
double forward_flops(const ModelConfig& c, long batch, long src_len, long tgt_len,
                     long output_size = 0);

}  // namespace spotlight
