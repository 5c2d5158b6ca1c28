// mix.h — PairMix: the training pairs of one or more corpus stores (data/store.h), as the
// batcher draws them. A pair is kept when both sides have 1..max_len pieces; the others are
// counted by reason (empty, longer than max_len) and never drawn. Each corpus has a sampling
// weight: the number of times each of its pairs is drawn per epoch on average (fairseq's
// --upsample-primary, generalised to fractions). Weight w = n + f draws every kept pair n times
// and round(f·kept) further pairs chosen at random without replacement, so 1 draws each pair
// once, 3 thrice, 0.25 a fresh quarter of them each epoch.
//
// Pairs are named by a global id: corpus k's line i is base(k) + i (ids of pairs not kept are
// never drawn). Memory: nothing per pair beyond the stores' own index; epoch_pairs() returns
// 4 bytes per drawn pair.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spotlight/data/store.h"
#include "spotlight/rng.h"

namespace spotlight {

struct MixCorpus {
  const CorpusStore* store = nullptr;  // must outlive the mix
  double weight = 1.0;                 // ≥ 0
};

class PairMix {
 public:
  // Throws Error when the stores hold 2^32 lines or more in all, or a weight is negative or not
  // finite.
  PairMix(std::vector<MixCorpus> corpora, long max_len);

  struct Counts {
    long lines = 0, kept = 0, empty = 0, too_long = 0;  // too_long: a side over max_len
  };
  int corpora() const { return static_cast<int>(corpora_.size()); }
  const Counts& counts(int k) const { return counts_[static_cast<size_t>(k)]; }
  const CorpusStore& store(int k) const { return *corpora_[static_cast<size_t>(k)].store; }
  double weight(int k) const { return corpora_[static_cast<size_t>(k)].weight; }
  long kept() const;  // kept pairs over all corpora

  // Drawn pairs per epoch (each corpus: floor(w)·kept + round(frac(w)·kept)).
  long epoch_size() const;
  // One epoch's pairs in corpus and line order, not yet shuffled: with `rng`, by weight (the Rng
  // is used only for fractional weights, one draw per kept pair of such a corpus); without, every
  // kept pair once (validation).
  std::vector<uint32_t> epoch_pairs(Rng* rng) const;

  int corpus_of(uint32_t g) const;
  long line(uint32_t g) const { return g - base_[static_cast<size_t>(corpus_of(g))]; }
  int src_pieces(uint32_t g) const;
  int tgt_pieces(uint32_t g) const;
  void read(uint32_t g, std::vector<int>& src, std::vector<int>& tgt) const;
  // Calls f(src, tgt) for every kept pair once, reading the stores in order.
  void scan_kept(const std::function<void(std::span<const int>, std::span<const int>)>& f) const;

 private:
  bool kept(const CorpusStore& s, long i) const;

  std::vector<MixCorpus> corpora_;
  std::vector<uint32_t> base_;  // [corpora + 1]
  std::vector<Counts> counts_;
  long max_len_;
};

}  // namespace spotlight
