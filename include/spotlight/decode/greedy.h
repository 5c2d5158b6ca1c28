// greedy.h — batched greedy search over a StepModel (search.h translates with it).
#pragma once

#include <vector>

#include "spotlight/decode/step_model.h"

namespace spotlight {

struct Hypothesis {
  std::vector<int> tokens;  // piece ids, without BOS and EOS
  double score = 0.0;       // Σ log p of the tokens and the final EOS
};

// Decodes model.rows() rows from BOS: each step takes every row's most probable piece (never
// PAD or BOS; ties to the lower id); a row ends at EOS or after max_len[r] pieces, and finished
// rows leave the batch.
std::vector<Hypothesis> greedy_search(StepModel& model, const std::vector<long>& max_len);

}  // namespace spotlight
