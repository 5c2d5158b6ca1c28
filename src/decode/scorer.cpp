#include "spotlight/decode/scorer.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "spotlight/check.h"
#include "spotlight/kernels.h"

namespace spotlight {

std::vector<SentenceScore> score_pairs(const Transformer& model,
                                       const std::vector<std::vector<int>>& src,
                                       const std::vector<std::vector<int>>& tgt, long max_tokens) {
  require(src.size() == tgt.size(), "score: " + std::to_string(src.size()) + " sources but " +
                                        std::to_string(tgt.size()) + " targets");
  std::vector<size_t> order(src.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return tgt[a].size() < tgt[b].size(); });
  std::vector<SentenceScore> out(src.size());
  Transformer::Cache c;
  const ModelConfig& m = model.cfg;
  for (size_t k = 0; k < order.size();) {
    // As many sentences as fit in max_tokens padded tokens (at least one).
    std::vector<std::vector<int>> bs, bt;
    long s_max = 0, t_max = 0;
    size_t end = k;
    for (; end < order.size(); ++end) {
      const long s = static_cast<long>(src[order[end]].size()) + 1;
      const long t = static_cast<long>(tgt[order[end]].size()) + 1;
      const long n = static_cast<long>(bs.size()) + 1;
      if (!bs.empty() && n * std::max(std::max(s_max, s), std::max(t_max, t)) > max_tokens) break;
      s_max = std::max(s_max, s);
      t_max = std::max(t_max, t);
      bs.push_back(src[order[end]]);
      bt.push_back(tgt[order[end]]);
    }
    const Batch b = make_batch(bs, bt, m.pad_id, m.bos_id, m.eos_id);
    model.forward(b, c, nullptr);
    log_softmax(c.logits.view());
    for (size_t i = 0; i < bs.size(); ++i) {
      SentenceScore& s = out[order[k + i]];
      for (long t = 0; t < b.tgt_len[i]; ++t) {
        const long row = static_cast<long>(i) * b.tgt_len_max + t;
        const long col = model.output().column(b.tgt_out[static_cast<size_t>(row)]);
        s.logprob += col >= 0 ? c.logits.view().at(row, col)  // a piece outside the shortlist
                              : -std::numeric_limits<float>::infinity();  // has probability 0
      }
      s.tokens = b.tgt_len[i];
    }
    k = end;
  }
  return out;
}

}  // namespace spotlight
