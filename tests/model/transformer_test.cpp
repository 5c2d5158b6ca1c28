// The whole encoder–decoder: gradients of every parameter against finite differences (pre- and
// post-norm, dropout on), mask invariances, bad input, and learning a small task.
#include <doctest/doctest.h>

#include <cstring>
#include <set>

#include "spotlight/train/loss.h"
#include "spotlight/train/optimizer.h"
#include "support/fixtures.h"
#include "support/grad_check.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {
// Mean label-smoothed loss of the batch with a fixed dropout seed.
double model_loss(const Transformer& m, const Batch& b, Transformer::Cache& c, float eps) {
  Rng drop(1234);
  m.forward(b, c, &drop);
  const LossStats st = cross_entropy(c.logits, b.tgt_out, m.cfg.pad_id, eps, 0.0f, nullptr);
  return st.loss / static_cast<double>(st.tokens);
}
}  // namespace

TEST_SUITE_BEGIN("unit");

// GELU keeps the whole model smooth, so finite differences are exact up to float rounding. With
// ReLU, a few of the ~2,000 hidden units of even this tiny model sit within a step of the kink
// and make the differences (not the gradient) wrong; ReLU's backward is checked on its own in
// kernels_test.cpp and layers_test.cpp, away from the kink.
TEST_CASE("whole model: every parameter's gradient matches finite differences" * doctest::test_suite("slow")) {
  for (Norm norm : {Norm::pre, Norm::post}) {
    for (Activation act : {Activation::gelu}) {
      const std::string norm_name = norm == Norm::pre ? "pre-norm" : "post-norm";
      const std::string act_name = act == Activation::gelu ? "gelu" : "relu";
      CAPTURE(norm_name);
      CAPTURE(act_name);
      Rng rng(21);
      Transformer m(tiny_config(norm, act));
      m.init(rng);
      const Batch b = random_batch(rng, m.cfg, {5, 2, 3}, {3, 6, 1});
      Transformer::Cache c;
      const float eps = 0.1f;
      model_loss(m, b, c, eps);
      const LossStats st = cross_entropy(c.logits, b.tgt_out, m.cfg.pad_id, eps, 0.0f, nullptr);
      Tensor dlogits;
      cross_entropy(c.logits, b.tgt_out, m.cfg.pad_id, eps, 1.0f / static_cast<float>(st.tokens),
                    &dlogits);
      m.zero_grad();
      m.backward(b, c, dlogits);
      // Every parameter; the key-projection biases (zero in exact arithmetic) by the zero rule.
      const std::vector<Checked> items =
          all_gradients(m.params(), [&](const std::string& n) -> Param& { return m.param(n); });
      const double worst = expect_gradients(items, [&] { return model_loss(m, b, c, eps); });
      MESSAGE("worst error " << worst << "× the bar over " << items.size() << " tensors");
    }
  }
}

TEST_CASE("parameter names are PyTorch/fairseq style and unique") {
  Transformer m(tiny_config());
  std::set<std::string> names;
  for (const Param* p : m.params()) CHECK(names.insert(p->name).second);
  CHECK(names.count("embed_tokens.weight"));
  CHECK(names.count("encoder.layers.0.self_attn.q_proj.weight"));
  CHECK(names.count("decoder.layers.1.encoder_attn.k_proj.weight"));
  CHECK(names.count("decoder.layers.1.encoder_attn_layer_norm.bias"));
  CHECK(names.count("encoder.layers.1.fc1.weight"));
  CHECK(names.count("decoder.layer_norm.weight"));
  CHECK(m.param("encoder.layers.0.fc1.weight").value.shape() == std::vector<long>{24, 16});
  Transformer post(tiny_config(Norm::post));
  CHECK_THROWS_AS(post.param("decoder.layer_norm.weight"), Error);  // post-norm: no final norm
  // 16·17 + per encoder layer 4·(16·16+16) + 2·2·16 + 24·16+24 + 16·24+16, decoder similar.
  const long attn = 4 * (16 * 16 + 16), ff = 24 * 16 + 24 + 16 * 24 + 16, ln = 2 * 16;
  CHECK(m.num_parameters() ==
        17 * 16 + 2 * (attn + ff + 2 * ln) + ln + 2 * (2 * attn + ff + 3 * ln) + ln);
}

// Bit for bit holds by construction here: the same batch shape, so the same products in the same
// order; a position reads the changed later one only through its masked attention weight, an
// exact 0 whose product with any finite value adds nothing.
TEST_CASE("changing a future target token leaves earlier outputs unchanged to the last bit") {
  Rng rng(22);
  Transformer m(tiny_config());
  m.init(rng);
  Batch b = random_batch(rng, m.cfg, {4, 6}, {5, 5});
  Transformer::Cache c1, c2;
  m.forward(b, c1, nullptr);
  const long T = b.tgt_len_max, V = m.cfg.vocab_size;
  const long changed = 3;  // position of the changed decoder input
  b.tgt_in[static_cast<size_t>(1 * T + changed)] =
      b.tgt_in[static_cast<size_t>(1 * T + changed)] == 5 ? 6 : 5;
  m.forward(b, c2, nullptr);
  for (long t = 0; t < T; ++t) {
    const bool same = std::memcmp(c1.logits.view().row(T + t), c2.logits.view().row(T + t),
                                  sizeof(float) * static_cast<size_t>(V)) == 0;
    CAPTURE(t);
    CHECK(same == (t < changed));
  }
  for (long t = 0; t < T; ++t)  // the other sentence is untouched
    CHECK(std::memcmp(c1.logits.view().row(t), c2.logits.view().row(t), sizeof(float) * V) == 0);
}

TEST_CASE("appending padding leaves the outputs of real tokens unchanged") {
  Rng rng(23);
  Transformer m(tiny_config(Norm::post));
  m.init(rng);
  const auto src = random_sequences(rng, {3, 5}, m.cfg.vocab_size);
  const auto tgt = random_sequences(rng, {4, 2}, m.cfg.vocab_size);
  const Batch b = make_batch(src, tgt, 0, 2, 3);
  // The same pairs next to a much longer one: both are padded further.
  auto src2 = src, tgt2 = tgt;
  src2.push_back(random_sequences(rng, {11}, m.cfg.vocab_size)[0]);
  tgt2.push_back(random_sequences(rng, {9}, m.cfg.vocab_size)[0]);
  const Batch b2 = make_batch(src2, tgt2, 0, 2, 3);
  REQUIRE(b2.tgt_len_max > b.tgt_len_max);
  Transformer::Cache c1, c2;
  m.forward(b, c1, nullptr);
  m.forward(b2, c2, nullptr);
  // The real tokens' logits of both batches, side by side.
  long rows = 0;
  for (long s = 0; s < 2; ++s) rows += b.tgt_len[static_cast<size_t>(s)];
  Tensor alone({rows, m.cfg.vocab_size}), padded({rows, m.cfg.vocab_size});
  long r = 0;
  for (long s = 0; s < 2; ++s)
    for (long t = 0; t < b.tgt_len[static_cast<size_t>(s)]; ++t, ++r)
      for (long v = 0; v < m.cfg.vocab_size; ++v) {
        alone.view().at(r, v) = c1.logits.view().at(s * b.tgt_len_max + t, v);
        padded.view().at(r, v) = c2.logits.view().at(s * b2.tgt_len_max + t, v);
      }
  // Padding changes the products' shapes (longer key blocks, more rows), so the logits agree to
  // rounding only: 1e-6 relative plus 16 ε of the largest logit (measured: up to 4 ε with
  // OpenBLAS's Haswell kernels, 0 with others). One padded key leaking into attention moves
  // them by up to 0.09 (tried).
  const Tol tol = scaled_tol(alone, 1e-6, 16);
  double worst = 0.0;
  for (long i = 0; i < alone.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(padded[i]) - alone[i]));
  MESSAGE("largest change of a real token's logit under extra padding: "
          << worst << " (bar " << tol.atol << " + 1e-6·|logit|)");
  expect_near("logits with extra padding", padded, alone, tol);
}

TEST_CASE("bad input is a clear error: empty batch, bad ids, inconsistent shapes") {
  Transformer m(tiny_config());
  Transformer::Cache c;
  Batch empty;
  CHECK_THROWS_WITH_AS(m.forward(empty, c, nullptr), doctest::Contains("empty batch"), Error);
  Rng rng(24);
  Batch b = random_batch(rng, m.cfg, {3}, {3});
  b.src[1] = 17;
  CHECK_THROWS_WITH_AS(m.forward(b, c, nullptr), doctest::Contains("token id 17 out of range"),
                       Error);
  b = random_batch(rng, m.cfg, {3}, {3});
  b.tgt_out[0] = -1;
  CHECK_THROWS_WITH_AS(m.forward(b, c, nullptr), doctest::Contains("out of range"), Error);
  b = random_batch(rng, m.cfg, {3}, {3});
  b.src_len[0] = 9;
  CHECK_THROWS_WITH_AS(m.forward(b, c, nullptr), doctest::Contains("length outside"), Error);
  b = random_batch(rng, m.cfg, {3}, {3});
  b.tgt_in.pop_back();
  CHECK_THROWS_WITH_AS(m.forward(b, c, nullptr), doctest::Contains("malformed batch"), Error);
  b = random_batch(rng, m.cfg, {70}, {3});  // longer than max_positions = 64
  CHECK_THROWS_WITH_AS(m.forward(b, c, nullptr), doctest::Contains("max_positions"), Error);
  ModelConfig bad = tiny_config();
  bad.heads = 5;
  CHECK_THROWS_WITH_AS(Transformer{bad}, doctest::Contains("not divisible"), Error);
}

TEST_SUITE_END();
