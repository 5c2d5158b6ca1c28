// batching.h — how greedy and beam translation walk a list of sentences: sorted by length into
// batches of at most d.batch_size (similar lengths waste less padding and finish together), each
// with its per-sentence output limits, results put back in input order.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "spotlight/config.h"

namespace spotlight {

struct DecodeBatch {
  std::vector<std::vector<int>> sources;  // token ids without EOS
  std::vector<long> limits;               // max_output_length of each source
  long max_limit = 0;
};

// The output limit for a source of n tokens: a·(n + 1) + b (the source counts its EOS).
inline long max_output_length(const DecodeConfig& d, long source_tokens) {
  return std::max(
      1L, static_cast<long>(d.max_len_a * static_cast<double>(source_tokens + 1)) + d.max_len_b);
}

// decode(const DecodeBatch&) returns one R per sentence of the batch, in batch order. Limits are
// capped at max_limit_cap (the positions the model has room for).
template <class R, class Decode>
std::vector<R> decode_in_batches(const std::vector<std::vector<int>>& sources,
                                 const DecodeConfig& d, long max_limit_cap, Decode&& decode) {
  std::vector<size_t> order(sources.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sources[a].size() < sources[b].size(); });
  std::vector<R> out(sources.size());
  const size_t bs = static_cast<size_t>(std::max(1L, d.batch_size));
  DecodeBatch batch;
  for (size_t k = 0; k < order.size(); k += bs) {
    batch.sources.clear();
    batch.limits.clear();
    batch.max_limit = 0;
    for (size_t i = k; i < std::min(order.size(), k + bs); ++i) {
      batch.sources.push_back(sources[order[i]]);
      batch.limits.push_back(std::min(
          max_limit_cap, max_output_length(d, static_cast<long>(sources[order[i]].size()))));
      batch.max_limit = std::max(batch.max_limit, batch.limits.back());
    }
    auto results = decode(batch);
    for (size_t i = 0; i < results.size(); ++i) out[order[k + i]] = std::move(results[i]);
  }
  return out;
}

}  // namespace spotlight
