// step_model.h — the one interface between search (greedy, beam) and a model: feed one piece
// per row, get log-probabilities of the next over the model's output columns; drop or reorder
// rows. Search ranks columns and maps the ones it keeps to pieces (SearchColumns), as
// CTranslate2 maps a reduced vocabulary's ids. Tests drive search with a hand-written table
// through it; TransformerStepModel (search.h) puts the real model behind it.
#pragma once

#include <span>
#include <vector>

#include "spotlight/kernels.h"
#include "spotlight/tensor.h"

namespace spotlight {

// The pieces search treats apart: every row starts with BOS and ends at EOS; PAD and BOS are
// never produced.
struct SpecialPieces {
  int pad = 0, bos = 2, eos = 3;
};

// What step_top() keeps of a step: per row, the best `count` columns by log-probability
// (largest first, ties to the lower column) among those not banned; a forced row keeps only
// `eos` (a sentence at its length limit). That is all a search ranks: a sentence's best
// candidates over all its rows are among its rows' best lists of that length.
struct TopRequest {
  long count = 1;
  const char* banned = nullptr;  // [V′] or null
  std::span<const char> forced;  // [rows] or empty: none forced
  long eos = -1;
};

// Sizes top for `rows` rows of `request` (checking its forced flags against them).
void start_top(long rows, const TopRequest& request, RowTop& top);
// Rows r0 … r0 + x.rows of top (sized by start_top) from x: rows of V′ log-probabilities, or of
// logits (then each row's row_log_sum_exp is subtracted first, as log_softmax does), reduced as
// TopRequest says; rows split over the threads (inline when nested in a pool thread).
enum class Scores { logprobs, logits };
void top_of_rows(const MatView& x, Scores scores, long r0, const TopRequest& request,
                 RowTop& top);

class StepModel {
 public:
  virtual ~StepModel() = default;
  virtual long rows() const = 0;
  virtual SpecialPieces specials() const = 0;
  // V′: the columns of step()'s log-probabilities, and the piece each one scores.
  virtual long output_size() const = 0;
  virtual int piece(long column) const { return static_cast<int>(column); }
  // pieces [rows] (BOS at the first step) → logprobs [rows, V′] for the next piece.
  virtual void step(std::span<const int> pieces, Tensor& logprobs) = 0;
  // The same step, reduced to each row's best columns (TopRequest); the values are step()'s
  // log-probabilities bit for bit. This one runs step() and reads its rows; a model may find
  // them without writing every log-probability out (TransformerStepModel does).
  virtual void step_top(std::span<const int> pieces, const TopRequest& request, RowTop& top);
  // Keeps only these rows, in this order.
  virtual void select(std::span<const int> rows) = 0;
  // Repeats every row `copies` times in place: row r becomes rows r·copies … r·copies+copies−1
  // (beam search's first step runs one row per sentence, then makes room for the beams).
  virtual void expand(long copies) {
    std::vector<int> rows;
    for (long r = 0; r < this->rows(); ++r)
      for (long c = 0; c < copies; ++c) rows.push_back(static_cast<int>(r));
    select(rows);
  }

 private:
  Tensor step_top_logprobs_;  // the default step_top()'s
};

// What search needs to know of a model's output columns, read once per search.
struct SearchColumns {
  std::vector<int> piece;    // [V′] the piece of each column
  std::vector<char> banned;  // [V′] 1 for PAD and BOS, which are never produced
  long eos = -1;             // EOS's column (−1: the model cannot end a sentence)

  explicit SearchColumns(const StepModel& model);
};

}  // namespace spotlight
