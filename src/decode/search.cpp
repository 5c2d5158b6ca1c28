#include "spotlight/decode/search.h"

#include "spotlight/check.h"

namespace spotlight {

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

void TransformerStepModel::step_top(std::span<const int> pieces, const TopRequest& request,
                                    RowTop& top) {
  start_top(static_cast<long>(pieces.size()), request, top);
  model_.step_logits(pieces, state_, [&](long r0, long, const MatView& logits) {
    top_of_rows(logits, Scores::logits, r0, request, top);
  });
}

std::vector<Hypothesis> greedy_translate(const Transformer& model,
                                         const std::vector<std::vector<int>>& sources,
                                         const DecodeConfig& d, int workers) {
  std::vector<TransformerStepModel> steppers(static_cast<size_t>(std::max(1, workers)),
                                             TransformerStepModel(model));
  const long cap = output_limit_cap(model.cfg, Search::greedy);
  return decode_in_batches<Hypothesis>(
      sources, d, cap,
      [&](const DecodeBatch& b, int w) {
        TransformerStepModel& stepper = steppers[static_cast<size_t>(w)];
        stepper.start(b.sources, b.max_limit);
        return greedy_search(stepper, b.limits);
      },
      workers);
}

std::vector<std::vector<Hypothesis>> beam_translate(const Transformer& model,
                                                    const std::vector<std::vector<int>>& sources,
                                                    const DecodeConfig& d, long nbest,
                                                    int workers) {
  const BeamOptions o{d.beam, d.alpha, nbest, d.patience};
  std::vector<TransformerStepModel> steppers(static_cast<size_t>(std::max(1, workers)),
                                             TransformerStepModel(model));
  const long cap = output_limit_cap(model.cfg, Search::beam);
  return decode_in_batches<std::vector<Hypothesis>>(
      sources, d, cap,
      [&](const DecodeBatch& b, int w) {
        TransformerStepModel& stepper = steppers[static_cast<size_t>(w)];
        stepper.start(b.sources, b.max_limit + 1);  // the forced EOS step feeds token max_len
        return beam_search(stepper, static_cast<long>(b.sources.size()), b.limits, o);
      },
      workers);
}

}  // namespace spotlight
