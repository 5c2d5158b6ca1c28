// batcher.h — Batcher: cuts a ParallelCorpus into batches by token count, as fairseq and Marian
// do. Training epochs: shuffle all pairs (Fisher–Yates on the given Rng), sort each pool of
// pool_size pairs by (target length, source length) so a batch holds sentences of similar length
// and wastes little padding, cut each pool greedily into batches whose padded sizes B·T and B·S
// both stay ≤ max_tokens, then shuffle the batch order. Validation: sort the whole corpus by
// length, cut, keep the order.
//
// Lengths here include the framing make_batch adds: S = source pieces + EOS, T = target pieces
// + 1 (BOS in tgt_in, EOS in tgt_out). A single pair longer than max_tokens forms a batch alone.
//
// Resuming mid-epoch: an epoch's plan (batches of pair indices) is a pure function of the Rng
// state it starts from. The trainer saves that state before calling plan(rng) — e.g. with a
// dedicated data Rng, saving data_rng.state() at the start of each epoch — together with the
// epoch number and the index of the next batch in the plan. On resume it calls
// data_rng.set_state(saved) and plan(data_rng) again, gets the identical plan (and leaves the
// Rng in the identical state), and continues from the saved position.
#pragma once

#include <span>
#include <vector>

#include "spotlight/data/corpus.h"
#include "spotlight/model/batch.h"
#include "spotlight/rng.h"

namespace spotlight {

struct BatcherOptions {
  long max_tokens = 4096;  // padded tokens per batch, each side: B·S ≤ max_tokens, B·T ≤ max_tokens
  long pool_size = 100000;  // pairs sorted together by length (a larger pool wastes less padding)
  bool shuffle = true;      // false: plan(rng) = plan(), the sorted validation order
  int pad_id = 0, bos_id = 2, eos_id = 3;
};

// An epoch plan: each entry lists the corpus pair indices (0..P-1) of one batch, in order.
using BatchPlan = std::vector<std::vector<long>>;

class Batcher {
 public:
  // Keeps a reference to `corpus`, which must outlive the batcher.
  Batcher(const ParallelCorpus& corpus, BatcherOptions o);

  // A training epoch's plan drawn from `rng` (advancing it); every pair appears exactly once.
  // Same Rng state, same plan. With o.shuffle false this is plan() and rng is not touched.
  BatchPlan plan(Rng& rng) const;
  // The deterministic validation plan: all pairs sorted by (target, source) length and line,
  // in that order.
  BatchPlan plan() const;

  // The padded batch of these pairs (see model/batch.h); Batch::ids are the pairs' 0-based
  // line indices in the corpus files.
  Batch make(std::span<const long> pairs) const;

  // plan(rng) / plan(), every batch built.
  std::vector<Batch> epoch(Rng& rng) const;
  std::vector<Batch> epoch() const;

  long src_len(long p) const { return src_len_[static_cast<size_t>(p)]; }  // pieces + EOS
  long tgt_len(long p) const { return tgt_len_[static_cast<size_t>(p)]; }  // pieces + 1

 private:
  // Sorts order[begin, end) by (target, source) length, stably, and appends its batches.
  void cut(std::vector<long>& order, size_t begin, size_t end, BatchPlan& out) const;

  const ParallelCorpus& corpus_;
  BatcherOptions o_;
  std::vector<int> src_len_, tgt_len_;  // [P]
};

}  // namespace spotlight
