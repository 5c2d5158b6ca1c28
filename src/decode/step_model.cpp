#include "spotlight/decode/step_model.h"

#include "spotlight/check.h"

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

}  // namespace spotlight
