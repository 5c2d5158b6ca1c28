// Label-smoothed cross-entropy against hand-computed values (PyTorch's definition) and finite
// differences.
#include "spotlight/train/loss.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "support/grad_check.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

TEST_SUITE_BEGIN("unit");

TEST_CASE("cross-entropy equals hand-computed values, pad rows ignored") {
  // Two rows over V = 3: logits (0, ln 2, 0) → p = (1/4, 1/2, 1/4); row 2 is padding.
  Tensor logits({2, 3});
  logits[1] = std::log(2.0f);
  const std::vector<int> targets = {1, 0};
  const LossStats plain = cross_entropy(logits, targets, 0, 0.0f, 0.0f, nullptr);
  CHECK(plain.tokens == 1);
  CHECK(plain.nll == doctest::Approx(std::log(2.0)));
  CHECK(plain.loss == doctest::Approx(std::log(2.0)));
  // ε = 0.3: 0.7·ln 2 + 0.3·(ln 4 + ln 2 + ln 4)/3 = 0.7·ln 2 + 0.5·ln 2.
  const LossStats smooth = cross_entropy(logits, targets, 0, 0.3f, 0.0f, nullptr);
  CHECK(smooth.loss == doctest::Approx(1.2 * std::log(2.0)));
  CHECK(smooth.nll == doctest::Approx(std::log(2.0)));
  Tensor d;
  cross_entropy(logits, targets, 0, 0.3f, 1.0f, &d);
  CHECK(d[0] == doctest::Approx(0.25 - 0.1));
  CHECK(d[1] == doctest::Approx(0.5 - 0.7 - 0.1));
  CHECK(d[2] == doctest::Approx(0.25 - 0.1));
  for (long j = 3; j < 6; ++j) CHECK(d[j] == 0.0f);
  const std::vector<int> bad = {5, 0};
  CHECK_THROWS_WITH_AS(cross_entropy(logits, bad, 0, 0.1f, 1.0f, nullptr),
                       doctest::Contains("out of range"), Error);
}

TEST_CASE("cross-entropy gradient matches finite differences, in place or not") {
  Rng rng(41);
  Tensor logits({6, 9});
  fill_uniform(logits, rng, -4, 4);
  const std::vector<int> t = {3, 0, 8, 1, 1, 0};
  auto f = [&] { return cross_entropy(logits, t, 0, 0.1f, 0.0f, nullptr).loss / 4.0; };
  Tensor d;
  cross_entropy(logits, t, 0, 0.1f, 0.25f, &d);
  expect_gradients({{"logits", &logits, &d}}, f);
  Tensor in_place = logits;
  cross_entropy(in_place, t, 0, 0.1f, 0.25f, &in_place);
  for (long i = 0; i < d.size(); ++i) CHECK(in_place[i] == d[i]);
  // Large logits stay finite (log-sum-exp with the max subtracted).
  logits.fill(0.0f);
  logits[3] = 1000.0f;
  const LossStats st = cross_entropy(logits, t, 0, 0.1f, 0.0f, nullptr);
  CHECK(std::isfinite(st.loss));
}

TEST_CASE("cross-entropy over a wide vocabulary equals a double-precision reference") {
  // V = 1003: the eight-wide vector path and its scalar tail; logits spread over ±30 so the
  // exponentials span many orders of magnitude (and some underflow to ~0).
  const long n = 6, v = 1003;
  Rng rng(4);
  Tensor logits({n, v});
  fill_uniform(logits, rng, -30.0f, 30.0f);
  std::vector<int> targets = {5, 1002, 0, 17, 999, 500};  // row 2 is padding (id 0)
  const float eps = 0.1f, scale = 0.5f;
  Tensor dlogits;
  const LossStats st = cross_entropy(logits, targets, 0, eps, scale, &dlogits);
  double loss = 0.0, nll = 0.0;
  for (long i = 0; i < n; ++i) {
    const int y = targets[static_cast<size_t>(i)];
    if (y == 0) continue;
    double mx = -1e30, sum = 0.0, sum_l = 0.0;
    for (long j = 0; j < v; ++j) mx = std::max(mx, static_cast<double>(logits.view().at(i, j)));
    for (long j = 0; j < v; ++j) {
      sum += std::exp(logits.view().at(i, j) - mx);
      sum_l += logits.view().at(i, j);
    }
    const double lse = mx + std::log(sum);
    nll += lse - logits.view().at(i, y);
    loss += (1 - eps) * (lse - logits.view().at(i, y)) + eps * (lse - sum_l / v);
    for (long j = 0; j < v; ++j) {
      const double p = std::exp(logits.view().at(i, j) - lse);
      const double target = (j == y ? 1 - eps : 0.0) + eps / v;
      const double g = scale * (p - target);
      // g = scale·(p − target) cancels where p ≈ target: the error is relative to the terms,
      // not to g. 1e-5 of scale·(p + target) covers float32 exp and the row's sum.
      REQUIRE(near(dlogits.view().at(i, j), g, {0.0, 1e-5 * scale * (p + target)}));
    }
  }
  CHECK(st.tokens == 5);
  expect_near("nll", st.nll, nll, {1e-6, 0.0});  // Σ of positive terms: relative
  expect_near("loss", st.loss, loss, {1e-6, 0.0});
}

TEST_SUITE_END();
