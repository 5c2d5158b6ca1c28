#include "spotlight/decode/greedy.h"

#include <algorithm>
#include <numeric>

#include "spotlight/check.h"

namespace spotlight {

std::vector<Hypothesis> greedy_search(StepModel& model, const std::vector<long>& max_len) {
  const long n = model.rows();
  require(static_cast<long>(max_len.size()) == n, "greedy_search: one length limit per row");
  const SearchColumns cols(model);
  const long width = static_cast<long>(cols.piece.size());
  std::vector<Hypothesis> out(static_cast<size_t>(n));
  std::vector<int> alive(static_cast<size_t>(n));  // original row of each remaining row
  std::iota(alive.begin(), alive.end(), 0);
  std::vector<int> pieces(static_cast<size_t>(n), model.specials().bos), keep, next;
  Tensor logprobs;
  for (long t = 0; !alive.empty(); ++t) {
    model.step(pieces, logprobs);
    keep.clear();
    next.clear();
    for (size_t r = 0; r < alive.size(); ++r) {
      const float* lp = logprobs.view().row(static_cast<long>(r));
      long best = -1;  // a column; ties go to the lower column, i.e. the lower piece id
      for (long v = 0; v < width; ++v)
        if (!cols.banned[static_cast<size_t>(v)] && (best < 0 || lp[v] > lp[best])) best = v;
      Hypothesis& h = out[static_cast<size_t>(alive[r])];
      h.score += lp[best];
      if (best == cols.eos) continue;
      const int piece = cols.piece[static_cast<size_t>(best)];
      h.tokens.push_back(piece);
      if (t + 1 >= max_len[static_cast<size_t>(alive[r])]) continue;  // length limit reached
      keep.push_back(static_cast<int>(r));
      next.push_back(piece);
    }
    if (keep.size() < alive.size()) {
      std::vector<int> still;
      for (int r : keep) still.push_back(alive[static_cast<size_t>(r)]);
      alive.swap(still);
      if (!alive.empty()) model.select(keep);
    }
    pieces.swap(next);
  }
  return out;
}

}  // namespace spotlight
