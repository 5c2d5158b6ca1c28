// model.output_vocab "target": the output projection scores only the target side's pieces.
// Gradients of the training loss against finite differences (and a mis-indexed scatter caught),
// logits and decoding steps against the full projection, the column ↔ piece map, the checkpoint
// buffer and its errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "spotlight/check.h"
#include "spotlight/kernels.h"
#include "spotlight/model/decoder.h"
#include "spotlight/safetensors.h"
#include "spotlight/train/loss.h"
#include "spotlight/train/loss_step.h"
#include "spotlight/train/trainer.h"
#include "support/fixtures.h"
#include "support/grad_check.h"
#include "support/near.h"

using namespace spotlight;
using namespace spotlight::testing;
namespace fs = std::filesystem;

namespace {

ModelConfig shortlist_config() {
  ModelConfig c = tiny_config(Norm::pre, Activation::gelu);  // smooth: exact differences
  c.vocab_size = 23;
  c.output_vocab = OutputVocab::target;
  return c;
}

// EOS, UNK and every other piece from 4 on: 3 (eos), 1 (unk), 4, 6, 8, ...
std::vector<int> every_other(const ModelConfig& c) {
  std::vector<int> ids{c.unk_id, c.eos_id};
  for (int i = 4; i < c.vocab_size; i += 2) ids.push_back(i);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Mean training loss with a fixed dropout seed, through the trainer's chunked projection.
double training_loss(Transformer& m, const Batch& b, Transformer::Cache& c, float eps) {
  Rng drop = Rng(1234).fork(0);  // the stream forward_backward gives the update's first batch
  m.forward_hidden(b, c, &drop);
  const LossStats st = projected_loss(m, c, b, eps, 0.0f, nullptr);
  return st.loss / static_cast<double>(st.tokens);
}

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("output vocabulary: every parameter's gradient matches finite differences" * doctest::test_suite("slow")) {
  Rng rng(5);
  Transformer m(shortlist_config());
  m.init(rng);
  m.set_output_ids(every_other(m.cfg));
  // Targets inside the list and outside it (scored as UNK).
  const Batch b = random_batch(rng, m.cfg, {5, 2, 3}, {3, 6, 2});
  bool outside = false;
  for (int id : b.tgt_out) outside |= id != m.cfg.pad_id && id >= 4 && id % 2 == 1;
  REQUIRE(outside);
  Transformer::Cache c;
  const float eps = 0.1f;
  Rng drop(1234);
  forward_backward(m, c, std::span<const Batch>(&b, 1), eps, drop);
  const std::vector<Checked> items =  // key-projection biases by the zero rule (grad_check.h)
      all_gradients(m.params(), [&](const std::string& n) -> Param& { return m.param(n); });
  const double worst = expect_gradients(items, [&] { return training_loss(m, b, c, eps); });
  MESSAGE("worst error " << worst << "× the bar over " << items.size() << " tensors");

  // A scatter one row off (each gathered row's gradient added to the next piece's row) is
  // caught by the same check.
  Param& e = m.embed.weight;
  Tensor wrong = e.grad;  // the whole, correct gradient
  m.zero_grad();
  Rng drop2 = Rng(1234).fork(0);
  m.forward_hidden(b, c, &drop2);
  const LossStats st = projected_loss(m, c, b, eps, 0.0f, nullptr);
  Tensor dh;
  projected_loss(m, c, b, eps, 1.0f / static_cast<float>(st.tokens), &dh);
  const Tensor projection = e.grad;  // the projection's share alone
  const long d = m.cfg.d_model;
  for (int id : m.output_ids()) {
    const long to = (id + 1) % m.cfg.vocab_size;
    for (long j = 0; j < d; ++j) {
      wrong[id * d + j] -= projection[id * d + j];
      wrong[to * d + j] += projection[id * d + j];
    }
  }
  const GradCheck broken =
      check_gradient(e.value.data(), wrong.data(), e.value.size(),
                     [&] { return training_loss(m, b, c, eps); });
  MESSAGE("scatter one row off: " << broken.excess() << "× the bar");
  CHECK(broken.excess() > 10);
}

TEST_CASE("output vocabulary: the logits are the full projection's columns of the listed pieces") {
  Rng rng(8);
  ModelConfig all = shortlist_config();
  all.output_vocab = OutputVocab::all;
  Transformer full(all), sub(shortlist_config());
  Rng a(3), b3(3);
  full.init(a);
  sub.init(b3);
  const std::vector<int> ids = every_other(sub.cfg);
  sub.set_output_ids(ids);
  CHECK(sub.output_size() == static_cast<long>(ids.size()));
  for (size_t c = 0; c < ids.size(); ++c) {  // column ↔ piece, both ways
    CHECK(sub.output().piece(static_cast<long>(c)) == ids[c]);
    CHECK(sub.output().column(ids[c]) == static_cast<long>(c));
  }
  CHECK(sub.output().column(5) == -1);               // not listed: no column
  CHECK(sub.output().target(5) == sub.output().column(all.unk_id));  // trained as UNK
  CHECK(sub.output().target(all.pad_id) == -1);      // ignored
  CHECK(full.output().column(5) == 5);
  const Batch b = random_batch(rng, all, {4, 3}, {5, 2});
  Transformer::Cache cf, cs;
  full.forward(b, cf, nullptr);
  sub.forward(b, cs, nullptr);
  REQUIRE(cf.logits.cols() == all.vocab_size);
  REQUIRE(cs.logits.cols() == static_cast<long>(ids.size()));
  // The listed columns come from a narrower product (another blocking): equal to rounding,
  // 1e-5 relative plus 16 ε of the largest logit (dot products of length D = 16).
  const Tol tol = scaled_tol(cf.logits, 1e-5, 16);
  long off = 0;
  for (long r = 0; r < cf.logits.rows(); ++r)
    for (size_t c = 0; c < ids.size(); ++c)
      off += !near(cs.logits.view().at(r, static_cast<long>(c)), cf.logits.view().at(r, ids[c]), tol);
  CHECK_MESSAGE(off == 0, off << " listed logits differ from the full projection's beyond "
                              << tol.atol << " + 1e-5·|logit|");

  // The training loss is label-smoothed cross-entropy over the listed pieces only.
  const Batch inside = make_batch({{5, 6, 7}}, {{4, 6, 8, 10}}, all.pad_id, all.bos_id, all.eos_id);
  full.forward(inside, cf, nullptr);
  sub.forward_hidden(inside, cs, nullptr);
  const LossStats got = projected_loss(sub, cs, inside, 0.1f, 0.0f, nullptr);
  Tensor gathered({cf.logits.rows(), static_cast<long>(ids.size())});
  std::vector<int> targets;
  for (long r = 0; r < cf.logits.rows(); ++r) {
    for (size_t i = 0; i < ids.size(); ++i) gathered.view().row(r)[i] = cf.logits.view().at(r, ids[i]);
    const int y = inside.tgt_out[static_cast<size_t>(r)];
    targets.push_back(static_cast<int>(std::lower_bound(ids.begin(), ids.end(), y) - ids.begin()));
  }
  const LossStats want = cross_entropy(gathered, targets, -1, 0.1f, 0.0f, nullptr);
  CHECK(got.tokens == want.tokens);
  expect_near("loss", got.loss, want.loss, {1e-5, 0.0});  // Σ of positive terms: relative
  expect_near("nll", got.nll, want.nll, {1e-5, 0.0});
}

TEST_CASE("output vocabulary: a decoding step equals the teacher-forced forward pass") {
  Rng rng(9);
  Transformer m(shortlist_config());
  m.init(rng);
  m.set_output_ids(every_other(m.cfg));
  const std::vector<int> src{5, 9, 4, 12}, tgt{6, 8, 4};
  const Batch b = make_batch({src}, {tgt}, m.cfg.pad_id, m.cfg.bos_id, m.cfg.eos_id);
  Transformer::Cache c;
  m.forward(b, c, nullptr);
  log_softmax(c.logits.view());
  Transformer::Cache ec;
  std::vector<int> s = src;
  s.push_back(m.cfg.eos_id);
  const std::vector<int> len{static_cast<int>(s.size())};
  m.encode(s, 1, len, ec);
  Transformer::DecodeState st;
  m.start(ec, len, 8, st);
  Tensor lp;
  std::vector<int> feed{m.cfg.bos_id};
  // The KV cache against the full pass: other products, equal to rounding. Log-probabilities
  // cancel logits of size ~log V: 1e-5 relative plus 64 ε·log V (greedy_test.cpp measures the
  // full vocabulary's cached steps within ~5 ε·log V of the full pass).
  const Tol tol{1e-5, noise_atol(std::log(static_cast<double>(m.cfg.vocab_size)), 64)};
  for (size_t t = 0; t <= tgt.size(); ++t) {
    m.step(feed, st, lp);
    REQUIRE(lp.cols() == m.output_size());  // over the listed pieces only
    for (long v = 0; v < m.output_size(); ++v)
      CHECK(near(lp.view().at(0, v), c.logits.view().at(static_cast<long>(t), v), tol));
    if (t < tgt.size()) feed = {tgt[t]};
  }
}

TEST_CASE("output vocabulary: kept rows decode the same, follow new pieces, refuse training") {
  const std::vector<int> src{5, 9, 4, 12, shortlist_config().eos_id}, tgt{6, 8, 4};
  const std::vector<int> len{static_cast<int>(src.size())};
  // Greedy-fed steps' log-probabilities, then the teacher-forced logits: the same products, one
  // library call each, on equal operands whether W′ was gathered per batch or once, so equal bit
  // for bit (as translations are whatever the --workers, translator_test.cpp).
  auto run = [&](const Transformer& m) {
    Transformer::Cache ec;
    m.encode(src, 1, len, ec);
    Transformer::DecodeState st;
    m.start(ec, len, 8, st);
    std::vector<float> out;
    Tensor lp;
    std::vector<int> feed{m.cfg.bos_id};
    for (size_t t = 0; t <= tgt.size(); ++t) {
      m.step(feed, st, lp);
      REQUIRE(lp.cols() == m.output_size());
      out.insert(out.end(), lp.view().row(0), lp.view().row(0) + lp.cols());
      if (t < tgt.size()) feed = {tgt[t]};
    }
    Transformer::Cache c;
    m.forward(make_batch({src}, {tgt}, m.cfg.pad_id, m.cfg.bos_id, m.cfg.eos_id), c, nullptr);
    out.insert(out.end(), c.logits.view().row(0), c.logits.view().row(0) + c.logits.size());
    return out;
  };
  auto make = [](Transformer& m, const std::vector<int>& ids) {
    Rng rng(19);
    m.init(rng);
    m.set_output_ids(ids);
  };
  Transformer kept(shortlist_config()), plain(shortlist_config());
  make(kept, every_other(kept.cfg));
  make(plain, every_other(plain.cfg));
  kept.keep_output_rows();
  CHECK(run(kept) == run(plain));
  // Another shortlist: the kept rows are gathered again.
  std::vector<int> fewer = every_other(kept.cfg);
  fewer.pop_back();
  kept.set_output_ids(fewer);
  plain.set_output_ids(fewer);
  CHECK(run(kept) == run(plain));
  // New weights, one of them in a kept row: load_weights gathers the rows again.
  const std::vector<float> before = run(kept);
  const fs::path dir = fs::temp_directory_path() / "spotlight_kept_rows_test";
  fs::create_directories(dir);
  plain.embed.weight.value[static_cast<long>(fewer.back()) * plain.cfg.d_model] += 0.5f;
  plain.save_weights((dir / "w.safetensors").string());
  kept.load_weights((dir / "w.safetensors").string());
  fs::remove_all(dir);
  CHECK(run(kept) == run(plain));
  CHECK(run(kept) != before);
  // Training would leave the kept rows behind the weights: refused.
  const Batch b = make_batch({src}, {tgt}, kept.cfg.pad_id, kept.cfg.bos_id, kept.cfg.eos_id);
  Transformer::Cache c;
  kept.forward(b, c, nullptr);
  const Tensor dlogits({c.logits.rows(), c.logits.cols()});
  CHECK_THROWS_WITH_AS(kept.backward(b, c, dlogits), doctest::Contains("keep_output_rows"), Error);
}

TEST_CASE("output vocabulary: saved as output_mask and restored, bad masks are errors") {
  const fs::path dir = fs::temp_directory_path() / "spotlight_output_vocab_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  Rng rng(4);
  Transformer m(shortlist_config());
  m.init(rng);
  CHECK_THROWS_WITH_AS(m.save_weights((dir / "unset.safetensors").string()),
                       doctest::Contains("never set"), Error);
  m.set_output_ids(every_other(m.cfg));
  const std::string path = (dir / "m.safetensors").string();
  m.save_weights(path);
  Transformer back(shortlist_config());
  back.load_weights(path);
  CHECK(back.output_ids() == m.output_ids());

  // The same file for a model that scores every piece: an unexpected tensor.
  ModelConfig all = shortlist_config();
  all.output_vocab = OutputVocab::all;
  Transformer plain(all);
  CHECK_THROWS_WITH_AS(plain.load_weights(path), doctest::Contains("output_mask"), Error);
  CHECK_THROWS_WITH_AS(m.set_output_ids({3, 4}), doctest::Contains("EOS and UNK"), Error);
  CHECK_THROWS_WITH_AS(plain.set_output_ids({1, 3, 4}), doctest::Contains("\"all\""), Error);

  // Edited masks: a missing one, a value other than 0/1, EOS or PAD wrong.
  // edit returns whether the mask stays in the file.
  auto with_mask = [&](const std::function<bool(Tensor&)>& edit, const std::string& name) {
    auto tensors = read_safetensors(path);
    TensorRefs refs;
    for (auto& [k, t] : tensors)
      if (k != "output_mask" || edit(t)) refs.emplace_back(k, &t);
    const std::string out = (dir / name).string();
    write_safetensors(out, refs, {});
    return out;
  };
  Transformer probe(shortlist_config());
  CHECK_THROWS_WITH_AS(probe.load_weights(with_mask([](Tensor&) { return false; }, "a")),
                       doctest::Contains("no tensor 'output_mask'"), Error);
  CHECK_THROWS_WITH_AS(probe.load_weights(with_mask([](Tensor& t) { t[5] = 0.5f;
    return true; }, "b")),
                       doctest::Contains("other than 0 or 1"), Error);
  CHECK_THROWS_WITH_AS(probe.load_weights(with_mask([](Tensor& t) { t[3] = 0.0f;
    return true; }, "c")),
                       doctest::Contains("EOS"), Error);
  CHECK_THROWS_WITH_AS(probe.load_weights(with_mask([](Tensor& t) { t[0] = 1.0f;
    return true; }, "d")),
                       doctest::Contains("PAD"), Error);
  fs::remove_all(dir);
}

TEST_SUITE_END();
