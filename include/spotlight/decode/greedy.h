// greedy.h — batched greedy search over a StepModel, and greedy translation of a list of
// sentences (sorted by length into batches for speed, returned in input order).
#pragma once

#include <vector>

#include "spotlight/config.h"
#include "spotlight/decode/batching.h"
#include "spotlight/decode/step_model.h"

namespace spotlight {

struct Hypothesis {
  std::vector<int> tokens;  // without BOS and EOS
  double score = 0.0;       // Σ log p of the tokens and the final EOS
};

// Decodes model.rows() rows from BOS: each step takes every row's most probable token (never
// pad or BOS); a row ends at EOS or after max_len[r] tokens, and finished rows leave the batch.
std::vector<Hypothesis> greedy_search(StepModel& model, const std::vector<long>& max_len,
                                      int bos_id, int eos_id, int pad_id);

// Greedy translation of token sequences in batches of d.batch_size sentences.
std::vector<Hypothesis> greedy_translate(const Transformer& model,
                                         const std::vector<std::vector<int>>& sources,
                                         const DecodeConfig& d);

}  // namespace spotlight
