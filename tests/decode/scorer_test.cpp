// Forced decoding scores equal the training loss's log-probabilities (no smoothing) and do not
// depend on which other sentences share the batch; with a shortlist, unlisted targets score −inf.
#include "spotlight/decode/scorer.h"

#include <doctest/doctest.h>

#include <limits>

#include "spotlight/kernels.h"
#include "spotlight/train/loss.h"
#include "support/decode_ties.h"
#include "support/fixtures.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

TEST_SUITE_BEGIN("unit");

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

TEST_CASE("forced decoding with a shortlist: listed targets as the full model scores them, others −inf") {
  // The shortlist's columns of the full projection, renormalised: every listed target scores
  // log p over the listed pieces only; a target outside the list has probability 0 (−inf),
  // never UNK's probability (which is what the training loss uses for it).
  Rng rng(122);
  ModelConfig cfg = tiny_config();
  cfg.output_vocab = OutputVocab::target;
  Transformer m(cfg);
  m.init(rng);
  std::vector<int> ids{cfg.unk_id, cfg.eos_id};
  for (int i = 4; i < cfg.vocab_size; i += 2) ids.push_back(i);  // the even pieces from 4
  m.set_output_ids(ids);
  const std::vector<std::vector<int>> src = {{5, 7, 9}, {6, 4}};
  const std::vector<std::vector<int>> tgt = {{4, 6, 8}, {6, 5, 4}};  // 5 is not listed
  const auto scores = score_pairs(m, src, tgt, 4096);
  CHECK(scores[1].logprob == -std::numeric_limits<double>::infinity());
  // Sentence 0 by hand: log-softmax over the V′ columns of the teacher-forced logits.
  const Batch b = make_batch({src[0]}, {tgt[0]}, cfg.pad_id, cfg.bos_id, cfg.eos_id);
  Transformer::Cache c;
  m.forward(b, c, nullptr);
  REQUIRE(c.logits.cols() == static_cast<long>(ids.size()));
  log_softmax(c.logits.view());
  double want = 0.0;
  for (long t = 0; t < b.tgt_len[0]; ++t)
    want += c.logits.view().at(t, m.output().column(b.tgt_out[static_cast<size_t>(t)]));
  expect_near("shortlist score", scores[0].logprob, want, score_tol(3, cfg.vocab_size));
}

TEST_SUITE_END();
