// batcher.h — Batcher: cuts the pairs of a PairMix into batches by token count, as fairseq and
// Marian do. Training epochs: draw the epoch's pairs (PairMix::epoch_pairs: by weight), shuffle
// them all (Fisher–Yates on the given Rng), sort each pool of pool_size pairs by (target length,
// source length) so a batch holds sentences of similar length and wastes little padding, cut each
// pool greedily into batches whose padded sizes B·T and B·S both stay ≤ max_tokens, then shuffle
// the batch order. The shuffle is across the whole corpus each epoch; only the length sort is
// local to a pool. Validation: sort all pairs by length, cut, keep the order.
//
// Lengths here include the framing make_batch adds: S = source pieces + EOS, T = target pieces
// + 1 (BOS in tgt_in, EOS in tgt_out). A single pair longer than max_tokens forms a batch alone.
//
// Memory: a plan holds 4 bytes per drawn pair and 8 per batch; lengths are read from the stores'
// index and token ids only when make() builds a batch, so nothing else grows with the corpus.
//
// Resuming mid-epoch: an epoch's plan is a pure function of the Rng state it starts from. The
// trainer saves that state before calling plan(rng) together with the epoch number and the
// index of the next batch; on resume it restores the state, calls plan(rng) again, gets the
// identical plan (and leaves the Rng in the identical state), and continues from that batch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spotlight/data/mix.h"
#include "spotlight/model/batch.h"
#include "spotlight/rng.h"

namespace spotlight {

struct BatcherOptions {
  long max_tokens = 4096;  // padded tokens per batch, each side: B·S ≤ max_tokens, B·T ≤ max_tokens
  long pool_size = 100000;  // pairs sorted together by length (a larger pool wastes less padding)
  bool shuffle = true;      // false: plan(rng) = plan(), the sorted validation order
  int pad_id = 0, bos_id = 2, eos_id = 3;
};

// An epoch plan: batches of global pair ids (PairMix), in the order they are trained on.
struct EpochPlan {
  std::vector<uint32_t> pairs;  // every batch's pairs, batch after batch as cut
  std::vector<uint64_t> begin;  // [cut batches + 1]: cut batch c is pairs[begin[c], begin[c+1])
  std::vector<uint32_t> order;  // the training order of the cut batches

  long size() const { return static_cast<long>(order.size()); }  // batches
  std::span<const uint32_t> batch(long k) const {
    const uint32_t c = order[static_cast<size_t>(k)];
    return {pairs.data() + begin[c], static_cast<size_t>(begin[c + 1] - begin[c])};
  }
};

class Batcher {
 public:
  // Keeps a reference to `mix`, which must outlive the batcher.
  Batcher(const PairMix& mix, BatcherOptions o);

  // A training epoch's plan drawn from `rng` (advancing it). With weights 1, every kept pair
  // appears exactly once. Same Rng state, same plan. With o.shuffle false this is plan() and
  // rng is not touched.
  EpochPlan plan(Rng& rng) const;
  // The deterministic validation plan: every kept pair once, sorted by (target, source) length
  // and corpus line, in that order.
  EpochPlan plan() const;

  // The padded batch of these pairs (see model/batch.h); Batch::ids are the pairs' 0-based
  // line indices in their corpus files.
  Batch make(std::span<const uint32_t> pairs) const;
  // plan(), every batch built (validation).
  std::vector<Batch> epoch() const;

  long src_len(uint32_t g) const { return mix_.src_pieces(g) + 1; }  // pieces + EOS
  long tgt_len(uint32_t g) const { return mix_.tgt_pieces(g) + 1; }  // pieces + 1

 private:
  // Sorts pairs[begin, end) by (target, source) length, ties in the order they came, and
  // appends its batches to out.begin.
  void cut(std::vector<uint32_t>& pairs, size_t begin, size_t end, EpochPlan& out) const;

  const PairMix& mix_;
  BatcherOptions o_;
};

}  // namespace spotlight
