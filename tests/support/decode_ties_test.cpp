// support/decode_ties.h tells an argmax near-tie (both choices within rounding: either output is
// right) from a real difference between two decodings. A model whose pieces 9 and 10 share one
// embedding row gives them exactly equal log-probabilities everywhere: swapping one for the
// other where an output chose it is a tie. Replacing a chosen token by the least likely one is a
// real difference and fails (the should_fail case shows the check failing on it).
#include "support/decode_ties.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "support/fixtures.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {
// tiny_config without dropout; pieces 9 and 10 share an embedding (and output) row.
const Transformer& twin_model() {
  static Transformer m([] {
    ModelConfig c = tiny_config();
    c.dropout = c.attention_dropout = c.activation_dropout = 0.0f;
    return c;
  }());
  static const bool ready = [] {
    Rng rng(41);
    m.init(rng);
    const MatView e = m.param("embed_tokens.weight").value.view();  // [V, D]
    for (long j = 0; j < m.cfg.d_model; ++j) e.at(10, j) = e.at(9, j);
    return true;
  }();
  (void)ready;
  return m;
}
const std::vector<int> kSrc = {5, 9, 12, 7};
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("greedy_divergence: equal outputs, an exact tie, and a real difference") {
  const Transformer& m = twin_model();
  const std::vector<int> a = {5, 9, 4, 6};
  CHECK(greedy_divergence(m, kSrc, a, a).equal());

  std::vector<int> twin = a;
  twin[1] = 10;  // the twin of 9: the same log-probability at that step
  const Divergence tie = greedy_divergence(m, kSrc, a, twin);
  CHECK(tie.at == 1);
  CHECK(tie.gap == 0.0);
  CHECK(tie.near_tie());
  CHECK(!expect_same_greedy("twin", m, kSrc, a, twin));  // not equal: scores not comparable

  // The least likely piece at step 2 (after 5 9) instead of a's: far beyond a tie.
  const Tensor lp = reference_logprobs(m, kSrc, {5, 9});
  const float* row = lp.view().row(2);
  std::vector<int> worst = a;
  worst[2] = static_cast<int>(std::min_element(row + 4, row + m.cfg.vocab_size) - row);
  const Divergence d = greedy_divergence(m, kSrc, a, worst);
  CHECK(d.at == 2);
  CHECK(!d.near_tie());
  CHECK(d.gap > 1e3 * d.tie);
  // An output that ends where the other goes on: EOS against the token.
  const std::vector<int> shorter(a.begin(), a.begin() + 2);
  const Divergence e = greedy_divergence(m, kSrc, a, shorter);
  CHECK(e.at == 2);
  CHECK(e.gap == doctest::Approx(std::fabs(row[a[2]] - row[m.cfg.eos_id])));
}

TEST_CASE("expect_same_greedy fails on a real difference" * doctest::should_fail()) {
  const Transformer& m = twin_model();
  const std::vector<int> a = {5, 9, 4, 6}, b = {5, 9, 11, 6};
  REQUIRE(!greedy_divergence(m, kSrc, a, b).near_tie());
  expect_same_greedy("a real difference", m, kSrc, a, b);
}

TEST_CASE("expect_same_nbest: scores to rounding, near-equal hypotheses may trade places") {
  const std::vector<Hypothesis> a = {{{4, 5}, -1.0}, {{6}, -1.0 + 1e-9}, {{7}, -2.0}};
  const std::vector<Hypothesis> swapped = {{{6}, -1.0}, {{4, 5}, -1.0}, {{7}, -2.0}};
  const Tol tol{1e-5, 1e-6};
  CHECK(expect_same_nbest("identical", a, a, tol));
  CHECK(expect_same_nbest("a near-tie swapped", a, swapped, tol));
}

TEST_CASE("expect_same_nbest fails on another hypothesis" * doctest::should_fail()) {
  const std::vector<Hypothesis> a = {{{4, 5}, -1.0}, {{7}, -2.0}};
  const std::vector<Hypothesis> other = {{{4, 5}, -1.0}, {{8}, -2.0}};
  expect_same_nbest("another second hypothesis", a, other, {1e-5, 1e-6});
}

TEST_CASE("expect_same_nbest fails on a score beyond rounding" * doctest::should_fail()) {
  const std::vector<Hypothesis> a = {{{4, 5}, -1.0}}, b = {{{4, 5}, -1.001}};
  expect_same_nbest("score", a, b, {1e-5, 1e-6});
}

TEST_SUITE_END();
