// step_model.h — the one interface between search (greedy, beam) and a model: feed one piece
// per row, get log-probabilities of the next over the model's output columns; drop or reorder
// rows. Search ranks columns and maps the ones it keeps to pieces (SearchColumns), as
// CTranslate2 maps a reduced vocabulary's ids. Tests drive search with a hand-written table
// through it; TransformerStepModel (search.h) puts the real model behind it.
#pragma once

#include <span>
#include <vector>

#include "spotlight/tensor.h"

namespace spotlight {

// The pieces search treats apart: every row starts with BOS and ends at EOS; PAD and BOS are
// never produced.
struct SpecialPieces {
  int pad = 0, bos = 2, eos = 3;
};

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
};

// What search needs to know of a model's output columns, read once per search.
struct SearchColumns {
  std::vector<int> piece;    // [V′] the piece of each column
  std::vector<char> banned;  // [V′] 1 for PAD and BOS, which are never produced
  long eos = -1;             // EOS's column (−1: the model cannot end a sentence)

  explicit SearchColumns(const StepModel& model);
};

}  // namespace spotlight
