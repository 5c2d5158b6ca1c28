// Attention maps: the weights recorded are the ones the model uses (they equal the weights of
// step-by-step decoding), rows are distributions, causal rows are zero above the diagonal,
// padding gets no weight and does not change a sentence's maps; the word alignment on
// hand-made weights.
#include <doctest/doctest.h>

#include <cmath>

#include "spotlight/check.h"
#include "spotlight/decode/attention_maps.h"
#include "spotlight/model/decoder.h"
#include "spotlight/rng.h"
#include "support/fixtures.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {
ModelConfig dropout_config() {
  ModelConfig c = tiny_config();
  c.dropout = c.attention_dropout = c.activation_dropout = 0.3f;  // must not act here
  return c;
}
const Transformer& model() {
  static Transformer m(dropout_config());
  static const bool ready = [] {
    Rng rng(31);
    m.init(rng);
    return true;
  }();
  (void)ready;
  return m;
}

float at(const Tensor& t, long h, long i, long j) {  // [H, Q, K]
  return t.data()[(h * t.dim(1) + i) * t.dim(2) + j];
}

// Attention weights of one sentence computed through other products (padded next to another
// sentence, or step by step against the KV cache): equal to rounding. They are probabilities
// (scale 1): 1e-5 relative plus 64 ε (measured ≤ 1.3 ε across OpenBLAS cores).
constexpr Tol kWeightTol{1e-5, 64 * kFloatEps};
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("attention maps: rows sum to 1, causal rows are zero above the diagonal") {
  Rng rng(32);
  const auto src = random_sequences(rng, {6}, model().cfg.vocab_size)[0];
  const auto tgt = random_sequences(rng, {4}, model().cfg.vocab_size)[0];
  const AttentionMaps m = attention_maps(model(), src, tgt);
  REQUIRE(m.src.size() == 7);  // + EOS
  REQUIRE(m.tgt.size() == 5);
  REQUIRE(m.tgt_in.front() == model().cfg.bos_id);
  REQUIRE(m.tgt.back() == model().cfg.eos_id);
  REQUIRE(m.encoder.size() == 2);
  REQUIRE(m.decoder.size() == 2);
  REQUIRE(m.cross.size() == 2);
  for (const auto* maps : {&m.encoder, &m.decoder, &m.cross})
    for (const Tensor& t : *maps) {
      REQUIRE(t.dim(0) == model().cfg.heads);
      for (long h = 0; h < t.dim(0); ++h)
        for (long i = 0; i < t.dim(1); ++i) {
          double sum = 0;
          for (long j = 0; j < t.dim(2); ++j) {
            CHECK(at(t, h, i, j) >= 0.0f);
            sum += at(t, h, i, j);
          }
          CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
        }
    }
  for (const Tensor& t : m.decoder)
    for (long h = 0; h < t.dim(0); ++h)
      for (long i = 0; i < t.dim(1); ++i)
        for (long j = i + 1; j < t.dim(2); ++j) CHECK(at(t, h, i, j) == 0.0f);
  // Deterministic: dropout is configured but the maps are read without it.
  const AttentionMaps again = attention_maps(model(), src, tgt);
  for (size_t l = 0; l < m.cross.size(); ++l)
    CHECK(std::equal(m.cross[l].data(), m.cross[l].data() + m.cross[l].size(),
                     again.cross[l].data()));
}

TEST_CASE("attention maps: padding columns get no weight and padding changes nothing") {
  Rng rng(33);
  const auto src = random_sequences(rng, {3, 8}, model().cfg.vocab_size);
  const auto tgt = random_sequences(rng, {6, 2}, model().cfg.vocab_size);
  const Batch b = make_batch(src, tgt, 0, 2, 3);
  // The raw probabilities of the padded batch: sentence 0 has 4 source keys of 9, sentence 1
  // has 3 target keys of 7; their padded columns are exactly zero.
  Transformer::Cache c;
  model().forward_hidden(b, c, nullptr);
  const long H = model().cfg.heads, S = b.src_len_max, T = b.tgt_len_max;
  long padded = 0;
  for (size_t l = 0; l < 2; ++l) {
    const float* enc = c.enc.layers[l].attn.probs.data();    // [B, H, S, S]
    const float* cross = c.dec.layers[l].cross.probs.data();  // [B, H, T, S]
    const float* self = c.dec.layers[l].self.probs.data();    // [B, H, T, T]
    for (long s = 0; s < 2; ++s)
      for (long h = 0; h < H; ++h) {
        for (long i = 0; i < S; ++i)
          for (long j = b.src_len[static_cast<size_t>(s)]; j < S; ++j, ++padded)
            CHECK(enc[((s * H + h) * S + i) * S + j] == 0.0f);
        for (long i = 0; i < T; ++i) {
          for (long j = b.src_len[static_cast<size_t>(s)]; j < S; ++j, ++padded)
            CHECK(cross[((s * H + h) * T + i) * S + j] == 0.0f);
          for (long j = b.tgt_len[static_cast<size_t>(s)]; j < T; ++j, ++padded)
            CHECK(self[((s * H + h) * T + i) * T + j] == 0.0f);
        }
      }
  }
  CHECK(padded > 100);
  // Trimmed per sentence, the maps equal those of each sentence alone.
  const auto both = attention_maps(model(), b);
  REQUIRE(both.size() == 2);
  for (size_t s = 0; s < 2; ++s) {
    const AttentionMaps alone = attention_maps(model(), src[s], tgt[s]);
    CHECK(both[s].src == alone.src);
    CHECK(both[s].tgt == alone.tgt);
    for (size_t l = 0; l < 2; ++l)
      for (const auto& [x, y] : {std::pair{&both[s].encoder[l], &alone.encoder[l]},
                                 std::pair{&both[s].decoder[l], &alone.decoder[l]},
                                 std::pair{&both[s].cross[l], &alone.cross[l]}}) {
        REQUIRE(x->shape() == y->shape());
        expect_near("maps of the padded batch against alone", *x, *y, kWeightTol);
      }
  }
}

TEST_CASE("attention maps equal the weights step-by-step decoding used") {
  // Greedy decoding with the KV cache, every step's self- and cross-attention read out of the
  // decoder state; then the maps of the decoded output, force-decoded in one pass.
  Rng rng(34);
  const Transformer& m = model();
  const std::vector<int> src = random_sequences(rng, {7}, m.cfg.vocab_size)[0];
  std::vector<int> src_eos = src;
  src_eos.push_back(m.cfg.eos_id);
  const std::vector<int> src_len = {static_cast<int>(src_eos.size())};
  Transformer::Cache c;
  m.encode(src_eos, 1, src_len, c);
  Transformer::DecodeState st;
  m.start(c, src_len, 12, st);
  std::vector<int> out;
  std::vector<std::vector<Tensor>> self_steps, cross_steps;  // [step][layer] [1, H, 1, keys]
  Tensor logprobs;
  int token = m.cfg.bos_id;
  for (int t = 0; t < 12; ++t) {
    m.step(std::span<const int>(&token, 1), st, logprobs);
    self_steps.emplace_back();
    cross_steps.emplace_back();
    for (const auto& l : st.decoder.layers) {
      self_steps.back().push_back(l.self.probs);
      cross_steps.back().push_back(l.cross.probs);
    }
    const float* lp = logprobs.data();
    token = static_cast<int>(std::max_element(lp + 4, lp + m.cfg.vocab_size) - lp);  // no specials but EOS
    if (lp[m.cfg.eos_id] > lp[token]) break;
    out.push_back(token);
  }
  const AttentionMaps maps = attention_maps(m, src, out);
  REQUIRE(maps.tgt.size() == out.size() + 1);
  REQUIRE(self_steps.size() >= out.size());  // every step that produced a token (and EOS's)
  REQUIRE(self_steps.size() <= maps.tgt.size());
  double worst = 0.0;
  for (size_t t = 0; t < self_steps.size(); ++t)
    for (size_t l = 0; l < 2; ++l)
      for (long h = 0; h < m.cfg.heads; ++h) {
        const Tensor& self = self_steps[t][l];
        const Tensor& cross = cross_steps[t][l];
        REQUIRE(self.dim(3) == static_cast<long>(t) + 1);  // keys so far
        REQUIRE(cross.dim(3) == static_cast<long>(src_eos.size()));
        for (long j = 0; j <= static_cast<long>(t); ++j)
          worst = std::max(worst, excess(self.data()[h * self.dim(3) + j],
                                         at(maps.decoder[l], h, static_cast<long>(t), j),
                                         kWeightTol));
        for (long j = 0; j < cross.dim(3); ++j)
          worst = std::max(worst, excess(cross.data()[h * cross.dim(3) + j],
                                         at(maps.cross[l], h, static_cast<long>(t), j),
                                         kWeightTol));
      }
  MESSAGE("largest difference between decoding's weights and the maps: " << worst
                                                                        << "× the bar");
  CHECK(worst <= 1.0);
}

TEST_CASE("word weights and hard alignment on hand-made weights") {
  // Target pieces ▁le ▁ch ien </s> are the words le, chien; source pieces ▁the ▁dog </s>.
  const std::vector<int> tgt_word = {0, 1, 1, -1}, src_word = {0, 1, -1};
  const std::vector<std::vector<float>> w = {{0.7f, 0.2f, 0.1f},
                                             {0.1f, 0.6f, 0.3f},
                                             {0.3f, 0.5f, 0.2f},
                                             {0.2f, 0.2f, 0.6f}};
  const auto words = word_weights(w, tgt_word, src_word);
  REQUIRE(words.size() == 2);
  REQUIRE(words[0].size() == 2);
  CHECK(words[0][0] == doctest::Approx(0.7));
  CHECK(words[0][1] == doctest::Approx(0.2));
  CHECK(words[1][0] == doctest::Approx(0.2));  // (0.1 + 0.3) / 2
  CHECK(words[1][1] == doctest::Approx(0.55));  // (0.6 + 0.5) / 2
  CHECK(alignment_string(hard_alignment(words)) == "0-0 1-1");
  // A crossing: target word 0 reads source word 1 most.
  const auto crossed = hard_alignment({{0.1f, 0.8f}, {0.6f, 0.3f}, {0.5f, 0.5f}});
  CHECK(alignment_string(crossed) == "1-0 0-1 0-2");  // ties go to the first source word
  CHECK(alignment_string({}) == "");
  CHECK_THROWS_AS(word_weights(w, tgt_word, std::vector<int>{0, 1}), Error);
}

TEST_SUITE_END();
