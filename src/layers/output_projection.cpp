#include "spotlight/layers/output_projection.h"

#include <algorithm>

#include "spotlight/blas.h"
#include "spotlight/check.h"

namespace spotlight {

void OutputProjection::set_pieces(std::vector<int> ids) {
  const long v = vocab();
  require(!ids.empty() && std::is_sorted(ids.begin(), ids.end()) &&
              std::adjacent_find(ids.begin(), ids.end()) == ids.end() && ids.front() >= 0 &&
              ids.back() < v,
          "output vocabulary: expected sorted, unique piece ids within the vocabulary");
  auto has = [&](int id) { return std::binary_search(ids.begin(), ids.end(), id); };
  require(has(s_.eos) && has(s_.unk) && !has(s_.pad) && !has(s_.bos),
          "output vocabulary: must hold EOS and UNK and neither PAD nor BOS");
  column_.assign(static_cast<size_t>(v), -1);
  for (size_t c = 0; c < ids.size(); ++c) column_[static_cast<size_t>(ids[c])] = static_cast<long>(c);
  pieces_ = std::move(ids);
}

int OutputProjection::target(int piece) const {
  if (piece == s_.pad) return -1;
  const long c = column(piece);
  return static_cast<int>(c >= 0 ? c : column(s_.unk));
}

MatView OutputProjection::weight(Tensor& gathered) const {
  if (!shortlist()) return e_->value.view();
  const long d = e_->value.cols();
  gathered.resize({size(), d});
  for (size_t c = 0; c < pieces_.size(); ++c)
    std::copy_n(e_->value.view().row(pieces_[c]), d, gathered.view().row(static_cast<long>(c)));
  return gathered.view();
}

void OutputProjection::forward(const MatView& h, const MatView& w, const MatView& logits) const {
  gemm(h, Op::N, w, Op::T, logits);  // logits = h · W′ᵀ
}

void OutputProjection::backward(const MatView& h, const MatView& dlogits, const MatView& w,
                                const MatView& dw, const MatView& dh) const {
  gemm(dlogits, Op::T, h, Op::N, dw, 1.0f, 1.0f);  // dW′ += dlᵀ·h
  gemm(dlogits, Op::N, w, Op::N, dh);              // dh = dl·W′
}

MatView OutputProjection::gradient(Tensor& gathered) {
  if (!shortlist()) return e_->grad.view();
  gathered.resize({size(), e_->grad.cols()});
  gathered.zero();
  return gathered.view();
}

void OutputProjection::add_gradient(const Tensor& gathered) {
  if (!shortlist()) return;
  const long d = e_->grad.cols();
  require(gathered.rows() == size() && gathered.cols() == d,
          "output projection: gradient shape mismatch");
  for (size_t c = 0; c < pieces_.size(); ++c) {
    float* g = e_->grad.view().row(pieces_[c]);
    const float* s = gathered.view().row(static_cast<long>(c));
    for (long j = 0; j < d; ++j) g[j] += s[j];
  }
}

}  // namespace spotlight
