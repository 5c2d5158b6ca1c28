// scorer.h — forced decoding: the log-probability the model gives each reference translation,
//   log p(y | x) = Σ_t log softmax(logits_t)[y_t]   over y_1 … y_m EOS,
// exactly the per-token terms of the training loss without label smoothing (its nll).
#pragma once

#include <vector>

#include "spotlight/model/transformer.h"

namespace spotlight {

struct SentenceScore {
  double logprob = 0.0;  // Σ log p over the target tokens and EOS
  long tokens = 0;       // target tokens + EOS
};

// Scores pairs (token ids without BOS/EOS) in batches of about max_tokens padded tokens.
std::vector<SentenceScore> score_pairs(const Transformer& model,
                                       const std::vector<std::vector<int>>& src,
                                       const std::vector<std::vector<int>>& tgt, long max_tokens);

}  // namespace spotlight
