// int8 decoding (Transformer::set_int8, blas.h gemm_int8): every linear layer switches to int8
// and back, the log-probabilities stay close to float's, and switching back restores float's
// results exactly (the same products on the same weights). And the search's fused step
// (TransformerStepModel::step_top) against the plain one, in float and int8.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "spotlight/blas.h"
#include "spotlight/decode/search.h"
#include "spotlight/kernels.h"
#include "support/fixtures.h"

using namespace spotlight;
using namespace spotlight::testing;

TEST_SUITE_BEGIN("unit");

TEST_CASE("int8 decoding: close to float, and float again after switching back") {
  if (!int8_available()) {
    MESSAGE("skipped: this build has no oneDNN");
    return;
  }
  Rng rng(121);
  Transformer m(tiny_config());
  m.init(rng);
  const auto src = random_sequences(rng, {5, 2, 7}, m.cfg.vocab_size);
  const auto tgt = random_sequences(rng, {6, 3, 6}, m.cfg.vocab_size);
  const Batch b = make_batch(src, tgt, 0, 2, 3);
  Transformer::Cache c;
  m.forward(b, c, nullptr);
  log_softmax(c.logits.view());
  const Tensor float_lp = c.logits;

  m.set_int8(true);
  CHECK(m.int8());
  CHECK(m.encoder.layers[0].ff.fc1.int8.has_value());
  CHECK(m.decoder.layers.back().encoder_attn.k_proj.int8.has_value());
  m.forward(b, c, nullptr);
  log_softmax(c.logits.view());
  // Each int8 product is off by about 1% of its scale (half a step of 127 on both operands);
  // the layer norms keep that from compounding, so the log-probabilities (|lp| ≲ log V ≈ 3.5
  // here) move by a few hundredths. Bar: 0.1 nats, which float-versus-float noise (1e-6) and a
  // broken product (a missing compensation shifts scores by hundreds) are both far from.
  double worst = 0.0, moved = 0.0;
  for (long i = 0; i < float_lp.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(c.logits[i]) - float_lp[i]));
    moved += c.logits[i] != float_lp[i];
  }
  MESSAGE("int8 against float: max |Δ log p| = " << worst);
  CHECK(worst <= 0.1);
  CHECK(moved > 0);  // int8 did run

  m.set_int8(false);
  CHECK(!m.encoder.layers[0].ff.fc1.int8.has_value());
  m.forward(b, c, nullptr);
  log_softmax(c.logits.view());
  for (long i = 0; i < float_lp.size(); ++i) REQUIRE(c.logits[i] == float_lp[i]);
}

TEST_CASE("int8 decoding steps over a shortlist stay close to float's, quantizing W′ once") {
  if (!int8_available()) {
    MESSAGE("skipped: this build has no oneDNN");
    return;
  }
  Rng rng(122);
  ModelConfig cfg = tiny_config();
  cfg.output_vocab = OutputVocab::target;
  Transformer m(cfg);
  m.init(rng);
  std::vector<int> ids{cfg.unk_id, cfg.eos_id};
  for (int i = 4; i < cfg.vocab_size; i += 2) ids.push_back(i);
  std::sort(ids.begin(), ids.end());
  m.set_output_ids(ids);
  const auto src = random_sequences(rng, {5, 3}, cfg.vocab_size);
  // The same steps in float, then in int8 (set after the shortlist: W′'s listed rows).
  auto run = [&] {
    TransformerStepModel stepper(m);
    stepper.start(src, 10);
    std::vector<Tensor> out;
    Tensor lp;
    for (int t = 0; t < 4; ++t) {
      stepper.step(std::vector<int>{t == 0 ? cfg.bos_id : 5 + t, t == 0 ? cfg.bos_id : 6}, lp);
      out.push_back(lp);
    }
    return out;
  };
  const auto float_lp = run();
  m.set_int8(true);
  const auto int8_lp = run();
  double worst = 0.0;
  for (size_t t = 0; t < float_lp.size(); ++t) {
    REQUIRE(int8_lp[t].cols() == static_cast<long>(ids.size()));
    for (long i = 0; i < float_lp[t].size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(int8_lp[t][i]) - float_lp[t][i]));
  }
  MESSAGE("int8 against float over a shortlist, 4 steps: max |Δ log p| = " << worst);
  CHECK(worst <= 0.1);  // the bar of the case above, for the same reasons
  CHECK(worst > 0.0);
}

TEST_CASE("TransformerStepModel::step_top gives what step() and reading its rows give, bit for bit") {
  // The override never writes log-probabilities out (int8: the output projection's rows are
  // consumed chunk by chunk in a thread's buffer); StepModel's own step_top runs step() (with
  // log_softmax) and reads the rows. Same entries, same order, same floats.
  Rng rng(123);
  const ModelConfig cfg = tiny_config();
  Transformer m(cfg);
  m.init(rng);
  const auto src = random_sequences(rng, {5, 3, 7}, cfg.vocab_size);
  std::vector<char> banned(static_cast<size_t>(m.output_size()), 0);
  banned[static_cast<size_t>(cfg.pad_id)] = banned[static_cast<size_t>(cfg.bos_id)] = 1;
  auto compare = [&](long count) {
    TransformerStepModel fused(m), plain(m);
    fused.start(src, 10);
    plain.start(src, 10);
    RowTop a, b;
    long entries = 0;
    for (int t = 0; t < 4; ++t) {
      const std::vector<int> pieces{t == 0 ? cfg.bos_id : 5 + t, t == 0 ? cfg.bos_id : 6,
                                    t == 0 ? cfg.bos_id : 4};
      const std::vector<char> forced{0, static_cast<char>(t == 3), 0};  // a row at its limit
      const TopRequest request{count, banned.data(), forced, cfg.eos_id};
      fused.step_top(pieces, request, a);
      plain.StepModel::step_top(pieces, request, b);
      REQUIRE(a.size == b.size);
      for (long r = 0; r < 3; ++r)
        for (int e = 0; e < a.size[static_cast<size_t>(r)]; ++e) {
          CHECK(a.columns(r)[e] == b.columns(r)[e]);
          CHECK(a.values(r)[e] == b.values(r)[e]);
          CHECK(banned[static_cast<size_t>(a.columns(r)[e])] == 0);
          ++entries;
        }
      if (t == 3) CHECK((a.size[1] == 1 && a.columns(1)[0] == cfg.eos_id));
    }
    CHECK(entries == (4 * 3 - 1) * count + 1);  // the forced row-step: EOS alone
  };
  for (const long count : {1L, 10L}) {
    CAPTURE(count);
    compare(count);
    if (int8_available()) {
      m.set_int8(true);
      compare(count);
      m.set_int8(false);
    }
  }
}

TEST_SUITE_END();
