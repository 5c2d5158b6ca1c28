// search.h — translation of token sequences with a Transformer: greedy or beam search (greedy.h,
// beam.h: algorithms over a StepModel) on TransformerStepModel, the glue that puts the model
// (encoder run once, decoder with its KV cache) behind StepModel; the sentences sorted by length
// into batches of at most decode.batch_size (similar lengths waste less padding and finish
// together), results in input order; and the length rules of decoding, in one place.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "spotlight/config.h"
#include "spotlight/decode/beam.h"
#include "spotlight/decode/greedy.h"
#include "spotlight/decode/step_model.h"
#include "spotlight/model/transformer.h"
#include "spotlight/parallel.h"

namespace spotlight {

class TransformerStepModel : public StepModel {
 public:
  explicit TransformerStepModel(const Transformer& model) : model_(model) {}

  // Encodes the sources (token ids without EOS; EOS is appended) and prepares to decode at most
  // `capacity` tokens per row, one row per source (expand() makes room for beams).
  void start(const std::vector<std::vector<int>>& sources, long capacity);

  long rows() const override { return state_.rows(); }
  SpecialPieces specials() const override {
    return {model_.cfg.pad_id, model_.cfg.bos_id, model_.cfg.eos_id};
  }
  long output_size() const override { return model_.output_size(); }
  int piece(long column) const override { return model_.output().piece(column); }
  void step(std::span<const int> pieces, Tensor& logprobs) override;
  // From the logits (Transformer::step_logits): per row its log Σ e^x, then its best columns.
  void step_top(std::span<const int> pieces, const TopRequest& request, RowTop& top) override;
  void select(std::span<const int> rows) override { state_.select(rows); }
  void expand(long copies) override { state_.expand(copies); }

 private:
  const Transformer& model_;
  Transformer::Cache cache_;
  Transformer::DecodeState state_;
  std::vector<int> src_, src_len_;
};

// The length rules. A source holds at most max_positions − 1 pieces (its EOS takes the last
// position; longer ones are cut). An output of a source of n pieces holds at most
// a·(n + 1) + b pieces (max_output_length; the source counts its EOS), capped by the positions
// the search feeds (output_limit_cap): greedy feeds positions 0 … limit − 1, beam also position
// `limit` (the step where EOS is forced).
inline long max_source_pieces(const ModelConfig& m) { return m.max_positions - 1; }
enum class Search { greedy, beam };
inline long output_limit_cap(const ModelConfig& m, Search s) {
  return s == Search::greedy ? m.max_positions : m.max_positions - 1;
}

struct DecodeBatch {
  std::vector<std::vector<int>> sources;  // token ids without EOS
  std::vector<long> limits;               // max_output_length of each source
  long max_limit = 0;
};

// The output limit for a source of n tokens: a·(n + 1) + b (the source counts its EOS).
inline long max_output_length(const DecodeConfig& d, long source_tokens) {
  return std::max(
      1L, static_cast<long>(d.max_len_a * static_cast<double>(source_tokens + 1)) + d.max_len_b);
}

// decode(const DecodeBatch&, int worker) returns one R per sentence of the batch, in batch
// order. Limits are capped at max_limit_cap (output_limit_cap: the positions the model has room
// for). With workers > 1 that many batches are decoded at once (run_workers: whole batches in
// parallel, each on one thread); `worker` (0 … workers − 1) names the decoder state a call may
// use, never used by two calls at once. The batches are the same whatever the workers.
template <class R, class Decode>
std::vector<R> decode_in_batches(const std::vector<std::vector<int>>& sources,
                                 const DecodeConfig& d, long max_limit_cap, Decode&& decode,
                                 int workers = 1) {
  std::vector<size_t> order(sources.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sources[a].size() < sources[b].size(); });
  const size_t bs = static_cast<size_t>(std::max(1L, d.batch_size));
  std::vector<DecodeBatch> batches((order.size() + bs - 1) / bs);
  for (size_t k = 0; k < order.size(); k += bs) {
    DecodeBatch& batch = batches[k / bs];
    for (size_t i = k; i < std::min(order.size(), k + bs); ++i) {
      batch.sources.push_back(sources[order[i]]);
      batch.limits.push_back(std::min(
          max_limit_cap, max_output_length(d, static_cast<long>(sources[order[i]].size()))));
      batch.max_limit = std::max(batch.max_limit, batch.limits.back());
    }
  }
  std::vector<R> out(sources.size());
  run_workers(workers, static_cast<long>(batches.size()), [&](int w, long j) {
    auto results = decode(batches[static_cast<size_t>(j)], w);
    const size_t k = static_cast<size_t>(j) * bs;
    for (size_t i = 0; i < results.size(); ++i) out[order[k + i]] = std::move(results[i]);
  });
  return out;
}

// Greedy translation of token sequences in batches of d.batch_size sentences, `workers` batches
// at once (decode_in_batches).
std::vector<Hypothesis> greedy_translate(const Transformer& model,
                                         const std::vector<std::vector<int>>& sources,
                                         const DecodeConfig& d, int workers = 1);

// Beam translation of token sequences in batches of d.batch_size sentences with d.beam and
// d.alpha and d.patience; per sentence the `nbest` best hypotheses, in input order. d.beam = 1
// gives greedy's tokens (the score also counts EOS when the limit forced it; greedy's does not).
// `workers` batches at once (decode_in_batches).
std::vector<std::vector<Hypothesis>> beam_translate(const Transformer& model,
                                                    const std::vector<std::vector<int>>& sources,
                                                    const DecodeConfig& d, long nbest = 1,
                                                    int workers = 1);

}  // namespace spotlight
