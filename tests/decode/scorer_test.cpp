// Forced decoding scores equal the training loss's log-probabilities (no smoothing) and do not
// depend on which other sentences share the batch.
#include "spotlight/decode/scorer.h"

#include <doctest/doctest.h>

#include "spotlight/train/loss.h"
#include "support/decode_ties.h"
#include "support/fixtures.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

TEST_CASE("forced-decoding scores equal the loss's unsmoothed log-probabilities") {
  Rng rng(121);
  ModelConfig cfg = tiny_config();
  Transformer m(cfg);
  m.init(rng);
  const auto src = random_sequences(rng, {4, 9, 1, 6, 3}, cfg.vocab_size);
  const auto tgt = random_sequences(rng, {7, 2, 5, 0, 8}, cfg.vocab_size);
  const auto scores = score_pairs(m, src, tgt, 4096);
  const Batch b = make_batch(src, tgt, cfg.pad_id, cfg.bos_id, cfg.eos_id);
  Transformer::Cache c;
  m.forward(b, c, nullptr);
  const LossStats st = cross_entropy(c.logits, b.tgt_out, cfg.pad_id, 0.1f, 0.0f, nullptr);
  double total = 0.0;
  long tokens = 0;
  for (const auto& s : scores) {
    total += s.logprob;
    tokens += s.tokens;
    CHECK(s.logprob < 0.0);
  }
  // Sums of log-probabilities through other batches, so other products: equal to rounding, a
  // relative bar (terms of one sign) plus each term's noise (support/decode_ties.h).
  CHECK(tokens == st.tokens);
  expect_near("Σ scores against the loss's nll", -total, st.nll,
              {1e-6, static_cast<double>(tokens) * logprob_noise(cfg.vocab_size, 0.0)});
  CHECK(scores[3].tokens == 1);  // an empty target still has its EOS
  // Tiny batches (one sentence each) give the same per-sentence scores.
  const auto alone = score_pairs(m, src, tgt, 1);
  for (size_t i = 0; i < scores.size(); ++i)
    expect_near("score alone", alone[i].logprob, scores[i].logprob,
                score_tol(scores[i].tokens - 1, cfg.vocab_size));
}
