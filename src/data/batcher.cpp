#include "spotlight/data/batcher.h"

#include <algorithm>
#include <numeric>

#include "spotlight/check.h"

namespace spotlight {

Batcher::Batcher(const PairMix& mix, BatcherOptions o) : mix_(mix), o_(o) {
  require(o_.max_tokens > 0,
          "train.max_tokens: must be positive, got " + std::to_string(o_.max_tokens));
  require(o_.pool_size > 0 && o_.pool_size < (1L << 32),
          "batcher pool_size: must be in [1, 2^32), got " + std::to_string(o_.pool_size));
}

void Batcher::cut(std::vector<uint32_t>& pairs, size_t begin, size_t end, EpochPlan& out) const {
  // One 64-bit key per pair: target length, source length, position in the pool. Sorting the
  // keys is a stable sort by (target, source) length: deterministic, as the plan must be.
  std::vector<uint64_t> keys(end - begin);
  for (size_t i = begin; i < end; ++i)
    keys[i - begin] = (static_cast<uint64_t>(tgt_len(pairs[i])) << 48) |
                      (static_cast<uint64_t>(src_len(pairs[i])) << 32) | (i - begin);
  std::sort(keys.begin(), keys.end());
  std::vector<uint32_t> sorted(end - begin);
  for (size_t k = 0; k < keys.size(); ++k) sorted[k] = pairs[begin + (keys[k] & 0xffffffffu)];
  std::copy(sorted.begin(), sorted.end(), pairs.begin() + static_cast<long>(begin));

  long B = 0, S = 0, T = 0;  // the batch being filled: pairs, padded lengths
  for (size_t k = 0; k < keys.size(); ++k) {
    const long s = static_cast<long>((keys[k] >> 32) & 0xffffu), t = static_cast<long>(keys[k] >> 48);
    const long ns = std::max(S, s), nt = std::max(T, t);
    if (B > 0 && ((B + 1) * ns > o_.max_tokens || (B + 1) * nt > o_.max_tokens)) {
      out.begin.push_back(begin + k);
      B = S = T = 0;
    }
    ++B;
    S = std::max(S, s);
    T = std::max(T, t);
  }
  if (B > 0) out.begin.push_back(end);
}

EpochPlan Batcher::plan() const {
  EpochPlan out;
  out.pairs = mix_.epoch_pairs(nullptr);
  out.begin.push_back(0);
  cut(out.pairs, 0, out.pairs.size(), out);
  out.order.resize(out.begin.size() - 1);
  std::iota(out.order.begin(), out.order.end(), 0u);
  return out;
}

EpochPlan Batcher::plan(Rng& rng) const {
  if (!o_.shuffle) return plan();
  EpochPlan out;
  out.pairs = mix_.epoch_pairs(&rng);
  std::vector<uint32_t>& pairs = out.pairs;
  // Fisher–Yates over all the epoch's pairs.
  for (size_t i = pairs.size(); i > 1; --i)
    std::swap(pairs[i - 1], pairs[rng.below(static_cast<uint32_t>(i))]);
  // Sort and cut pool by pool.
  out.begin.push_back(0);
  const auto pool = static_cast<size_t>(o_.pool_size);
  for (size_t begin = 0; begin < pairs.size(); begin += pool)
    cut(pairs, begin, std::min(pairs.size(), begin + pool), out);
  // Shuffle the batch order, so lengths do not rise steadily through each pool.
  out.order.resize(out.begin.size() - 1);
  std::iota(out.order.begin(), out.order.end(), 0u);
  for (size_t i = out.order.size(); i > 1; --i)
    std::swap(out.order[i - 1], out.order[rng.below(static_cast<uint32_t>(i))]);
  return out;
}

Batch Batcher::make(std::span<const uint32_t> pairs) const {
  std::vector<std::vector<int>> src(pairs.size()), tgt(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) mix_.read(pairs[i], src[i], tgt[i]);
  Batch b = make_batch(src, tgt, o_.pad_id, o_.bos_id, o_.eos_id);
  for (size_t i = 0; i < pairs.size(); ++i) b.ids[i] = mix_.line(pairs[i]);
  return b;
}

std::vector<Batch> Batcher::epoch() const {
  const EpochPlan p = plan();
  std::vector<Batch> out;
  for (long k = 0; k < p.size(); ++k) out.push_back(make(p.batch(k)));
  return out;
}

}  // namespace spotlight
