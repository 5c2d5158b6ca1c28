// fake_step_model.h — a StepModel driven by a hand-written table, so search can be tested
// without a network: the log-probabilities of a row's next token are a fixed function of
// (sentence, prefix), the prefix being every token the row has been fed, BOS first. The model
// tracks each row's prefix through select(), rejects what search must never feed (a wrong
// number of tokens, pad, BOS after the start) and records how many rows every step saw, so tests
// can watch finished sentences leave the batch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/decode/step_model.h"
#include "spotlight/rng.h"

namespace spotlight::testing {

// Next-token log-probabilities over the output columns [V′] of sentence `s` after `prefix`
// (BOS first).
using NextTokenTable = std::function<std::vector<float>(long s, const std::vector<int>& prefix)>;

// A random but fixed table: the logits of (seed, sentence, prefix) are V uniforms in
// [0, spread) drawn from an Rng seeded by a hash of that key, plus eos_bias on EOS's logit;
// the log-probabilities are their log-softmax.
inline NextTokenTable random_table(uint64_t seed, long vocab, int eos_id, float eos_bias = 0.0f,
                                   float spread = 4.0f) {
  return [=](long s, const std::vector<int>& prefix) {
    uint64_t h = seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(s);
    for (int t : prefix) h = (h ^ static_cast<uint64_t>(t + 1)) * 0x100000001b3ULL;
    Rng rng(h);
    std::vector<double> logit(static_cast<size_t>(vocab));
    double top = -1e30;
    for (long v = 0; v < vocab; ++v) {
      logit[static_cast<size_t>(v)] = spread * rng.uniform() + (v == eos_id ? eos_bias : 0.0f);
      top = std::max(top, logit[static_cast<size_t>(v)]);
    }
    double sum = 0.0;
    for (double l : logit) sum += std::exp(l - top);
    std::vector<float> lp(static_cast<size_t>(vocab));
    for (long v = 0; v < vocab; ++v)
      lp[static_cast<size_t>(v)] =
          static_cast<float>(logit[static_cast<size_t>(v)] - top - std::log(sum));
    return lp;
  };
}

class FakeStepModel : public StepModel {
 public:
  // `sentences` sentences, each repeated `copies` times (row r belongs to sentence r / copies).
  // Output column c scores piece pieces[c] (empty: piece c), as a model with a shortlist does.
  FakeStepModel(NextTokenTable table, long vocab, long sentences, long copies,
                SpecialPieces specials, std::vector<int> pieces = {})
      : table_(std::move(table)), vocab_(vocab), sp_(specials), pieces_(std::move(pieces)) {
    for (long r = 0; r < sentences * copies; ++r) sentence_.push_back(r / copies);
    prefix_.resize(sentence_.size());
  }

  long rows() const override { return static_cast<long>(sentence_.size()); }
  SpecialPieces specials() const override { return sp_; }
  long output_size() const override {
    return pieces_.empty() ? vocab_ : static_cast<long>(pieces_.size());
  }
  int piece(long column) const override {
    return pieces_.empty() ? static_cast<int>(column) : pieces_[static_cast<size_t>(column)];
  }

  // The table's row for the prefix, over the output columns.
  void step(std::span<const int> tokens, Tensor& logprobs) override {
    require(static_cast<long>(tokens.size()) == rows(), "FakeStepModel: one token per row");
    rows_per_step.push_back(rows());
    logprobs.resize({rows(), output_size()});
    for (size_t r = 0; r < sentence_.size(); ++r) {
      const int tok = tokens[r];
      require(tok >= 0 && tok < vocab_ && tok != sp_.pad, "FakeStepModel: fed a bad token");
      require((tok == sp_.bos) == prefix_[r].empty(), "FakeStepModel: BOS must come first, once");
      prefix_[r].push_back(tok);
      const std::vector<float> lp = table_(sentence_[r], prefix_[r]);
      require(static_cast<long>(lp.size()) == output_size(),
              "FakeStepModel: table row of wrong size");
      std::copy(lp.begin(), lp.end(), logprobs.view().row(static_cast<long>(r)));
    }
  }

  void select(std::span<const int> rows) override {
    ++selects;
    std::vector<long> sentence;
    std::vector<std::vector<int>> prefix;
    for (int r : rows) {
      require(r >= 0 && r < this->rows(), "FakeStepModel: select of a row that does not exist");
      sentence.push_back(sentence_[static_cast<size_t>(r)]);
      prefix.push_back(prefix_[static_cast<size_t>(r)]);
    }
    sentence_.swap(sentence);
    prefix_.swap(prefix);
  }

  // Sentence of row r, and the tokens it has been fed (BOS first).
  long sentence(long r) const { return sentence_[static_cast<size_t>(r)]; }
  const std::vector<int>& prefix(long r) const { return prefix_[static_cast<size_t>(r)]; }

  std::vector<long> rows_per_step;  // rows() at every step, in order
  long selects = 0;                 // select() calls

 private:
  NextTokenTable table_;
  long vocab_;
  SpecialPieces sp_;
  std::vector<int> pieces_;
  std::vector<long> sentence_;            // per row
  std::vector<std::vector<int>> prefix_;  // per row
};

}  // namespace spotlight::testing
