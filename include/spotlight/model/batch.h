// batch.h — a padded batch of sentence pairs as the model sees it. Row-major [B, S] and [B, T]
// id matrices, b-major, right-padded with pad ids; lengths count real tokens.
//   src     = x_1 … x_n EOS pad…          src_len[b] = n + 1
//   tgt_in  = BOS y_1 … y_m pad…          tgt_len[b] = m + 1
//   tgt_out = y_1 … y_m EOS pad…
// (Kept with the model rather than the batcher because the model's forward reads it.)
#pragma once

#include <vector>

namespace spotlight {

struct Batch {
  long batch = 0, src_len_max = 0, tgt_len_max = 0;  // B, S, T
  std::vector<int> src;                              // [B·S]
  std::vector<int> tgt_in, tgt_out;                  // [B·T]
  std::vector<int> src_len, tgt_len;                 // [B]
  std::vector<long> ids;                             // [B] corpus line index of each pair

  long target_tokens() const {
    long n = 0;
    for (int l : tgt_len) n += l;
    return n;
  }
};

// Builds a batch from token sequences (without BOS/EOS), appending EOS to sources and framing
// targets with BOS/EOS.
Batch make_batch(const std::vector<std::vector<int>>& src, const std::vector<std::vector<int>>& tgt,
                 int pad_id, int bos_id, int eos_id);

}  // namespace spotlight
