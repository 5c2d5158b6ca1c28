// step_model.h — the one interface between search (greedy, beam) and a model: feed one token
// per row, get log-probabilities of the next; drop or reorder rows. Tests drive search with a
// hand-written table through it; TransformerStepModel puts the real model (encoder run once,
// decoder with its KV cache) behind it.
#pragma once

#include <span>
#include <vector>

#include "spotlight/model/transformer.h"

namespace spotlight {

class StepModel {
 public:
  virtual ~StepModel() = default;
  virtual long rows() const = 0;
  virtual long vocab_size() const = 0;
  // tokens [rows] (BOS at the first step) → logprobs [rows, V] for the next token.
  virtual void step(std::span<const int> tokens, Tensor& logprobs) = 0;
  // Keeps only these rows, in this order.
  virtual void select(std::span<const int> rows) = 0;
  // Repeats every row `copies` times in place: row r becomes rows r·copies … r·copies+copies−1
  // (beam search's first step runs one row per sentence, then makes room for the beams).
  virtual void expand(long copies) {
    std::vector<int> rows;
    for (long r = 0; r < this->rows(); ++r)
      for (long c = 0; c < copies; ++c) rows.push_back(static_cast<int>(r));
    select(rows);
  }
};

class TransformerStepModel : public StepModel {
 public:
  explicit TransformerStepModel(const Transformer& model) : model_(model) {}

  // Encodes the sources (token ids without EOS; EOS is appended) and prepares to decode at most
  // `capacity` tokens per row, one row per source (expand() makes room for beams).
  void start(const std::vector<std::vector<int>>& sources, long capacity);

  long rows() const override { return state_.batch; }
  long vocab_size() const override { return model_.cfg.vocab_size; }
  void step(std::span<const int> tokens, Tensor& logprobs) override;
  void select(std::span<const int> rows) override { state_.select(rows); }
  void expand(long copies) override { state_.expand(copies); }

 private:
  const Transformer& model_;
  Transformer::Cache cache_;
  DecoderState state_;
  std::vector<int> src_, src_len_;
};

}  // namespace spotlight
