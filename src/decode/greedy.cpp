#include "spotlight/decode/greedy.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "spotlight/check.h"

namespace spotlight {

std::vector<Hypothesis> greedy_search(StepModel& model, const std::vector<long>& max_len) {
  const long n = model.rows();
  require(static_cast<long>(max_len.size()) == n, "greedy_search: one length limit per row");
  const SearchColumns cols(model);
  std::vector<Hypothesis> out(static_cast<size_t>(n));
  std::vector<int> alive(static_cast<size_t>(n));  // original row of each remaining row
  std::iota(alive.begin(), alive.end(), 0);
  std::vector<int> pieces(static_cast<size_t>(n), model.specials().bos), keep, next;
  long first_allowed = 0;
  while (first_allowed + 1 < static_cast<long>(cols.banned.size()) &&
         cols.banned[static_cast<size_t>(first_allowed)] != 0)
    ++first_allowed;
  RowTop top;  // each row's best column: ties go to the lower column, i.e. the lower piece id
  for (long t = 0; !alive.empty(); ++t) {
    model.step_top(pieces, {1, cols.banned.data(), {}, cols.eos}, top);
    require(static_cast<long>(top.size.size()) == static_cast<long>(alive.size()),
            "greedy_search: the model returned candidates of the wrong shape");
    keep.clear();
    next.clear();
    for (size_t r = 0; r < alive.size(); ++r) {
      // No column at all only if every one is NaN: the first unbanned one then, as before.
      const long best = top.size[r] > 0 ? top.columns(static_cast<long>(r))[0] : first_allowed;
      Hypothesis& h = out[static_cast<size_t>(alive[r])];
      h.score += top.size[r] > 0 ? top.values(static_cast<long>(r))[0]
                                 : std::numeric_limits<float>::quiet_NaN();
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
