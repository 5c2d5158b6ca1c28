#include "spotlight/decode/greedy.h"

#include <algorithm>
#include <numeric>

#include "spotlight/check.h"

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

long max_output_length(const DecodeConfig& d, long source_tokens) {
  return std::max(1L, static_cast<long>(d.max_len_a * static_cast<double>(source_tokens + 1)) +
                          d.max_len_b);
}

std::vector<Hypothesis> greedy_translate(const Transformer& model,
                                         const std::vector<std::vector<int>>& sources,
                                         const DecodeConfig& d) {
  std::vector<size_t> order(sources.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return sources[a].size() < sources[b].size();
  });
  std::vector<Hypothesis> out(sources.size());
  TransformerStepModel stepper(model);
  const size_t bs = static_cast<size_t>(std::max(1L, d.batch_size));
  for (size_t k = 0; k < order.size(); k += bs) {
    std::vector<std::vector<int>> batch;
    std::vector<long> limits;
    long capacity = 1;
    for (size_t i = k; i < std::min(order.size(), k + bs); ++i) {
      batch.push_back(sources[order[i]]);
      limits.push_back(max_output_length(d, static_cast<long>(sources[order[i]].size())));
      capacity = std::max(capacity, limits.back());
    }
    stepper.start(batch, capacity);
    auto hyps = greedy_search(stepper, limits, model.cfg.bos_id, model.cfg.eos_id,
                              model.cfg.pad_id);
    for (size_t i = 0; i < hyps.size(); ++i) out[order[k + i]] = std::move(hyps[i]);
  }
  return out;
}

}  // namespace spotlight
