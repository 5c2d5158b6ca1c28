// fixtures.h — small models and generated batches for tests (tests never read ../shared).
#pragma once

#include <vector>

#include "spotlight/model/transformer.h"
#include "spotlight/rng.h"

namespace spotlight::testing {

inline ModelConfig tiny_config(Norm norm = Norm::pre, Activation act = Activation::relu) {
  ModelConfig c;
  c.vocab_size = 17;
  c.d_model = 16;
  c.heads = 4;
  c.ffn = 24;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.norm = norm;
  c.activation = act;
  c.dropout = 0.1f;
  c.attention_dropout = 0.1f;
  c.activation_dropout = 0.1f;
  c.max_positions = 64;
  return c;
}

// Random token sequences (ids ≥ 4, never pad/unk/bos/eos) of the given lengths.
inline std::vector<std::vector<int>> random_sequences(Rng& rng, const std::vector<int>& lengths,
                                                      long vocab) {
  std::vector<std::vector<int>> out;
  for (int n : lengths) {
    std::vector<int> s;
    for (int i = 0; i < n; ++i)
      s.push_back(4 + static_cast<int>(rng.below(static_cast<uint32_t>(vocab - 4))));
    out.push_back(s);
  }
  return out;
}

inline Batch random_batch(Rng& rng, const ModelConfig& c, const std::vector<int>& src_lens,
                          const std::vector<int>& tgt_lens) {
  return make_batch(random_sequences(rng, src_lens, c.vocab_size),
                    random_sequences(rng, tgt_lens, c.vocab_size), c.pad_id, c.bos_id, c.eos_id);
}

}  // namespace spotlight::testing
