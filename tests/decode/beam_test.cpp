// Beam search: on toy tables small enough to enumerate every output it finds the optimum (wide
// beam) and exactly what a plain single-sentence reference beam search finds (narrow beams);
// beam 1 is greedy; batched equals one-by-one; n-best lists, length limits, finished sentences
// leaving the batch, and the length normalisation's effect, computed by hand.
#include "spotlight/decode/beam.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <tuple>

#include "spotlight/decode/search.h"
#include "spotlight/kernels.h"
#include "support/decode_ties.h"
#include "support/fake_step_model.h"
#include "support/fixtures.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {

// The toy vocabulary: pad, unk, BOS, EOS and two word tokens; search may emit unk, 4, 5, EOS.
constexpr int kPad = 0, kBos = 2, kEos = 3;
constexpr SpecialPieces kSpecials{kPad, kBos, kEos};
constexpr long kVocab = 6;
const std::vector<int> kWords = {1, 4, 5};

// Σ log p of the tokens and the final EOS under the table, over (length + 1)^alpha.
double sequence_score(const NextTokenTable& table, long s, const std::vector<int>& tokens,
                      double alpha) {
  std::vector<int> prefix = {kBos};
  double sum = 0.0;
  for (int t : tokens) {
    sum += table(s, prefix)[static_cast<size_t>(t)];
    prefix.push_back(t);
  }
  sum += table(s, prefix)[kEos];
  return sum / std::pow(static_cast<double>(tokens.size() + 1), alpha);
}

// Every output of at most max_len word tokens (each then ends in EOS), with its score.
std::vector<Hypothesis> enumerate_all(const NextTokenTable& table, long s, long max_len,
                                      double alpha) {
  std::vector<Hypothesis> all;
  std::vector<std::vector<int>> level = {{}};
  for (long n = 0; n <= max_len; ++n) {
    std::vector<std::vector<int>> longer;
    for (const auto& tokens : level) {
      all.push_back({tokens, sequence_score(table, s, tokens, alpha)});
      for (int w : kWords) {
        longer.push_back(tokens);
        longer.back().push_back(w);
      }
    }
    level.swap(longer);
  }
  return all;
}

// Beam search written plainly for one sentence: hypotheses as token lists, candidates sorted
// with (score ↓, beam ↑, token ↑), the best 2·beam kept, EOS among the best `beam` finished
// (until there are `finish`, by default `beam`), the best `beam` others continued; EOS forced
// after max_len tokens. `steps`, if given, receives the number of model steps it took.
std::vector<Hypothesis> reference_beam(const NextTokenTable& table, long s, long max_len, long beam,
                                       double alpha, long finish = 0, long* steps = nullptr) {
  if (finish == 0) finish = beam;
  std::vector<Hypothesis> live = {{{}, 0.0}}, done;  // live scores are raw sums
  for (long t = 0;; ++t) {
    std::vector<std::tuple<double, long, int>> cand;  // (−score, beam, token)
    for (size_t b = 0; b < live.size(); ++b) {
      std::vector<int> prefix = {kBos};
      prefix.insert(prefix.end(), live[b].tokens.begin(), live[b].tokens.end());
      const std::vector<float> lp = table(s, prefix);
      for (int v = 0; v < kVocab; ++v)
        if (v != kPad && v != kBos && (t < max_len || v == kEos))
          cand.emplace_back(-(live[b].score + lp[static_cast<size_t>(v)]), b, v);
    }
    std::sort(cand.begin(), cand.end());
    cand.resize(std::min(cand.size(), static_cast<size_t>(2 * beam)));
    std::vector<Hypothesis> next;
    for (size_t j = 0; j < cand.size(); ++j) {
      const auto [neg, b, v] = cand[j];
      const auto& tokens = live[static_cast<size_t>(b)].tokens;
      if (v == kEos && static_cast<long>(j) < beam && static_cast<long>(done.size()) < finish)
        done.push_back({tokens, -neg / std::pow(static_cast<double>(t + 1), alpha)});
      if (v != kEos && static_cast<long>(next.size()) < beam) {
        next.push_back({tokens, -neg});
        next.back().tokens.push_back(v);
      }
    }
    if (t == max_len || static_cast<long>(done.size()) >= finish || next.empty()) {
      if (steps != nullptr) *steps = t + 1;
      break;
    }
    live.swap(next);
  }
  std::stable_sort(done.begin(), done.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  return done;
}

// Beam search of the table over one sentence per limit.
std::vector<std::vector<Hypothesis>> run_beam(const NextTokenTable& table,
                                              const std::vector<long>& max_len,
                                              const BeamOptions& o) {
  FakeStepModel model(table, kVocab, static_cast<long>(max_len.size()), o.beam, kSpecials);
  return beam_search(model, static_cast<long>(max_len.size()), max_len, o);
}

// log p(EOS | source, tokens) under the real model, by a full forward pass.
double eos_logprob(const Transformer& m, const std::vector<int>& src,
                   const std::vector<int>& tokens) {
  const Batch b = make_batch({src}, {tokens}, m.cfg.pad_id, m.cfg.bos_id, m.cfg.eos_id);
  Transformer::Cache c;
  m.forward(b, c, nullptr);
  log_softmax(c.logits.view());
  return c.logits.view().at(static_cast<long>(tokens.size()), m.cfg.eos_id);
}

// The small real model of the tests: tiny_config without dropout, seeded. Untrained, it hardly
// ever emits EOS; with `eos_prone`, EOS's embedding (shared with the output projection) is moved
// next to word 9's, so that EOS competes with it and some outputs end before their limit.
std::unique_ptr<Transformer> small_model(bool eos_prone = false) {
  ModelConfig cfg = tiny_config();
  cfg.dropout = cfg.attention_dropout = cfg.activation_dropout = 0.0f;
  auto m = std::make_unique<Transformer>(cfg);
  Rng rng(231);
  m->init(rng);
  if (eos_prone) {
    const MatView e = m->param("embed_tokens.weight").value.view();  // [V, D]
    for (long j = 0; j < cfg.d_model; ++j)
      e.at(cfg.eos_id, j) = e.at(9, j) + 0.2f * e.at(cfg.eos_id, j);
  }
  return m;
}

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("a beam wider than every prefix set finds the enumerated optimum and every output") {
  const long max_len = 4;
  const long all = 1 + 3 + 9 + 27 + 81;  // outputs of 0…4 word tokens over 3 words
  for (uint64_t seed = 1; seed <= 6; ++seed)
    for (double alpha : {0.0, 1.0}) {
      CAPTURE(seed);
      CAPTURE(alpha);
      const NextTokenTable table = random_table(seed, kVocab, kEos);
      std::vector<Hypothesis> truth = enumerate_all(table, 0, max_len, alpha);
      REQUIRE(static_cast<long>(truth.size()) == all);
      std::stable_sort(truth.begin(), truth.end(),
                       [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
      const auto got = run_beam(table, {max_len}, {all, alpha, all})[0];
      REQUIRE(static_cast<long>(got.size()) == all);  // every output was finished
      CHECK(got[0].tokens == truth[0].tokens);
      CHECK(got[0].score == doctest::Approx(truth[0].score).epsilon(1e-9));
      for (size_t i = 0; i < got.size(); ++i)
        CHECK(got[i].score == doctest::Approx(truth[i].score).epsilon(1e-9));
    }
}

// Length normalisation voids the greedy bound: fairseq's early stop ends a sentence once it has
// `beam` finished hypotheses, which may all be short while a longer one (greedy's, say) would
// normalise better. E.g. seed 7, beam 2, alpha 1, sentence 0: EOS ranks 2nd at step 0 and 2nd
// after token 1 at step 1, so the search stops with score −1.46 while greedy's 1 4 1 scores −1.08.
// The reference shares that rule, so equality with it still holds for every alpha.
TEST_CASE("narrow beams match a plain reference beam search and, unnormalised, beat greedy") {
  long worse_than_exact = 0, worse_than_greedy = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed)
    for (long beam : {2L, 3L})
      for (double alpha : {0.0, 1.0}) {
        CAPTURE(seed);
        CAPTURE(beam);
        CAPTURE(alpha);
        // Four sentences with their own tables and limits, searched in one batch.
        const NextTokenTable table = random_table(seed, kVocab, kEos);
        const std::vector<long> limits = {4, 2, 3, 4};
        const auto got = run_beam(table, limits, {beam, alpha, beam});
        FakeStepModel greedy_model(table, kVocab, 4, 1, kSpecials);
        const auto greedy = greedy_search(greedy_model, limits);
        for (long s = 0; s < 4; ++s) {
          CAPTURE(s);
          const auto want = reference_beam(table, s, limits[static_cast<size_t>(s)], beam, alpha);
          const auto& have = got[static_cast<size_t>(s)];
          REQUIRE(have.size() == want.size());
          for (size_t i = 0; i < have.size(); ++i) {
            CHECK(have[i].tokens == want[i].tokens);
            CHECK(have[i].score == doctest::Approx(want[i].score).epsilon(1e-12));
          }
          const double greedy_score =
              sequence_score(table, s, greedy[static_cast<size_t>(s)].tokens, alpha);
          if (alpha == 0.0) CHECK(have[0].score >= greedy_score - 1e-12);
          if (have[0].score < greedy_score - 1e-12) ++worse_than_greedy;
          double best = -1e30;
          for (const auto& h : enumerate_all(table, s, limits[static_cast<size_t>(s)], alpha))
            best = std::max(best, h.score);
          CHECK(have[0].score <= best + 1e-12);
          if (have[0].score < best - 1e-12) ++worse_than_exact;
        }
      }
  MESSAGE("narrow-beam sentences below the exact optimum: "
          << worse_than_exact << " of 640; below greedy: " << worse_than_greedy);
}

// Patience (Kasai et al. 2022) only moves the stop: a sentence ends with ⌈patience·beam⌉
// finished hypotheses instead of `beam`. The live beams follow the same path either way, so a
// larger patience finishes a superset of the hypotheses and its best never scores lower; with
// alpha 1 it is sometimes strictly better (the longer hypotheses the early stop cuts off). The
// number of model steps must match the reference's too: a patience below 1 that stopped late
// would return the same hypotheses, but not in the same steps.
TEST_CASE("patience ends a sentence after patience times beam finished hypotheses") {
  CHECK(stop_after(8, 1.0) == 8);
  CHECK(stop_after(8, 3.0) == 24);
  CHECK(stop_after(2, 1.5) == 3);
  CHECK(stop_after(25, 0.28) == 7);  // 0.28·25 is 7.000000000000001 in doubles
  CHECK(stop_after(4, 0.01) == 1);
  CHECK(stop_after(1, 5.0) == 1);  // beam 1 is greedy: its first EOS ends it
  long improved = 0, fewer_steps = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed)
    for (long beam : {2L, 3L})
      for (double patience : {0.5, 1.5, 2.0, 4.0}) {
        CAPTURE(seed);
        CAPTURE(beam);
        CAPTURE(patience);
        const NextTokenTable table = random_table(seed, kVocab, kEos);
        const std::vector<long> limits = {4, 2, 3, 5};
        const long finish = static_cast<long>(std::ceil(patience * static_cast<double>(beam)));
        REQUIRE(stop_after(beam, patience) == finish);
        const long nbest = std::min(beam, finish);
        const BeamOptions o{beam, 1.0, nbest, patience};
        FakeStepModel model(table, kVocab, 4, beam, kSpecials);
        const auto got = beam_search(model, 4, limits, o);
        FakeStepModel base_model(table, kVocab, 4, beam, kSpecials);
        const auto base = beam_search(base_model, 4, limits, {beam, 1.0, nbest});
        long steps = 0;  // the batch runs until its slowest sentence stops
        for (long s = 0; s < 4; ++s) {
          CAPTURE(s);
          long st = 0;
          auto want =
              reference_beam(table, s, limits[static_cast<size_t>(s)], beam, 1.0, finish, &st);
          steps = std::max(steps, st);
          if (static_cast<long>(want.size()) > nbest) want.resize(static_cast<size_t>(nbest));
          const auto& have = got[static_cast<size_t>(s)];
          REQUIRE(have.size() == want.size());
          for (size_t i = 0; i < have.size(); ++i) {
            CHECK(have[i].tokens == want[i].tokens);
            CHECK(have[i].score == doctest::Approx(want[i].score).epsilon(1e-12));
          }
          const double b = base[static_cast<size_t>(s)][0].score;
          if (patience > 1.0) {
            CHECK(have[0].score >= b - 1e-12);
            if (have[0].score > b + 1e-12) ++improved;
          } else {
            CHECK(have[0].score <= b + 1e-12);
          }
        }
        CHECK(static_cast<long>(model.rows_per_step.size()) == steps);
        if (patience < 1.0 && model.rows_per_step.size() < base_model.rows_per_step.size())
          ++fewer_steps;
      }
  MESSAGE("sentences a patience above 1 improved: " << improved << " of 960; batches a patience "
          "below 1 ended sooner: " << fewer_steps << " of 80");
  CHECK(improved > 0);
  CHECK(fewer_steps > 0);
  // The finished count is ⌈patience·beam⌉, nbest may not exceed it, patience must be positive.
  const NextTokenTable table = random_table(3, kVocab, kEos);
  CHECK_THROWS_WITH_AS(run_beam(table, {4}, {4, 1.0, 3, 0.5}), doctest::Contains("nbest exceeds"),
                       Error);
  CHECK_THROWS_WITH_AS(run_beam(table, {4}, {2, 1.0, 1, 0.0}), doctest::Contains("patience"), Error);
  CHECK_NOTHROW(run_beam(table, {4}, {4, 1.0, 2, 0.5}));
}

// With patience 0.5 and a likely EOS, sentences also leave at the compact first step.
TEST_CASE("a model holding each sentence once runs the first step compact and then expands") {
  long left_at_first_step = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed)
    for (long beam : {2L, 4L})
      for (double patience : {1.0, 0.5}) {
        CAPTURE(seed);
        CAPTURE(beam);
        CAPTURE(patience);
        const NextTokenTable table =
            random_table(seed, kVocab, kEos, patience < 1.0 ? 1.5f : 0.0f);
        const std::vector<long> limits = {4, 2, 3};
        const long nbest = std::min(beam, stop_after(beam, patience));
        const BeamOptions o{beam, 1.0, nbest, patience};
        const auto want = run_beam(table, limits, o);
        FakeStepModel compact(table, kVocab, 3, 1, kSpecials);
        const auto got = beam_search(compact, 3, limits, o);
        REQUIRE(!compact.rows_per_step.empty());
        CHECK(compact.rows_per_step[0] == 3);  // the first step: one row per sentence
        if (compact.rows_per_step.size() >= 2) {
          CHECK(compact.rows_per_step[1] % beam == 0);
          left_at_first_step += 3 - compact.rows_per_step[1] / beam;
        } else {
          left_at_first_step += 3;
        }
        REQUIRE(got.size() == want.size());
        for (size_t s = 0; s < got.size(); ++s) {
          REQUIRE(got[s].size() == want[s].size());
          for (size_t i = 0; i < got[s].size(); ++i) {
            CHECK(got[s][i].tokens == want[s][i].tokens);
            CHECK(got[s][i].score == want[s][i].score);
          }
        }
      }
  CHECK(left_at_first_step > 0);
}

TEST_CASE("beam 1 gives greedy's tokens and log-probability on the fake model") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    // A mild EOS penalty, so that some sentences stop on EOS and some at their limit.
    const NextTokenTable table = random_table(seed, kVocab, kEos, -1.0f);
    const std::vector<long> limits = {1, 3, 4, 6, 2};
    const auto beam = run_beam(table, limits, {1, 0.0, 1});
    FakeStepModel greedy_model(table, kVocab, 5, 1, kSpecials);
    const auto greedy = greedy_search(greedy_model, limits);
    for (size_t s = 0; s < limits.size(); ++s) {
      CAPTURE(s);
      REQUIRE(beam[s].size() == 1);
      CHECK(beam[s][0].tokens == greedy[s].tokens);
      // At the limit greedy stops without EOS; beam search forces EOS and counts it.
      double eos = 0.0;
      if (static_cast<long>(greedy[s].tokens.size()) == limits[s]) {
        std::vector<int> prefix = {kBos};
        prefix.insert(prefix.end(), greedy[s].tokens.begin(), greedy[s].tokens.end());
        eos = table(static_cast<long>(s), prefix)[kEos];
      }
      CHECK(beam[s][0].score == doctest::Approx(greedy[s].score + eos).epsilon(1e-12));
    }
  }
}

TEST_CASE("beam 1 translation gives greedy translation's tokens and log-probability") {
  const auto model = small_model(true);
  const Transformer& m = *model;
  Rng rng(232);
  const auto src = random_sequences(rng, {5, 1, 8, 3, 3, 6, 2, 4, 7, 5, 2, 9}, m.cfg.vocab_size);
  DecodeConfig d;
  d.beam = 1;
  d.alpha = 0.0;  // scores are then the raw Σ log p
  d.max_len_a = 1.0;
  d.max_len_b = 3;
  d.batch_size = 3;
  const auto greedy = greedy_translate(m, src, d);
  const auto beam = beam_translate(m, src, d);
  REQUIRE(beam.size() == src.size());
  // The two searches batch the rows differently, so their log-probabilities are equal to
  // rounding only: tokens up to an argmax near-tie, scores within score_tol (decode_ties.h).
  long at_limit = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    CAPTURE(i);
    REQUIRE(beam[i].size() == 1);
    if (!expect_same_greedy("beam 1 against greedy", m, src[i], beam[i][0].tokens,
                            greedy[i].tokens))
      continue;
    double eos = 0.0;
    if (static_cast<long>(greedy[i].tokens.size()) ==
        max_output_length(d, static_cast<long>(src[i].size()))) {
      eos = eos_logprob(m, src[i], greedy[i].tokens);
      ++at_limit;
    }
    expect_near("score", beam[i][0].score, greedy[i].score + eos,
                score_tol(static_cast<long>(greedy[i].tokens.size()), m.cfg.vocab_size));
  }
  MESSAGE(at_limit << " of " << src.size() << " sentences reached the length limit");
  CHECK(at_limit < static_cast<long>(src.size()));  // both endings are compared
}

TEST_CASE("batched beam translation equals one-by-one, in input order") {
  const auto model = small_model(true);
  const Transformer& m = *model;
  Rng rng(233);
  const auto src = random_sequences(rng, {5, 1, 8, 3, 3, 6, 2}, m.cfg.vocab_size);
  DecodeConfig d;
  d.beam = 4;
  d.alpha = 1.0;
  d.max_len_a = 1.0;
  d.max_len_b = 3;
  d.batch_size = 3;  // several batches, sorted by length inside
  const auto batched = beam_translate(m, src, d, 2);
  d.batch_size = 1;
  const auto single = beam_translate(m, src, d, 2);
  REQUIRE(batched.size() == src.size());
  // Other batches, other products: the lists agree to rounding, near-equal hypotheses may trade
  // places (decode_ties.h).
  for (size_t i = 0; i < src.size(); ++i) {
    CAPTURE(i);
    const auto alone = beam_translate(m, {src[i]}, d, 2)[0];  // no sorting can misplace it
    REQUIRE(batched[i].size() == 2);
    REQUIRE(single[i].size() == 2);
    REQUIRE(alone.size() == 2);
    size_t longest = 0;
    for (const auto& h : batched[i]) longest = std::max(longest, h.tokens.size());
    const Tol tol = score_tol(static_cast<long>(longest), m.cfg.vocab_size);
    expect_same_nbest("batched against one by one", batched[i], single[i], tol);
    expect_same_nbest("batched against alone", batched[i], alone, tol);
  }
}

TEST_CASE("n-best lists hold beam distinct hypotheses, best first, with their true scores") {
  // Fake model: every list is checked against the table's own scores.
  const NextTokenTable table = random_table(7, kVocab, kEos, -0.5f);
  const std::vector<long> limits = {3, 5, 2};
  const auto got = run_beam(table, limits, {4, 1.0, 4});
  for (size_t s = 0; s < limits.size(); ++s) {
    CAPTURE(s);
    REQUIRE(got[s].size() == 4);
    std::set<std::vector<int>> distinct;
    for (size_t j = 0; j < got[s].size(); ++j) {
      distinct.insert(got[s][j].tokens);
      CHECK(got[s][j].score ==
            doctest::Approx(sequence_score(table, static_cast<long>(s), got[s][j].tokens, 1.0))
                .epsilon(1e-12));
      if (j > 0) CHECK(got[s][j - 1].score >= got[s][j].score);
    }
    CHECK(distinct.size() == 4);
  }
  // Real model.
  const auto model = small_model();
  const Transformer& m = *model;
  Rng rng(234);
  const auto src = random_sequences(rng, {4, 7, 2}, m.cfg.vocab_size);
  DecodeConfig d;
  d.beam = 5;
  d.max_len_a = 1.0;
  d.max_len_b = 3;
  for (const auto& list : beam_translate(m, src, d, 5)) {
    REQUIRE(list.size() == 5);
    std::set<std::vector<int>> distinct;
    for (size_t j = 0; j < list.size(); ++j) {
      distinct.insert(list[j].tokens);
      if (j > 0) CHECK(list[j - 1].score >= list[j].score);
      for (int t : list[j].tokens)
        CHECK((t != m.cfg.pad_id && t != m.cfg.bos_id && t != m.cfg.eos_id));
    }
    CHECK(distinct.size() == 5);
  }
}

TEST_CASE("the length limit forces EOS after max_len tokens, and the forced EOS is scored") {
  // EOS so unlikely that no hypothesis ends before its limit.
  const NextTokenTable table = random_table(11, kVocab, kEos, -30.0f);
  const std::vector<long> limits = {0, 1, 3, 5};
  for (long beam : {1L, 3L}) {
    const auto got = run_beam(table, limits, {beam, 1.0, beam});
    for (size_t s = 0; s < limits.size(); ++s) {
      CAPTURE(s);
      REQUIRE(!got[s].empty());
      for (const auto& h : got[s]) {
        CHECK(static_cast<long>(h.tokens.size()) == limits[s]);
        CHECK(h.score == doctest::Approx(sequence_score(table, static_cast<long>(s), h.tokens, 1.0))
                             .epsilon(1e-12));
        for (int t : h.tokens) CHECK((t != kPad && t != kBos && t != kEos));
      }
    }
  }
}

TEST_CASE("finished sentences leave the batch") {
  // Sentence 0 ends almost surely at once; sentences 1 and 2 run to their limits 3 and 5.
  const NextTokenTable eager = random_table(12, kVocab, kEos, 30.0f);
  const NextTokenTable reluctant = random_table(13, kVocab, kEos, -30.0f);
  const NextTokenTable table = [&](long s, const std::vector<int>& prefix) {
    return s == 0 ? eager(s, prefix) : reluctant(s, prefix);
  };
  const long beam = 2;
  FakeStepModel model(table, kVocab, 3, beam, kSpecials);
  const auto got = beam_search(model, 3, {5, 3, 5}, {beam, 1.0, beam});
  // Sentence 0 finishes EOS from beam 0 at step 0 and from both beams at step 1.
  CHECK(got[0].size() == 2);
  CHECK(got[0][0].tokens.empty());
  // Steps 0–1: three sentences; 2–3: two (sentence 1 forced EOS at step 3); 4–5: one.
  CHECK(model.rows_per_step == std::vector<long>{6, 6, 4, 4, 2, 2});
  CHECK(model.selects >= 2);
  CHECK(got[1][0].tokens.size() == 3);
  CHECK(got[2][0].tokens.size() == 5);
}

TEST_CASE("alpha decides between a short and a long hypothesis as computed by hand") {
  // pad 0, unk 1, BOS 2, EOS 3, A 4, B 5. After BOS: A 0.5, B 0.3 (most of the rest on pad and
  // BOS, which search must skip). Short: A EOS = 0.5·0.5. Long: B B B EOS = 0.3·0.9·0.9·0.9.
  // Anything else continues with unk almost surely, so it never finishes early.
  const float tiny = 1e-4f;
  auto row = [&](std::vector<std::pair<int, float>> probs) {
    std::vector<float> lp(kVocab, std::log(tiny));
    for (auto [v, p] : probs) lp[static_cast<size_t>(v)] = std::log(p);
    return lp;
  };
  const NextTokenTable table = [&](long, const std::vector<int>& prefix) {
    const std::vector<int> A = {kBos, 4}, B = {kBos, 5}, BB = {kBos, 5, 5}, BBB = {kBos, 5, 5, 5};
    if (prefix == std::vector<int>{kBos}) return row({{4, 0.5f}, {5, 0.3f}, {0, 0.1f}, {2, 0.1f}});
    if (prefix == A) return row({{kEos, 0.5f}, {0, 0.5f}});
    if (prefix == B || prefix == BB) return row({{5, 0.9f}, {0, 0.1f}});
    if (prefix == BBB) return row({{kEos, 0.9f}, {0, 0.1f}});
    return row({{1, 1.0f - 5 * tiny}});
  };
  const double short_sum = 2.0 * std::log(0.5f);
  const double long_sum = std::log(0.3f) + 3.0 * std::log(0.9f);
  REQUIRE(short_sum > long_sum);              // alpha 0: the short one wins,
  REQUIRE(short_sum / 2.0 < long_sum / 4.0);  // alpha 1: the long one.
  const std::vector<int> short_tokens = {4}, long_tokens = {5, 5, 5};

  const auto raw = run_beam(table, {6}, {2, 0.0, 2})[0];
  REQUIRE(raw.size() == 2);
  CHECK(raw[0].tokens == short_tokens);
  CHECK(raw[0].score == doctest::Approx(short_sum).epsilon(1e-6));
  CHECK(raw[1].tokens == long_tokens);
  CHECK(raw[1].score == doctest::Approx(long_sum).epsilon(1e-6));

  const auto normalised = run_beam(table, {6}, {2, 1.0, 2})[0];
  REQUIRE(normalised.size() == 2);
  CHECK(normalised[0].tokens == long_tokens);
  CHECK(normalised[0].score == doctest::Approx(long_sum / 4.0).epsilon(1e-6));
  CHECK(normalised[1].tokens == short_tokens);
  CHECK(normalised[1].score == doctest::Approx(short_sum / 2.0).epsilon(1e-6));

  // Greedy takes A, then EOS: the short one whatever alpha.
  FakeStepModel greedy_model(table, kVocab, 1, 1, kSpecials);
  CHECK(greedy_search(greedy_model, {6})[0].tokens == short_tokens);
}

TEST_CASE("beam search rejects a model not started with one row per beam, and bad n-best") {
  const NextTokenTable table = random_table(1, kVocab, kEos);
  FakeStepModel model(table, kVocab, 2, 3, kSpecials);
  CHECK_THROWS_AS(beam_search(model, 2, {3, 3}, {2, 1.0, 1}), Error);
  CHECK_THROWS_AS(beam_search(model, 2, {3, 3}, {3, 1.0, 4}), Error);
  CHECK_THROWS_AS(beam_search(model, 2, {3}, {3, 1.0, 1}), Error);
}

TEST_CASE("search over a shortlist's columns equals search over the whole vocabulary with −inf") {
  // A model whose output columns score pieces {1, 3, 5, 6, 8} of a vocabulary of 10, against the
  // same table spread over all 10 pieces with −inf for the others (how decoding worked before
  // the output projection searched in its own columns): identical pieces and scores, greedy and
  // beam, n-best lists included. A search that forgot to map columns to pieces, or mapped them
  // with an offset, returns other pieces.
  const std::vector<int> pieces = {1, 3, 5, 6, 8};
  const long vocab = 10;
  const NextTokenTable compact = random_table(41, static_cast<long>(pieces.size()), 1, 0.3f);
  const NextTokenTable spread = [&](long s, const std::vector<int>& prefix) {
    std::vector<float> lp(static_cast<size_t>(vocab), -std::numeric_limits<float>::infinity());
    const std::vector<float> row = compact(s, prefix);
    for (size_t c = 0; c < pieces.size(); ++c) lp[static_cast<size_t>(pieces[c])] = row[c];
    return lp;
  };
  const std::vector<long> limits = {4, 6, 2};
  FakeStepModel narrow(compact, vocab, 3, 1, kSpecials, pieces), wide(spread, vocab, 3, 1, kSpecials);
  const auto g_narrow = greedy_search(narrow, limits), g_wide = greedy_search(wide, limits);
  bool mapped = false;  // some output holds a piece whose id differs from its column
  for (size_t s = 0; s < limits.size(); ++s) {
    CHECK(g_narrow[s].tokens == g_wide[s].tokens);
    CHECK(g_narrow[s].score == g_wide[s].score);
    for (int t : g_narrow[s].tokens) mapped |= t != 1 && t != 3;
  }
  CHECK(mapped);
  for (long beam : {2L, 4L}) {
    const BeamOptions o{beam, 1.0, beam};
    FakeStepModel bn(compact, vocab, 3, beam, kSpecials, pieces), bw(spread, vocab, 3, beam, kSpecials);
    const auto narrow_hyps = beam_search(bn, 3, limits, o), wide_hyps = beam_search(bw, 3, limits, o);
    for (size_t s = 0; s < limits.size(); ++s) {
      REQUIRE(narrow_hyps[s].size() == wide_hyps[s].size());
      for (size_t j = 0; j < narrow_hyps[s].size(); ++j) {
        CHECK(narrow_hyps[s][j].tokens == wide_hyps[s][j].tokens);
        CHECK(narrow_hyps[s][j].score == wide_hyps[s][j].score);
      }
    }
  }
}

TEST_SUITE_END();
