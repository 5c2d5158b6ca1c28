// Learning: the whole model, trained with the real loss, Adam, schedule and clipping, memorises
// a few dozen generated pairs (target = source reversed, each token shifted by one: a task
// that needs attention across positions), and greedy argmax decoding reproduces every target.
#include <doctest/doctest.h>

#include <chrono>

#include "spotlight/train/loss.h"
#include "spotlight/train/optimizer.h"
#include "spotlight/train/schedule.h"
#include "support/fixtures.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {
// Greedy argmax decoding by repeated full forward passes (the uncached reference decoder).
std::vector<int> greedy(const Transformer& m, const std::vector<int>& src, long max_len) {
  std::vector<int> out;
  Transformer::Cache c;
  while (static_cast<long>(out.size()) < max_len) {
    const Batch b = make_batch({src}, {out}, m.cfg.pad_id, m.cfg.bos_id, m.cfg.eos_id);
    m.forward(b, c, nullptr);
    const float* row = c.logits.view().row(static_cast<long>(out.size()));
    int best = 0;
    for (int v = 1; v < m.cfg.vocab_size; ++v)
      if (row[v] > row[best]) best = v;
    if (best == m.cfg.eos_id) break;
    out.push_back(best);
  }
  return out;
}
}  // namespace

TEST_CASE("the model memorises 32 generated pairs and greedy decoding reproduces them") {
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
  const InverseSqrtSchedule sched{3e-3, 30};
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
  for (size_t i = 0; i < src.size(); ++i) exact += greedy(m, src[i], 12) == tgt[i];
  CHECK(exact == static_cast<int>(src.size()));
}
