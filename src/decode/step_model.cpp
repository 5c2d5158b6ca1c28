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

namespace {
// Row r of top from one row x of n scores minus shift.
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

}  // namespace

void start_top(long rows, const TopRequest& request, RowTop& top) {
  require(request.forced.empty() || static_cast<long>(request.forced.size()) == rows,
          "step_top: one forced flag per row expected");
  top.resize(rows, request.count);
}

void top_of_rows(const MatView& x, Scores scores, long r0, const TopRequest& request,
                 RowTop& top) {
  parallel_for(x.rows, std::max(1L, 16384 / std::max(1L, x.cols)), [&](long a, long b) {
    for (long i = a; i < b; ++i) {
      const float* row = x.row(i);
      const float shift = scores == Scores::logits ? row_log_sum_exp(row, x.cols) : 0.0f;
      top_of_row(row, x.cols, shift, request, r0 + i, top);
    }
  });
}

void StepModel::step_top(std::span<const int> pieces, const TopRequest& request, RowTop& top) {
  step(pieces, step_top_logprobs_);
  start_top(step_top_logprobs_.rows(), request, top);
  top_of_rows(step_top_logprobs_.view(), Scores::logprobs, 0, request, top);
}

}  // namespace spotlight
