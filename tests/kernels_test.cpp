// Kernels: masked softmax, layer norm, activations and dropout against finite differences and
// hand-computed values.
#include "spotlight/kernels.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "support/grad_check.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

TEST_SUITE_BEGIN("unit");

TEST_CASE("masked softmax: hand-computed values, masks, zero rows") {
  Tensor s({3, 4});
  for (long i = 0; i < 12; ++i) s[i] = static_cast<float>(i % 4);  // rows 0 1 2 3
  masked_softmax(s.view(), 1.0f, 3, true);  // row i sees keys [0, min(3, i+1))
  CHECK(s.view().at(0, 0) == 1.0f);
  CHECK(s.view().at(0, 1) == 0.0f);
  const float e = std::exp(1.0f);
  CHECK(s.view().at(1, 0) == doctest::Approx(1.0f / (1.0f + e)));
  CHECK(s.view().at(1, 1) == doctest::Approx(e / (1.0f + e)));
  CHECK(s.view().at(2, 3) == 0.0f);  // beyond key_len
  for (long i = 0; i < 3; ++i) {
    float sum = 0.0f;
    for (long j = 0; j < 4; ++j) sum += s.view().at(i, j);
    CHECK(sum == doctest::Approx(1.0f).epsilon(1e-6));
  }
  // A row with no visible key is all zeros; more keys than columns means all columns.
  Tensor t({1, 4});
  t.fill(2.0f);
  masked_softmax(t.view(), 1.0f, 0, false);
  for (long j = 0; j < 4; ++j) CHECK(t[j] == 0.0f);
  t.fill(2.0f);
  masked_softmax(t.view(), 1.0f, 10, false);
  for (long j = 0; j < 4; ++j) CHECK(t[j] == 0.25f);
}

TEST_CASE("masked softmax: a row holding NaN comes out all NaN, in the lanes and in the tail") {
  // A diverged score row must stay visibly diverged (training stops on a NaN loss), and the
  // exponent of a NaN is never converted to an integer (undefined; UBSan reports it).
  for (long n : {5L, 8L, 13L, 20L}) {
    for (long at = 0; at < n; ++at) {
      Tensor t({1, n});
      for (long j = 0; j < n; ++j) t[j] = 0.1f * static_cast<float>(j % 7);
      t[at] = std::numeric_limits<float>::quiet_NaN();
      masked_softmax(t.view(), 1.0f, n, false);
      for (long j = 0; j < n; ++j) {
        INFO("n = ", n, ", NaN at ", at, ", column ", j);
        CHECK(std::isnan(t[j]));
      }
    }
  }
}

TEST_CASE("masked softmax backward matches finite differences (causal, padded, scaled)") {
  Rng rng(3);
  const long tq = 5, tk = 6;
  Tensor s({tq, tk}), w({tq, tk}), p({tq, tk});
  fill_uniform(s, rng, -2, 2);
  fill_uniform(w, rng);
  const float scale = 0.35f;
  auto f = [&] {
    p = s;
    masked_softmax(p.view(), scale, 4, true);
    return dot(p, w);
  };
  f();
  Tensor ds = w;
  masked_softmax_backward(p.view(), ds.view(), scale);
  expect_gradients({{"scores", &s, &ds}}, f);
}

TEST_CASE("layer norm forward is normalised and backward matches finite differences") {
  Rng rng(4);
  const long n = 4, d = 7;
  Tensor x({n, d}), y({n, d}), w({n, d}), gamma({d}), beta({d}), mean({n}), rstd({n});
  fill_uniform(x, rng, -3, 3);
  fill_uniform(w, rng);
  fill_uniform(gamma, rng, 0.5, 1.5);
  fill_uniform(beta, rng);
  Tensor unit({d}), zero({d});
  unit.fill(1.0f);
  layer_norm(x.view(), unit.data(), zero.data(), 1e-5f, y.view(), mean.data(), rstd.data());
  double m0 = 0, v0 = 0, largest = 0;
  for (long j = 0; j < d; ++j) m0 += y.view().at(0, j);
  for (long j = 0; j < d; ++j) v0 += y.view().at(0, j) * y.view().at(0, j);
  for (long j = 0; j < d; ++j) largest = std::max(largest, std::fabs(double{y.view().at(0, j)}));
  // The mean of a normalised row is zero in exact arithmetic: checked absolutely, at the
  // rounding of the row's entries (mean and centring each round at ε·|y|; 32 ε of room).
  expect_zero("mean of a normalised row", m0 / d, noise_atol(largest, 32));
  CHECK(v0 / d == doctest::Approx(1.0).epsilon(1e-4));

  auto f = [&] {
    layer_norm(x.view(), gamma.data(), beta.data(), 1e-5f, y.view(), mean.data(), rstd.data());
    return dot(y, w);
  };
  f();
  Tensor dx({n, d}), dgamma({d}), dbeta({d});
  layer_norm_backward(x.view(), gamma.data(), mean.data(), rstd.data(), w.view(), dx.view(),
                      dgamma.data(), dbeta.data());
  expect_gradients({{"x", &x, &dx}, {"gamma", &gamma, &dgamma}, {"beta", &beta, &dbeta}}, f);
}

TEST_CASE("ReLU and GELU backward match finite differences") {
  for (Activation a : {Activation::relu, Activation::gelu}) {
    CAPTURE(static_cast<int>(a));
    Rng rng(5);
    Tensor x({3, 8}), y({3, 8}), w({3, 8}), dx({3, 8});
    fill_uniform(x, rng, -2, 2);
    for (long i = 0; i < x.size(); ++i)  // keep ReLU inputs away from its kink
      if (std::fabs(x[i]) < 0.05f) x[i] = 0.5f;
    fill_uniform(w, rng);
    auto f = [&] {
      activation(a, x.view(), y.view());
      return dot(y, w);
    };
    activation_backward(a, x.view(), w.view(), dx.view());
    expect_gradients({{"x", &x, &dx}}, f);
  }
  Tensor x({1, 3}), y({1, 3});
  x[0] = -1.0f;
  x[1] = 0.0f;
  x[2] = 1.0f;
  activation(Activation::gelu, x.view(), y.view());
  CHECK(y[0] == doctest::Approx(-0.158655254f));  // −1 · Φ(−1)
  CHECK(y[1] == 0.0f);
  CHECK(y[2] == doctest::Approx(0.841344746f));
}

TEST_CASE("dropout: expected scale, backward uses the same mask, p = 0 is identity") {
  Rng rng(6);
  Tensor x({200, 50}), y, dy({200, 50}), dx;
  DropoutMask mask;
  x.fill(1.0f);
  dropout(0.25f, rng, x, mask, y);
  double sum = 0.0;
  long zeros = 0;
  for (long i = 0; i < y.size(); ++i) {
    sum += y[i];
    zeros += y[i] == 0.0f;
  }
  CHECK(sum / y.size() == doctest::Approx(1.0).epsilon(0.02));
  CHECK(static_cast<double>(zeros) / y.size() == doctest::Approx(0.25).epsilon(0.05));
  dy.fill(2.0f);
  dropout_backward(mask, dy, dx);
  for (long i = 0; i < dx.size(); ++i) CHECK(dx[i] == (y[i] == 0.0f ? 0.0f : 2.0f / 0.75f));
  dropout(0.0f, rng, x, mask, y);
  CHECK(mask.size() == 0);
  for (long i = 0; i < y.size(); ++i) REQUIRE(y[i] == x[i]);
  CHECK_THROWS_AS(dropout(1.0f, rng, x, mask, y), Error);
}

TEST_CASE("row_top keeps the best entries, ties to the lower column, never NaN or a skipped one") {
  // Against sorting every (value, column) pair: values from a small set, so ties are common;
  // NaN, −∞ and skipped columns mixed in; lengths on and off the 32-wide blocks. Then rising
  // values, so that blocks after the list is full must still enter, with NaN among them.
  Rng rng(31);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  long compared = 0;
  for (const long n : {1L, 7L, 8L, 9L, 64L, 100L, 5798L}) {
    for (const long count : {1L, 3L, 10L, 16L}) {
      for (const int mode : {0, 1, 2, 3}) {
        const bool with_skip = (mode & 1) != 0, rising = (mode & 2) != 0;
        CAPTURE(n);
        CAPTURE(count);
        CAPTURE(with_skip);
        CAPTURE(rising);
        std::vector<float> x(static_cast<size_t>(n));
        std::vector<char> skip(static_cast<size_t>(n), 0);
        for (long j = 0; j < n; ++j) {
          const float u = rng.uniform(0.0f, 1.0f);
          x[static_cast<size_t>(j)] = u < 0.05f ? nan : (u < 0.1f ? -inf : std::floor(u * 20.0f));
          skip[static_cast<size_t>(j)] = with_skip && rng.uniform(0.0f, 1.0f) < 0.3f;
        }
        if (rising) {  // every later block beats the list, and its first value is NaN
          for (long j = 0; j < n; ++j)
            x[static_cast<size_t>(j)] = j % 32 == 0 || j % 32 == 9 || j % 32 == 23 ? nan : static_cast<float>(j / 4);
        }
        const float shift = 2.5f;
        RowTop top;
        top.resize(2, count);
        row_top(x.data(), n, shift, with_skip ? skip.data() : nullptr, top, 1);
        std::vector<std::pair<float, int>> all;
        for (long j = 0; j < n; ++j)
          if (!std::isnan(x[static_cast<size_t>(j)]) && skip[static_cast<size_t>(j)] == 0)
            all.push_back({x[static_cast<size_t>(j)] - shift, static_cast<int>(j)});
        std::stable_sort(all.begin(), all.end(),
                         [](const auto& a, const auto& b) { return a.first > b.first; });
        const long want = std::min<long>(count, static_cast<long>(all.size()));
        REQUIRE(top.size[1] == want);
        CHECK(top.size[0] == 0);  // row 0 untouched
        for (long e = 0; e < want; ++e) {
          CHECK(top.columns(1)[e] == all[static_cast<size_t>(e)].second);
          CHECK(top.values(1)[e] == all[static_cast<size_t>(e)].first);
          ++compared;
        }
      }
    }
  }
  CHECK(compared > 200);
  // The one value that enters a later block sits behind a NaN in every lane position of the
  // block's four eight-lane parts.
  for (long lane = 0; lane < 32; ++lane) {
    CAPTURE(lane);
    std::vector<float> x(64, 0.0f);
    x[0] = 5.0f;  // fills the list from the first block
    for (long part = 0; part < 4; ++part)
      if (part * 8 + lane % 8 != lane) x[static_cast<size_t>(32 + part * 8 + lane % 8)] = nan;
    x[static_cast<size_t>(32 + lane)] = 9.0f;
    RowTop top;
    top.resize(1, 1);
    row_top(x.data(), 64, 0.0f, nullptr, top, 0);
    CHECK(top.columns(0)[0] == 32 + lane);
  }
}

TEST_SUITE_END();
