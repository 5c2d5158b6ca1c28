// output_projection.h — the output layer: decoder states h [N, D] → logits over its V′ output
// columns, with the token embedding E [V, D] as its weight (tied, no bias):
//
//   logits = h · W′ᵀ            W′ = E[pieces] [V′, D] (a shortlist), or E itself (V′ = V)
//   dh = dlogits · W′           dE[pieces] += dlogitsᵀ · h
//
// Column c scores piece pieces[c] (model.output_vocab "target": the pieces of the training
// targets, sorted, so column order is piece order and ties break the same way in both), or
// piece c when every piece is scored ("all"). A piece outside the list has probability 0. The
// training loss (in row chunks), the forward pass, the decoding step and the scorer all work in
// columns; piece() and column() map between the two at their boundaries, as CTranslate2's
// vocabulary map does. The shortlist is saved with the weights as "output_mask" [V].
#pragma once

#include <vector>

#include "spotlight/layers/param.h"

namespace spotlight {

class OutputProjection {
 public:
  // The special pieces: the list must hold EOS and UNK, and neither PAD nor BOS.
  struct Specials {
    int pad = 0, unk = 1, bos = 2, eos = 3;
  };

  OutputProjection(Param& embedding, Specials s) : e_(&embedding), s_(s) {}

  // Scores only `pieces` (sorted, unique, within the vocabulary, as Specials says); throws
  // otherwise. Until called, every piece is scored.
  void set_pieces(std::vector<int> pieces);
  bool shortlist() const { return !pieces_.empty(); }
  const std::vector<int>& pieces() const { return pieces_; }  // empty: every piece
  long size() const { return shortlist() ? static_cast<long>(pieces_.size()) : vocab(); }  // V′
  long vocab() const { return e_->value.rows(); }  // V

  int piece(long column) const {
    return shortlist() ? pieces_[static_cast<size_t>(column)] : static_cast<int>(column);
  }
  // The column scoring `piece`, −1 if it is not scored.
  long column(int piece) const {
    return shortlist() ? column_[static_cast<size_t>(piece)] : piece;
  }
  // The loss's column of a target piece: −1 for PAD (ignored), UNK's column for a piece that is
  // not scored (a target the model cannot produce is trained as UNK).
  int target(int piece) const;

  // W′ [V′, D]: E itself, or its listed rows gathered into `gathered`. The view is valid until E
  // or `gathered` changes; decoding gathers once per batch, training once per step.
  MatView weight(Tensor& gathered) const;
  // The weight as weight() last left it in `gathered`, without gathering again (decoding steps).
  MatView weight_as_gathered(const Tensor& gathered) const {
    return shortlist() ? gathered.view() : e_->value.view();
  }
  // logits [N, V′] = h · wᵀ (overwritten), w from weight().
  void forward(const MatView& h, const MatView& w, const MatView& logits) const;
  // dh = dlogits · w (overwritten), dw += dlogitsᵀ · h.
  void backward(const MatView& h, const MatView& dlogits, const MatView& w, const MatView& dw,
                const MatView& dh) const;
  // Where backward accumulates the weight gradient: E's gradient itself when every piece is
  // scored, or `gathered` [V′, D] zeroed, which add_gradient() then adds into E's listed rows.
  MatView gradient(Tensor& gathered);
  void add_gradient(const Tensor& gathered);

 private:
  Param* e_;  // E, owned by the model's Embedding
  Specials s_;
  std::vector<int> pieces_;   // sorted; empty: every piece
  std::vector<long> column_;  // [V] column of each piece, −1 if not scored (empty likewise)
};

}  // namespace spotlight
