// Learning: the whole model, trained with the real loss, Adam, schedule and clipping, memorises
// a few dozen generated pairs (target = source reversed, each token shifted by one: a task
// that needs attention across positions), and greedy argmax decoding reproduces every target.
#include <doctest/doctest.h>

#include <chrono>

#include "spotlight/decode/search.h"
#include "spotlight/train/loss.h"
#include "spotlight/train/optimizer.h"
#include "spotlight/train/schedule.h"
#include "support/fixtures.h"

using namespace spotlight;
using namespace spotlight::testing;

TEST_SUITE_BEGIN("unit");

TEST_CASE("the model memorises 32 generated pairs and greedy decoding reproduces them" * doctest::test_suite("slow")) {
  ModelConfig cfg;
  cfg.vocab_size = 20;
  cfg.d_model = 32;
  cfg.heads = 4;
  cfg.ffn = 64;
  cfg.encoder_layers = 2;
  cfg.decoder_layers = 2;
  cfg.dropout = 0.0f;
  cfg.max_positions = 32;
  Rng rng(31);
  Transformer m(cfg);
  m.init(rng);

  std::vector<std::vector<int>> src, tgt;
  for (int i = 0; i < 32; ++i) {
    const auto s = random_sequences(rng, {3 + static_cast<int>(rng.below(5))}, cfg.vocab_size)[0];
    std::vector<int> t(s.rbegin(), s.rend());
    for (int& x : t) x = 4 + (x - 4 + 1) % static_cast<int>(cfg.vocab_size - 4);
    src.push_back(s);
    tgt.push_back(t);
  }
  const Batch b = make_batch(src, tgt, cfg.pad_id, cfg.bos_id, cfg.eos_id);

  Adam adam(m.params(), AdamConfig{});
  const LrSchedule sched{3e-3, 30};
  Transformer::Cache c;
  double loss = 1e9;
  const auto t0 = std::chrono::steady_clock::now();
  int step = 0;
  for (step = 1; step <= 600 && loss >= 0.05; ++step) {
    m.zero_grad();
    m.forward(b, c, nullptr);
    const long ntok = b.target_tokens();
    const LossStats st = cross_entropy(c.logits, b.tgt_out, cfg.pad_id, 0.0f,
                                       1.0f / static_cast<float>(ntok), &c.logits);
    loss = st.loss / static_cast<double>(st.tokens);
    m.backward(b, c, c.logits);
    clip_grad_norm(m.params(), 1.0);
    adam.step(sched.lr(step));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("training loss " << loss << " after " << step - 1 << " steps, " << secs << " s");
  CHECK(loss < 0.1);
  int exact = 0;
  const auto hyps = greedy_translate(m, src, DecodeConfig{});
  for (size_t i = 0; i < src.size(); ++i) exact += hyps[i].tokens == tgt[i];
  CHECK(exact == static_cast<int>(src.size()));
}

TEST_SUITE_END();
