#include "spotlight/decode/greedy.h"

#include <algorithm>
#include <numeric>

#include "spotlight/check.h"
#include "spotlight/decode/batching.h"

namespace spotlight {

std::vector<Hypothesis> greedy_search(StepModel& model, const std::vector<long>& max_len,
                                      int bos_id, int eos_id, int pad_id) {
  const long n = model.rows();
  require(static_cast<long>(max_len.size()) == n, "greedy_search: one length limit per row");
  std::vector<Hypothesis> out(static_cast<size_t>(n));
  std::vector<int> alive(static_cast<size_t>(n));  // original row of each remaining row
  std::iota(alive.begin(), alive.end(), 0);
  std::vector<int> tokens(static_cast<size_t>(n), bos_id), keep, next;
  Tensor logprobs;
  for (long t = 0; !alive.empty(); ++t) {
    model.step(tokens, logprobs);
    keep.clear();
    next.clear();
    for (size_t r = 0; r < alive.size(); ++r) {
      const float* lp = logprobs.view().row(static_cast<long>(r));
      int best = -1;
      for (int v = 0; v < model.vocab_size(); ++v)
        if (v != pad_id && v != bos_id && (best < 0 || lp[v] > lp[best])) best = v;
      Hypothesis& h = out[static_cast<size_t>(alive[r])];
      h.score += lp[best];
      if (best == eos_id) continue;
      h.tokens.push_back(best);
      if (t + 1 >= max_len[static_cast<size_t>(alive[r])]) continue;  // length limit reached
      keep.push_back(static_cast<int>(r));
      next.push_back(best);
    }
    if (keep.size() < alive.size()) {
      std::vector<int> still;
      for (int r : keep) still.push_back(alive[static_cast<size_t>(r)]);
      alive.swap(still);
      if (!alive.empty()) model.select(keep);
    }
    tokens.swap(next);
  }
  return out;
}

std::vector<Hypothesis> greedy_translate(const Transformer& model,
                                         const std::vector<std::vector<int>>& sources,
                                         const DecodeConfig& d) {
  TransformerStepModel stepper(model);
  // Greedy feeds positions 0 … limit−1.
  const long cap = model.cfg.max_positions;
  return decode_in_batches<Hypothesis>(sources, d, cap, [&](const DecodeBatch& b) {
    stepper.start(b.sources, b.max_limit);
    return greedy_search(stepper, b.limits, model.cfg.bos_id, model.cfg.eos_id, model.cfg.pad_id);
  });
}

}  // namespace spotlight
