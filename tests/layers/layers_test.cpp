// Layers: every forward/backward pair against finite differences, with dropout on where the
// layer has it (same Rng seed on every evaluation, so the masks stay fixed).
#include <doctest/doctest.h>

#include <algorithm>

#include "spotlight/check.h"
#include "spotlight/layers/attention.h"
#include "spotlight/layers/embedding.h"
#include "spotlight/layers/feed_forward.h"
#include "spotlight/layers/layer_norm.h"
#include "spotlight/layers/output_projection.h"
#include "spotlight/layers/positional.h"
#include "support/grad_check.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

TEST_SUITE_BEGIN("unit");

TEST_CASE("Linear: forward is x·Wᵀ + b, backward matches finite differences") {
  Rng rng(11);
  Linear lin("fc", 5, 3);
  lin.init(rng);
  fill_uniform(lin.bias.value, rng);
  Tensor x({4, 5}), y, w({4, 3}), dx;
  fill_uniform(x, rng);
  fill_uniform(w, rng);
  lin.forward(x, y);
  double expect = lin.bias.value[1], terms = std::fabs(expect);
  for (long k = 0; k < 5; ++k) {
    const double t = x.view().at(2, k) * static_cast<double>(lin.weight.value.view().at(1, k));
    expect += t;
    terms += std::fabs(t);
  }
  // A dot product of 5 terms plus the bias, in any order: (5 + 1)·ε·Σ|terms| (blas_test.cpp).
  CHECK(near(y.view().at(2, 1), expect, {0.0, noise_atol(terms, 6)}));
  auto f = [&] {
    lin.forward(x, y);
    return dot(y, w);
  };
  lin.backward(x, w, &dx);
  expect_gradients({{"x", &x, &dx},
                    {"weight", &lin.weight.value, &lin.weight.grad},
                    {"bias", &lin.bias.value, &lin.bias.grad}},
                   f);
  // Parameter gradients accumulate; input gradients are overwritten.
  // dx: the same call on the same inputs, so the same value bit for bit. The weight gradient
  // doubles exactly only if the kernel adds β·C after the product; one that accumulates into C
  // rounds otherwise: dW[o][i] = Σ over 4 rows of dy·x, so (4 + 2)·ε·2·Σ|terms| (blas_test.cpp).
  const Tensor g1 = lin.weight.grad, dx1 = dx;
  lin.backward(x, w, &dx);
  for (long o = 0; o < 3; ++o)
    for (long i = 0; i < 5; ++i) {
      double sum = 0.0;
      for (long r = 0; r < 4; ++r)
        sum += std::fabs(w.view().at(r, o) * static_cast<double>(x.view().at(r, i)));
      CHECK(near(lin.weight.grad.view().at(o, i), 2.0 * g1.view().at(o, i),
                 {0.0, noise_atol(2.0 * sum, 6)}));
    }
  for (long i = 0; i < dx1.size(); ++i) CHECK(dx[i] == dx1[i]);
  Tensor bad({4, 4});
  CHECK_THROWS_AS(lin.forward(bad, y), Error);
}

TEST_CASE("Embedding and its tied OutputProjection: gradients from both uses accumulate") {
  // Every piece scored, and a shortlist: the projection's gradient reaches E's listed rows only.
  for (const std::vector<int>& pieces : {std::vector<int>{}, std::vector<int>{1, 3, 5, 6}}) {
    CAPTURE(pieces.size());
    Rng rng(12);
    Embedding emb("embed_tokens.weight", 7, 4, 0);
    emb.init(rng);
    for (long j = 0; j < 4; ++j) CHECK(emb.weight.value.view().at(0, j) == 0.0f);  // pad row
    OutputProjection out(emb.weight, {0, 1, 2, 3});
    if (!pieces.empty()) out.set_pieces(pieces);
    const long v = out.size();
    CHECK(v == (pieces.empty() ? 7 : 4));
    const std::vector<int> ids = {3, 6, 5, 3};
    Tensor y, wy({4, 4}), h({2, 4}), logits({2, v}), wl({2, v}), dh({2, 4}), gathered, dgathered;
    fill_uniform(wy, rng);
    fill_uniform(h, rng);
    fill_uniform(wl, rng);
    emb.forward(ids, y);
    CHECK(y.view().at(0, 1) == doctest::Approx(2.0f * emb.weight.value.view().at(3, 1)));  // √4
    auto f = [&] {
      emb.forward(ids, y);
      out.forward(h.view(), out.weight(gathered), logits.view());
      return dot(y, wy) + dot(logits, wl);
    };
    f();
    emb.backward(ids, wy);
    const MatView w = out.weight(gathered);
    out.backward(h.view(), wl.view(), w, out.gradient(dgathered), dh.view());
    out.add_gradient(dgathered);
    expect_gradients({{"weight", &emb.weight.value, &emb.weight.grad}, {"h", &h, &dh}}, f);
  }
  // Pad ids get no lookup gradient (PyTorch's padding_idx): their outputs are always masked.
  Rng rng(13);
  Embedding emb("embed_tokens.weight", 7, 4, 0);
  emb.init(rng);
  Tensor y;
  const std::vector<int> pads = {0, 0};
  Tensor ones({2, 4});
  ones.fill(1.0f);
  emb.backward(pads, ones);
  for (long i = 0; i < emb.weight.grad.size(); ++i) CHECK(emb.weight.grad[i] == 0.0f);
  const std::vector<int> bad = {7};
  CHECK_THROWS_WITH_AS(emb.forward(bad, y), doctest::Contains("out of range"), Error);
  OutputProjection out(emb.weight, {0, 1, 2, 3});
  CHECK_THROWS_WITH_AS(out.set_pieces({1, 3, 9}), doctest::Contains("within the vocabulary"), Error);
  CHECK_THROWS_WITH_AS(out.set_pieces({3, 1}), doctest::Contains("sorted"), Error);
  CHECK_THROWS_WITH_AS(out.set_pieces({1, 2, 3}), doctest::Contains("neither PAD nor BOS"), Error);
}

namespace {
// A step's output for each row equals the full causal pass over that row's history alone, for a
// model of width d and `heads` heads, through reorders that add and drop rows.
void check_step_cache(long d, long heads) {
  CAPTURE(d);
  CAPTURE(heads);
  Rng rng(21);
  const long cap = 6;
  MultiHeadAttention mha("attn", d, heads, 0.0f);
  mha.init(rng);
  Keys causal;  // every key of the block, none after the query
  causal.causal = true;
  // Each row's inputs so far; a step's output for a row must be the full causal pass over
  // that row's history alone (the training path: other products, equal to rounding).
  std::vector<std::vector<std::vector<float>>> hist(3);
  StepCache kv;
  mha.start_cache(3, cap, kv);
  MultiHeadAttention::Cache sc, fc;
  Tensor xs, ys, full;
  auto step = [&] {
    const long rows = static_cast<long>(hist.size());
    xs.resize({rows, d});
    fill_uniform(xs, rng, -2, 2);
    for (long r = 0; r < rows; ++r)
      hist[static_cast<size_t>(r)].emplace_back(xs.view().row(r), xs.view().row(r) + d);
    mha.step(xs, kv, sc, ys);
    for (long r = 0; r < rows; ++r) {
      const auto& h = hist[static_cast<size_t>(r)];
      const long t = static_cast<long>(h.size());
      Tensor x({t, d});
      for (long i = 0; i < t; ++i) std::copy_n(h[static_cast<size_t>(i)].data(), d, x.view().row(i));
      mha.forward(x, x, 1, causal, fc, full, nullptr);
      const Tol tol = scaled_tol(full, 1e-5, 64);
      for (long j = 0; j < d; ++j) CHECK(near(ys.view().at(r, j), full.view().at(t - 1, j), tol));
    }
  };
  auto reorder = [&](const std::vector<int>& keep) {
    kv.reorder(keep);
    std::vector<std::vector<std::vector<float>>> next;
    for (int r : keep) next.push_back(hist[static_cast<size_t>(r)]);
    hist = next;
  };
  step();
  step();
  const long room = kv.k.rows();
  reorder({2, 0, 0, 1, 1, 2});  // beams: more rows than the cache started with
  step();
  step();
  reorder({5, 1});  // finished sentences dropped, the rest reordered
  step();
  step();
  CHECK(kv.length == cap);
  CHECK(kv.stored == 3 + 3 + 6 + 6 + 2 + 2);  // each step's keys stored once, never copied
  CHECK(kv.k.rows() > room);  // so the storage grew, keeping what it held
  CHECK_THROWS_WITH_AS(mha.step(xs, kv, sc, ys), doctest::Contains("cache is full"), Error);
  const std::vector<int> outside = {2};
  CHECK_THROWS_WITH_AS(kv.reorder(outside), doctest::Contains("out of range"), Error);
  // attend() checks a gathered row against k.
  kv.path[0] = static_cast<int>(kv.k.rows());
  Keys bad;
  bad.stride = kv.capacity;
  bad.len = kv.length;
  bad.gather = kv.path;
  Tensor q({2, d});
  Attended out;
  CHECK_THROWS_WITH_AS(attend({q, kv.k, kv.v, 2, heads}, bad, 0.0f, nullptr, out),
                       doctest::Contains("outside k"), Error);
}
}  // namespace

TEST_CASE("StepCache: attention steps equal the causal forward over each row's history, through reorders") {
  // Heads 4 wide (one dot at a time), and 8, 16 or 32 wide (the dots of eight (key, head) pairs
  // reduced together, with a remainder of pairs: 3 heads, odd numbers of keys).
  check_step_cache(8, 2);
  check_step_cache(24, 3);
  check_step_cache(32, 2);
  check_step_cache(128, 4);
}

TEST_CASE("sinusoidal positions follow the interleaved sin/cos formula") {
  SinusoidalPositions pe(50, 8);
  CHECK(pe.table.view().at(0, 0) == 0.0f);
  CHECK(pe.table.view().at(0, 1) == 1.0f);
  CHECK(pe.table.view().at(7, 2) == doctest::Approx(std::sin(7.0 * std::pow(10000.0, -2.0 / 8))));
  CHECK(pe.table.view().at(7, 3) == doctest::Approx(std::cos(7.0 * std::pow(10000.0, -2.0 / 8))));
  Tensor x({2 * 3, 8});
  pe.add(x, 2, 3, 1);  // offset 1: rows get positions 1, 2, 3
  CHECK(x.view().at(3, 1) == doctest::Approx(pe.table.view().at(1, 1)));
  Tensor long_x({60, 8});
  CHECK_THROWS_AS(pe.add(long_x, 1, 60), Error);
}

TEST_CASE("LayerNorm layer matches finite differences") {
  Rng rng(13);
  LayerNorm ln("ln", 6);
  fill_uniform(ln.weight.value, rng, 0.5, 1.5);
  fill_uniform(ln.bias.value, rng);
  LayerNorm::Cache c;
  Tensor x({5, 6}), y, w({5, 6}), dx;
  fill_uniform(x, rng, -2, 2);
  fill_uniform(w, rng);
  auto f = [&] {
    ln.forward(x, c, y);
    return dot(y, w);
  };
  f();
  ln.backward(x, c, w, dx);
  expect_gradients({{"x", &x, &dx},
                    {"weight", &ln.weight.value, &ln.weight.grad},
                    {"bias", &ln.bias.value, &ln.bias.grad}},
                   f);
}

TEST_CASE("FeedForward (ReLU and GELU, with activation dropout) matches finite differences") {
  for (Activation a : {Activation::relu, Activation::gelu}) {
    CAPTURE(static_cast<int>(a));
    Rng rng(14);
    FeedForward ff("layers.0.", 6, 10, a, 0.2f);
    ff.init(rng);
    fill_uniform(ff.fc1.bias.value, rng, -0.5, 0.5);
    FeedForward::Cache c;
    Tensor x({5, 6}), y, w({5, 6}), dx;
    fill_uniform(x, rng);
    fill_uniform(w, rng);
    auto f = [&] {
      Rng drop(99);
      ff.forward(x, c, y, &drop);
      return dot(y, w);
    };
    f();
    CHECK(c.mask.size() == 50);
    FeedForward::Scratch scratch;
    ff.backward(x, c, w, scratch, dx);
    expect_gradients({{"x", &x, &dx},
                      {"fc1.weight", &ff.fc1.weight.value, &ff.fc1.weight.grad},
                      {"fc1.bias", &ff.fc1.bias.value, &ff.fc1.bias.grad},
                      {"fc2.weight", &ff.fc2.weight.value, &ff.fc2.weight.grad},
                      {"fc2.bias", &ff.fc2.bias.value, &ff.fc2.bias.grad}},
                     f, kGradTol, a == Activation::relu ? 1e-3 : 1e-2);
    CHECK(ff.fc1.weight.name == "layers.0.fc1.weight");
  }
}

namespace {
// One MultiHeadAttention used one of the three ways, checked against finite differences.
void check_attention(long tq, long tk, bool self, const Keys& mask, float drop) {
  Rng rng(15);
  const long batch = 2, d = 16, heads = 4;
  MultiHeadAttention mha("attn", d, heads, drop);
  mha.init(rng);
  for (Linear* l : {&mha.q_proj, &mha.k_proj, &mha.v_proj, &mha.out_proj})
    fill_uniform(l->bias.value, rng, -0.3f, 0.3f);
  MultiHeadAttention::Cache c;
  Tensor xq({batch * tq, d}), xkv_own({batch * tk, d}), y, w({batch * tq, d}), dxq, dxkv;
  fill_uniform(xq, rng);
  fill_uniform(xkv_own, rng);
  fill_uniform(w, rng);
  Tensor& xkv = self ? xq : xkv_own;
  auto f = [&] {
    Rng r(77);
    mha.forward(xq, xkv, batch, mask, c, y, drop > 0 ? &r : nullptr);
    return dot(y, w);
  };
  f();
  MultiHeadAttention::Scratch scratch;
  mha.backward(xq, xkv, c, w, scratch, dxq, dxkv);
  std::vector<Checked> items;
  Tensor dx_total;
  if (self) {  // q, k and v all read x: the caller sums the two input gradients
    add(dxq, dxkv, dx_total);
    items.push_back({"x", &xq, &dx_total});
  } else {
    items.push_back({"xq", &xq, &dxq});
    items.push_back({"xkv", &xkv_own, &dxkv});
  }
  for (Linear* l : {&mha.q_proj, &mha.k_proj, &mha.v_proj, &mha.out_proj}) {
    items.push_back({l->weight.name, &l->weight.value, &l->weight.grad});
    // k's bias shifts each score row uniformly: its gradient is zero in exact arithmetic, and
    // checked ≈ 0 absolutely (grad_check.h), not by a relative error.
    items.push_back({l->bias.name, &l->bias.value, &l->bias.grad,
                     l == &mha.k_proj ? key_bias_zero_atol(mha.k_proj.weight.grad) : -1.0});
  }
  expect_gradients(items, f);
}
}  // namespace

TEST_CASE("MultiHeadAttention as encoder self-attention (padding mask)") {
  const std::vector<int> len = {5, 3};
  check_attention(5, 5, true, Keys::padded(len), 0.0f);
}

TEST_CASE("MultiHeadAttention as decoder causal self-attention (with attention dropout)") {
  const std::vector<int> len = {4, 6};
  check_attention(6, 6, true, Keys::causal_padded(len), 0.25f);
}

TEST_CASE("MultiHeadAttention as cross-attention (different query and key lengths)") {
  const std::vector<int> len = {7, 2};
  check_attention(4, 7, false, Keys::padded(len), 0.0f);
}

TEST_CASE("attention rows sum to 1 over visible keys and are 0 on masked keys") {
  Rng rng(16);
  const long batch = 3, t = 5, d = 8, heads = 2;
  MultiHeadAttention mha("attn", d, heads, 0.0f);
  mha.init(rng);
  MultiHeadAttention::Cache c;
  Tensor x({batch * t, d}), y;
  fill_uniform(x, rng, -3, 3);
  const std::vector<int> len = {5, 2, 4};
  const Keys m = Keys::causal_padded(len);
  mha.forward(x, x, batch, m, c, y, nullptr);
  for (long b = 0; b < batch; ++b)
    for (long h = 0; h < heads; ++h)
      for (long i = 0; i < t; ++i) {
        double sum = 0.0;
        for (long j = 0; j < t; ++j) {
          const float p = c.probs[((b * heads + h) * t + i) * t + j];
          if (j >= std::min(m.visible(b, t), i + 1)) CHECK(p == 0.0f);
          sum += p;
        }
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
      }
  const std::vector<int> wrong = {5, 2};
  CHECK_THROWS_AS(mha.forward(x, x, batch, Keys::padded(wrong), c, y, nullptr), Error);
}

TEST_SUITE_END();
