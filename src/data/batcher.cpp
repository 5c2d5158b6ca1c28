#include "spotlight/data/batcher.h"

#include <algorithm>
#include <numeric>

#include "spotlight/check.h"

namespace spotlight {

Batcher::Batcher(const ParallelCorpus& corpus, BatcherOptions o) : corpus_(corpus), o_(o) {
  require(o_.max_tokens > 0,
          "train.max_tokens: must be positive, got " + std::to_string(o_.max_tokens));
  require(o_.pool_size > 0,
          "batcher pool_size: must be positive, got " + std::to_string(o_.pool_size));
  require(corpus.size() < (1L << 32), "batcher: a corpus of more than 2^32 pairs is not supported");
  const auto P = static_cast<size_t>(corpus.size());
  src_len_.resize(P);
  tgt_len_.resize(P);
  for (size_t p = 0; p < P; ++p) {
    src_len_[p] = static_cast<int>(corpus.src(static_cast<long>(p)).size()) + 1;
    tgt_len_[p] = static_cast<int>(corpus.tgt(static_cast<long>(p)).size()) + 1;
  }
}

void Batcher::cut(std::vector<long>& order, size_t begin, size_t end, BatchPlan& out) const {
  // Stable, so ties keep the (shuffled or line) order they came in: deterministic.
  std::stable_sort(order.begin() + static_cast<long>(begin), order.begin() + static_cast<long>(end),
                   [&](long a, long b) {
                     if (tgt_len(a) != tgt_len(b)) return tgt_len(a) < tgt_len(b);
                     return src_len(a) < src_len(b);
                   });
  std::vector<long> batch;
  long S = 0, T = 0;  // padded lengths of the batch being filled
  for (size_t i = begin; i < end; ++i) {
    const long p = order[i];
    const long s = std::max(S, src_len(p)), t = std::max(T, tgt_len(p));
    const long b = static_cast<long>(batch.size()) + 1;
    if (!batch.empty() && (b * s > o_.max_tokens || b * t > o_.max_tokens)) {
      out.push_back(std::move(batch));
      batch.clear();
      S = T = 0;
    }
    batch.push_back(p);
    S = std::max(S, src_len(p));
    T = std::max(T, tgt_len(p));
  }
  if (!batch.empty()) out.push_back(std::move(batch));
}

BatchPlan Batcher::plan() const {
  std::vector<long> order(static_cast<size_t>(corpus_.size()));
  std::iota(order.begin(), order.end(), 0L);
  BatchPlan out;
  cut(order, 0, order.size(), out);
  return out;
}

BatchPlan Batcher::plan(Rng& rng) const {
  if (!o_.shuffle) return plan();
  std::vector<long> order(static_cast<size_t>(corpus_.size()));
  std::iota(order.begin(), order.end(), 0L);
  // Fisher–Yates over all pairs.
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[rng.below(static_cast<uint32_t>(i))]);
  // Sort and cut pool by pool.
  BatchPlan out;
  const auto pool = static_cast<size_t>(o_.pool_size);
  for (size_t begin = 0; begin < order.size(); begin += pool)
    cut(order, begin, std::min(order.size(), begin + pool), out);
  // Shuffle the batch order, so lengths do not rise steadily through each pool.
  for (size_t i = out.size(); i > 1; --i)
    std::swap(out[i - 1], out[rng.below(static_cast<uint32_t>(i))]);
  return out;
}

Batch Batcher::make(std::span<const long> pairs) const {
  std::vector<std::vector<int>> src, tgt;
  src.reserve(pairs.size());
  tgt.reserve(pairs.size());
  for (long p : pairs) {
    require(p >= 0 && p < corpus_.size(), [&] {
      return "batcher: pair " + std::to_string(p) + " is outside the corpus of " +
             std::to_string(corpus_.size());
    });
    const auto s = corpus_.src(p), t = corpus_.tgt(p);
    src.emplace_back(s.begin(), s.end());
    tgt.emplace_back(t.begin(), t.end());
  }
  Batch b = make_batch(src, tgt, o_.pad_id, o_.bos_id, o_.eos_id);
  for (size_t i = 0; i < pairs.size(); ++i) b.ids[i] = corpus_.lines[static_cast<size_t>(pairs[i])];
  return b;
}

std::vector<Batch> Batcher::epoch(Rng& rng) const {
  std::vector<Batch> out;
  for (const auto& pairs : plan(rng)) out.push_back(make(pairs));
  return out;
}

std::vector<Batch> Batcher::epoch() const {
  std::vector<Batch> out;
  for (const auto& pairs : plan()) out.push_back(make(pairs));
  return out;
}

}  // namespace spotlight
