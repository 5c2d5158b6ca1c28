#include "spotlight/decode/step_model.h"

#include <algorithm>

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

void TransformerStepModel::start(const std::vector<std::vector<int>>& sources, long capacity) {
  require(!sources.empty(), "decoding: no sentences");
  long s_max = 0;
  for (const auto& s : sources) s_max = std::max(s_max, static_cast<long>(s.size()) + 1);
  const long b = static_cast<long>(sources.size());
  src_.assign(static_cast<size_t>(b * s_max), model_.cfg.pad_id);
  src_len_.clear();
  for (long i = 0; i < b; ++i) {
    const auto& s = sources[static_cast<size_t>(i)];
    std::copy(s.begin(), s.end(), src_.begin() + i * s_max);
    src_[static_cast<size_t>(i * s_max + static_cast<long>(s.size()))] = model_.cfg.eos_id;
    src_len_.push_back(static_cast<int>(s.size()) + 1);
  }
  model_.encode(src_, b, src_len_, cache_);
  model_.start(cache_, src_len_, capacity, state_);
}

void TransformerStepModel::step(std::span<const int> pieces, Tensor& logprobs) {
  model_.step(pieces, state_, logprobs);
}

}  // namespace spotlight
