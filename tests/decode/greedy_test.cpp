// Cached incremental decoding equals full forward passes; batched greedy equals one-by-one
// greedy and the uncached reference; finished rows leave the batch; limits hold. These paths
// compute the same log-probabilities through different products, equal to rounding only
// (support/near.h), so values are compared with a mixed tolerance and outputs up to argmax
// near-ties (support/decode_ties.h).
#include "spotlight/decode/greedy.h"

#include <doctest/doctest.h>

#include <cmath>

#include "spotlight/decode/beam.h"
#include "spotlight/decode/search.h"
#include "support/decode_ties.h"
#include "support/fixtures.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {
// A cached step's log-probabilities against the full forward pass's: 1e-5 relative plus the
// noise of a log-probability (decode_ties.h: 32 ε·log V; measured up to ~5 ε·log V across
// OpenBLAS cores).
Tol step_tol(const Transformer& m) { return {1e-5, logprob_noise(m.cfg.vocab_size, 0.0)}; }

// Greedy by repeated full forward passes: the uncached reference.
std::vector<int> reference_greedy(const Transformer& m, const std::vector<int>& src, long max_len) {
  std::vector<int> out;
  Transformer::Cache c;
  while (static_cast<long>(out.size()) < max_len) {
    const Batch b = make_batch({src}, {out}, m.cfg.pad_id, m.cfg.bos_id, m.cfg.eos_id);
    m.forward(b, c, nullptr);
    const float* row = c.logits.view().row(static_cast<long>(out.size()));
    int best = -1;
    for (int v = 0; v < m.cfg.vocab_size; ++v)
      if (v != m.cfg.pad_id && v != m.cfg.bos_id && (best < 0 || row[v] > row[best])) best = v;
    if (best == m.cfg.eos_id) break;
    out.push_back(best);
  }
  return out;
}
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("each cached decoding step equals the full forward pass at that position") {
  for (Norm norm : {Norm::pre, Norm::post}) {
    Rng rng(111);
    Transformer m(tiny_config(norm));
    m.init(rng);
    const auto src = random_sequences(rng, {5, 2, 7}, m.cfg.vocab_size);
    const auto tgt = random_sequences(rng, {6, 6, 6}, m.cfg.vocab_size);
    const Batch b = make_batch(src, tgt, 0, 2, 3);
    Transformer::Cache c;
    m.forward(b, c, nullptr);
    log_softmax(c.logits.view());
    TransformerStepModel stepper(m);
    stepper.start(src, 10);
    Tensor lp;
    double worst = 0.0;
    for (long t = 0; t < b.tgt_len_max; ++t) {
      std::vector<int> tokens;
      for (long s = 0; s < 3; ++s)
        tokens.push_back(b.tgt_in[static_cast<size_t>(s * b.tgt_len_max + t)]);
      stepper.step(tokens, lp);
      for (long s = 0; s < 3; ++s)
        for (long v = 0; v < m.cfg.vocab_size; ++v) {
          const double a = lp.view().at(s, v), want = c.logits.view().at(s * b.tgt_len_max + t, v);
          worst = std::max(worst, excess(a, want, step_tol(m)));
        }
    }
    MESSAGE("largest difference cached vs full forward: " << worst << "× the bar");
    CHECK(worst <= 1.0);
  }
}

TEST_CASE("beams sharing their sentence's memory, reordered and dropped, equal full forwards") {
  Rng rng(114);
  ModelConfig cfg = tiny_config();
  cfg.d_model = 40;  // heads of 20: the one-query attention's eight-wide lanes and their tail
  cfg.heads = 2;
  Transformer m(cfg);
  m.init(rng);
  const long beams = 3;
  const auto src = random_sequences(rng, {5, 2, 7}, m.cfg.vocab_size);
  TransformerStepModel stepper(m);
  stepper.start(src, 10);
  REQUIRE(stepper.rows() == 3);
  std::vector<int> sentence = {0, 1, 2};  // of each row
  std::vector<std::vector<int>> fed(3, std::vector<int>{m.cfg.bos_id});  // tokens fed per row
  Tensor lp;
  double worst = 0.0;
  for (long t = 0; t < 6; ++t) {
    std::vector<int> tokens;
    for (const auto& f : fed) tokens.push_back(f.back());
    stepper.step(tokens, lp);
    for (size_t r = 0; r < fed.size(); ++r) {  // each row against its own uncached forward
      const std::vector<int> history(fed[r].begin() + 1, fed[r].end());
      const Batch b = make_batch({src[static_cast<size_t>(sentence[r])]}, {history},
                                 m.cfg.pad_id, m.cfg.bos_id, m.cfg.eos_id);
      Transformer::Cache c;
      m.forward(b, c, nullptr);
      log_softmax(c.logits.view());
      for (long v = 0; v < m.cfg.vocab_size; ++v)
        worst = std::max(worst, excess(lp.view().at(static_cast<long>(r), v),
                                       c.logits.view().at(static_cast<long>(t), v), step_tol(m)));
    }
    if (t == 0) {  // one row per sentence so far: each becomes `beams` rows
      stepper.expand(beams);
      REQUIRE(stepper.rows() == 9);
      sentence = {0, 0, 0, 1, 1, 1, 2, 2, 2};
      fed.assign(9, fed[0]);
    }
    // Reorder the beams within each sentence (repeats allowed); drop sentence 1 after step 2.
    std::vector<int> rows;
    for (size_t g = 0; g * beams < fed.size(); ++g) {
      if (t == 2 && sentence[g * beams] == 1) continue;
      for (long j = 0; j < beams; ++j)
        rows.push_back(static_cast<int>(g * beams + rng.below(static_cast<uint32_t>(beams))));
    }
    std::vector<int> next_sentence;
    std::vector<std::vector<int>> next_fed;
    for (int r : rows) {
      next_sentence.push_back(sentence[static_cast<size_t>(r)]);
      next_fed.push_back(fed[static_cast<size_t>(r)]);
      next_fed.back().push_back(random_sequences(rng, {1}, m.cfg.vocab_size)[0][0]);
    }
    stepper.select(rows);
    sentence.swap(next_sentence);
    fed.swap(next_fed);
  }
  CHECK(stepper.rows() == 6);
  MESSAGE("largest difference beam-cached vs full forward: " << worst << "× the bar");
  CHECK(worst <= 1.0);
  // A row cannot leave its sentence's group: its memory would be wrong.
  const std::vector<int> mixed = {0, 3, 1, 4, 5, 2};
  CHECK_THROWS_WITH(stepper.select(mixed), doctest::Contains("must come from one group"));
}

TEST_CASE("batched cached greedy equals one-by-one and uncached greedy, in input order") {
  Rng rng(112);
  ModelConfig cfg = tiny_config();
  cfg.dropout = 0.0f;
  Transformer m(cfg);
  m.init(rng);
  const auto src = random_sequences(rng, {5, 1, 8, 3, 3, 6, 2}, cfg.vocab_size);
  DecodeConfig d;
  d.max_len_a = 1.0;
  d.max_len_b = 3;
  d.batch_size = 3;  // several batches, sorted by length inside
  const auto batched = greedy_translate(m, src, d);
  d.batch_size = 1;
  const auto single = greedy_translate(m, src, d);
  REQUIRE(batched.size() == src.size());
  long ties = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    CAPTURE(i);
    const auto& tokens = batched[i].tokens;
    if (expect_same_greedy("batched against one by one", m, src[i], tokens, single[i].tokens,
                           &ties))
      expect_near("score", batched[i].score, single[i].score,
                  score_tol(static_cast<long>(tokens.size()), cfg.vocab_size));
    const long limit = max_output_length(d, static_cast<long>(src[i].size()));
    CHECK(static_cast<long>(tokens.size()) <= limit);
    expect_same_greedy("batched against uncached", m, src[i], tokens,
                       reference_greedy(m, src[i], limit), &ties);
    for (int t : tokens) CHECK((t != cfg.pad_id && t != cfg.bos_id && t != cfg.eos_id));
  }
  CHECK(ties <= 2);  // near-ties are rare: most outputs are compared token for token
}

TEST_CASE("inputs as long as the model allows decode without running out of positions") {
  Rng rng(113);
  ModelConfig cfg = tiny_config();
  cfg.max_positions = 24;
  Transformer m(cfg);
  m.init(rng);
  const auto src = random_sequences(rng, {23, 5}, cfg.vocab_size);  // S = 24 with EOS
  DecodeConfig d;  // limit 1.5·24 + 10 = 46 > 24 positions: capped
  const auto g = greedy_translate(m, src, d);
  CHECK(static_cast<long>(g[0].tokens.size()) <= cfg.max_positions);
  d.beam = 3;
  const auto b = beam_translate(m, src, d, 2);
  CHECK(static_cast<long>(b[0][0].tokens.size()) <= cfg.max_positions - 1);
}

TEST_SUITE_END();
