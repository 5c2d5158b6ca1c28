#include "spotlight/data/mix.h"

#include <cmath>

#include "spotlight/check.h"

namespace spotlight {

PairMix::PairMix(std::vector<MixCorpus> corpora, long max_len)
    : corpora_(std::move(corpora)), max_len_(max_len) {
  require(max_len > 0, "data.max_len: must be positive, got " + std::to_string(max_len));
  require(!corpora_.empty(), "no training corpus");
  uint64_t total = 0;
  base_.push_back(0);
  for (size_t k = 0; k < corpora_.size(); ++k) {
    const MixCorpus& c = corpora_[k];
    require(std::isfinite(c.weight) && c.weight >= 0.0 && c.weight <= 1e6, [&] {
      return "data.train[" + std::to_string(k) + "].weight: expected a number in [0, 1e6], got " +
             std::to_string(c.weight);
    });
    const CorpusStore& s = *c.store;
    total += static_cast<uint64_t>(s.lines());
    require(total < (1ULL << 32), "the training corpora hold 2^32 lines or more in all: not supported");
    base_.push_back(static_cast<uint32_t>(total));
    Counts n;
    n.lines = s.lines();
    for (long i = 0; i < s.lines(); ++i) {
      const int a = s.src_pieces(i), b = s.tgt_pieces(i);
      if (a == 0 || b == 0)
        ++n.empty;
      else if (a > max_len || b > max_len)
        ++n.too_long;  // kStoreTooLong is over any max_len (≤ 65535 − 1)
      else
        ++n.kept;
    }
    counts_.push_back(n);
  }
}

bool PairMix::kept(const CorpusStore& s, long i) const {
  const int a = s.src_pieces(i), b = s.tgt_pieces(i);
  return a > 0 && b > 0 && a <= max_len_ && b <= max_len_;
}

long PairMix::kept() const {
  long n = 0;
  for (const Counts& c : counts_) n += c.kept;
  return n;
}

namespace {
long extra_draws(double weight, long kept) {
  const double frac = weight - std::floor(weight);
  return std::lround(frac * static_cast<double>(kept));
}
}  // namespace

long PairMix::epoch_size() const {
  long n = 0;
  for (size_t k = 0; k < corpora_.size(); ++k) {
    const long kept = counts_[k].kept;
    n += static_cast<long>(std::floor(corpora_[k].weight)) * kept +
         extra_draws(corpora_[k].weight, kept);
  }
  return n;
}

std::vector<uint32_t> PairMix::epoch_pairs(Rng* rng) const {
  const long n = rng != nullptr ? epoch_size() : kept();
  require(n < (1L << 32), "an epoch of 2^32 drawn pairs or more is not supported: lower the weights");
  std::vector<uint32_t> out;
  out.reserve(static_cast<size_t>(n));
  for (size_t k = 0; k < corpora_.size(); ++k) {
    const CorpusStore& s = *corpora_[k].store;
    const uint32_t base = base_[k];
    const long copies = rng != nullptr ? static_cast<long>(std::floor(corpora_[k].weight)) : 1;
    for (long c = 0; c < copies; ++c)
      for (long i = 0; i < s.lines(); ++i)
        if (kept(s, i)) out.push_back(base + static_cast<uint32_t>(i));
    if (rng == nullptr) continue;
    // The fractional part: m of the K kept pairs, each subset equally likely (Knuth's selection
    // sampling, one pass, no memory).
    long m = extra_draws(corpora_[k].weight, counts_[k].kept);
    long left = counts_[k].kept;
    for (long i = 0; i < s.lines() && m > 0; ++i) {
      if (!kept(s, i)) continue;
      const double u = static_cast<double>(rng->next() >> 11) * 0x1.0p-53;
      if (u * static_cast<double>(left) < static_cast<double>(m)) {
        out.push_back(base + static_cast<uint32_t>(i));
        --m;
      }
      --left;
    }
  }
  return out;
}

int PairMix::corpus_of(uint32_t g) const {
  int k = 0;
  while (k + 1 < static_cast<int>(corpora_.size()) && g >= base_[static_cast<size_t>(k) + 1]) ++k;
  return k;
}

int PairMix::src_pieces(uint32_t g) const {
  const int k = corpus_of(g);
  return store(k).src_pieces(static_cast<long>(g - base_[static_cast<size_t>(k)]));
}

int PairMix::tgt_pieces(uint32_t g) const {
  const int k = corpus_of(g);
  return store(k).tgt_pieces(static_cast<long>(g - base_[static_cast<size_t>(k)]));
}

void PairMix::read(uint32_t g, std::vector<int>& src, std::vector<int>& tgt) const {
  require(g < base_.back(), [&] {
    return "pair " + std::to_string(g) + " is outside the corpora's " + std::to_string(base_.back()) +
           " lines";
  });
  const int k = corpus_of(g);
  store(k).read(static_cast<long>(g - base_[static_cast<size_t>(k)]), src, tgt);
}

void PairMix::scan_kept(
    const std::function<void(std::span<const int>, std::span<const int>)>& f) const {
  for (const MixCorpus& c : corpora_)
    c.store->scan(0, c.store->lines(), [&](long i, std::span<const int> s, std::span<const int> t) {
      if (kept(*c.store, i)) f(s, t);
    });
}

}  // namespace spotlight
