#include "spotlight/decode/step_model.h"

#include "spotlight/check.h"
#include "spotlight/parallel.h"

namespace spotlight {

SearchColumns::SearchColumns(const StepModel& model) {
  const SpecialPieces sp = model.specials();
  const long n = model.output_size();
  piece.resize(static_cast<size_t>(n));
  banned.resize(static_cast<size_t>(n));
  for (long c = 0; c < n; ++c) {
    const int p = model.piece(c);
    piece[static_cast<size_t>(c)] = p;
    banned[static_cast<size_t>(c)] = p == sp.pad || p == sp.bos;
    if (p == sp.eos) eos = c;
  }
}

void top_of_row(const float* x, long n, float shift, const TopRequest& request, long r,
                RowTop& top) {
  const bool forced = !request.forced.empty() && request.forced[static_cast<size_t>(r)] != 0;
  if (!forced) {
    row_top(x, n, shift, request.banned, top, r);
    return;
  }
  int& size = top.size[static_cast<size_t>(r)];
  size = 0;
  if (request.eos < 0 || top.count < 1) return;
  top.value[static_cast<size_t>(r * top.count)] = x[request.eos] - shift;
  top.column[static_cast<size_t>(r * top.count)] = static_cast<int>(request.eos);
  size = 1;
}

void StepModel::step_top(std::span<const int> pieces, const TopRequest& request, RowTop& top) {
  step(pieces, step_top_logprobs_);
  const MatView lp = step_top_logprobs_.view();
  require(request.forced.empty() || static_cast<long>(request.forced.size()) == lp.rows,
          "step_top: one forced flag per row expected");
  top.resize(lp.rows, request.count);
  parallel_for(lp.rows, std::max(1L, 16384 / std::max(1L, lp.cols)), [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) top_of_row(lp.row(r), lp.cols, 0.0f, request, r, top);
  });
}

}  // namespace spotlight
