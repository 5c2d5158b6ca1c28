// Checkpoint directories: complete round trip of weights, Adam moments and trainer state;
// atomic replacement of last/best; a failed save leaves the previous checkpoint whole; pruning;
// truncated, incomplete and mismatched checkpoints refused with a message naming them.
#include "spotlight/train/checkpoint.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "spotlight/check.h"
#include "support/fixtures.h"
#include "support/toy_corpus.h"

using namespace spotlight;
namespace fs = std::filesystem;

namespace {
struct Run {
  fs::path dir = fs::temp_directory_path() / ("spotlight_ckpt_" + std::to_string(::getpid()));
  Config config;
  Rng rng{101};
  Transformer model{testing::tiny_config()};
  Adam adam{model.params(), AdamConfig{}};
  std::string vocab = (dir / "spm.model").string();

  Run() {
    fs::remove_all(dir);
    fs::create_directories(dir / "checkpoints");
    std::ofstream(vocab) << "not really a sentencepiece model";
    config.model = model.cfg;
    model.init(rng);
    for (Param* p : model.params()) p->grad.fill(0.01f);
    adam.step(1e-3);
    adam.step(1e-3);
  }
  ~Run() { fs::remove_all(dir); }
  TrainerState state() const {
    TrainerState s;
    s.step = 2;
    s.epoch = 3;
    s.epoch_position = 17;
    s.rng = {1, 2, 0xffffffffffffffffULL, 4};
    s.epoch_rng = {5, 6, 7, 0x8000000000000001ULL};
    s.best_bleu = 12.5;
    return s;
  }
};

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.size())) == 0;
}
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("a checkpoint round-trips weights, Adam moments and trainer state exactly") {
  Run r;
  const std::string ck = (r.dir / "checkpoints/step_2").string();
  const TrainerState st = r.state();
  save_checkpoint(ck, {r.config, r.model, r.vocab, &r.adam, &st});
  for (const char* f : {"config.json", "model.safetensors", "vocab.model", "optimizer.safetensors",
                        "trainer_state.json"})
    CHECK(fs::exists(fs::path(ck) / f));

  const auto stored = read_json_file((fs::path(ck) / "config.json").string());
  CHECK(stored["model"]["special_ids"]["eos"] == 3);
  CHECK(stored["model"]["vocab_size"] == r.model.cfg.vocab_size);
  const Config c = checkpoint_config(ck);
  CHECK(c.model.d_model == r.model.cfg.d_model);
  ModelConfig mc = c.model;
  mc.vocab_size = r.model.cfg.vocab_size;
  Transformer m2(mc);
  Adam a2(m2.params(), AdamConfig{});
  TrainerState st2;
  load_checkpoint_weights(ck, m2);
  load_training_state(ck, m2, {a2, st2});
  for (size_t k = 0; k < m2.params().size(); ++k) {
    CHECK(same_values(m2.params()[k]->value, r.model.params()[k]->value));
    CHECK(same_values(a2.first_moments()[k], r.adam.first_moments()[k]));
    CHECK(same_values(a2.second_moments()[k], r.adam.second_moments()[k]));
  }
  CHECK(a2.steps() == 2);
  CHECK(st2.to_json() == st.to_json());
  CHECK(st2.rng[2] == 0xffffffffffffffffULL);
}

TEST_CASE("last/best are replaced atomically and a failed save leaves the old one whole") {
  Run r;
  const fs::path ckdir = r.dir / "checkpoints";
  const TrainerState st = r.state();
  save_checkpoint((ckdir / "step_1").string(), {r.config, r.model, r.vocab, &r.adam, &st});
  publish_checkpoint((ckdir / "step_1").string(), (ckdir / "last").string());
  r.model.params()[0]->value[0] += 1.0f;
  save_checkpoint((ckdir / "step_2").string(), {r.config, r.model, r.vocab, &r.adam, &st});
  publish_checkpoint((ckdir / "step_2").string(), (ckdir / "last").string());
  Transformer m2(r.model.cfg);
  load_checkpoint_weights((ckdir / "last").string(), m2);
  CHECK(m2.params()[0]->value[0] == r.model.params()[0]->value[0]);

  // A save that fails half-way (here: the vocabulary file vanished) changes nothing.
  fs::remove(r.vocab);
  CHECK_THROWS(
      save_checkpoint((ckdir / "last").string(), {r.config, r.model, r.vocab, &r.adam, &st}));
  load_checkpoint_weights((ckdir / "last").string(), m2);
  CHECK(m2.params()[0]->value[0] == r.model.params()[0]->value[0]);
  for (const auto& e : fs::directory_iterator(ckdir))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);

  for (int s = 3; s <= 6; ++s)
    save_checkpoint((ckdir / ("step_" + std::to_string(s))).string(),
                    {r.config, r.model, (ckdir / "last/vocab.model").string()});
  prune_checkpoints(ckdir.string(), 2);
  CHECK(!fs::exists(ckdir / "step_4"));
  CHECK(fs::exists(ckdir / "step_5"));
  CHECK(fs::exists(ckdir / "step_6"));
  CHECK(fs::exists(ckdir / "last"));
}

TEST_CASE("incomplete, truncated and mismatched checkpoints are refused by name") {
  Run r;
  const std::string ck = (r.dir / "checkpoints/step_2").string();
  const TrainerState st = r.state();
  save_checkpoint(ck, {r.config, r.model, r.vocab, &r.adam, &st});

  // Resuming a model of another shape.
  ModelConfig other = r.model.cfg;
  other.ffn = 40;
  Transformer m3(other);
  Adam a3(m3.params(), AdamConfig{});
  TrainerState s3;
  CHECK_THROWS_WITH_AS(load_checkpoint_weights(ck, m3), doctest::Contains("different model shape"),
                       Error);
  CHECK_THROWS_WITH_AS(load_training_state(ck, m3, {a3, s3}),
                       doctest::Contains("different model shape"), Error);

  // Truncated weights.
  const fs::path w = fs::path(ck) / "model.safetensors";
  fs::resize_file(w, fs::file_size(w) - 64);
  Transformer m2(r.model.cfg);
  CHECK_THROWS_WITH_AS(load_checkpoint_weights(ck, m2), doctest::Contains("model.safetensors"),
                       Error);

  // Corrupted trainer state.
  std::ofstream(fs::path(ck) / "trainer_state.json") << "{\"step\": 3,";
  Adam a2(m2.params(), AdamConfig{});
  TrainerState s2;
  CHECK_THROWS_WITH_AS(load_training_state(ck, m2, {a2, s2}), doctest::Contains("trainer_state.json"),
                       Error);

  // Missing pieces.
  fs::remove(fs::path(ck) / "vocab.model");
  CHECK_THROWS_WITH_AS(checkpoint_config(ck), doctest::Contains("vocab.model is missing"), Error);
  CHECK_THROWS_WITH_AS(checkpoint_config((r.dir / "nope").string()),
                       doctest::Contains("not a directory"), Error);
}

TEST_CASE("averaging checkpoints gives the mean of their weights and refuses mismatches") {
  testing::ToyRun toy("average");
  const fs::path ckdir = toy.dir / "checkpoints";
  const std::string vocab = toy.path("spm.model");
  Vocab::train(toy.config.data.train_files(), vocab, VocabOptions{40});
  ModelConfig mc = testing::tiny_config();
  mc.vocab_size = 40;
  Config cfg;
  cfg.model = mc;
  Rng rng(7);
  Transformer first(mc), second(mc);
  first.init(rng);
  second.init(rng);
  save_checkpoint((ckdir / "a").string(), {cfg, first, vocab});
  save_checkpoint((ckdir / "b").string(), {cfg, second, vocab});
  average_checkpoints({(ckdir / "a").string(), (ckdir / "b").string()}, (ckdir / "avg").string());
  const OpenCheckpoint avg = open_checkpoint((ckdir / "avg").string());
  for (size_t k = 0; k < first.params().size(); ++k)
    for (long j = 0; j < first.params()[k]->value.size(); j += 7)
      CHECK(avg.model->params()[k]->value[j] ==
            doctest::Approx(0.5 * (first.params()[k]->value[j] + second.params()[k]->value[j])));
  CHECK(!fs::exists(ckdir / "avg/optimizer.safetensors"));  // weights only
  CHECK_THROWS_WITH_AS(average_checkpoints({(ckdir / "a").string()}, (ckdir / "a").string()),
                       doctest::Contains("also an input"), Error);
  CHECK_THROWS_WITH_AS(average_checkpoints({(ckdir / "a").string()}, ckdir.string()),
                       doctest::Contains("inside the output"), Error);
  fs::create_directories(toy.dir / "notes");
  CHECK_THROWS_WITH_AS(average_checkpoints({(ckdir / "a").string()}, toy.path("notes")),
                       doctest::Contains("is not a checkpoint"), Error);
  CHECK(fs::exists(ckdir / "a/model.safetensors"));  // nothing was lost
  ModelConfig other = mc;
  other.ffn = 40;
  Transformer wide(other);
  Config oc = cfg;
  oc.model = other;
  save_checkpoint((ckdir / "c").string(), {oc, wide, vocab});
  CHECK_THROWS_WITH_AS(
      average_checkpoints({(ckdir / "a").string(), (ckdir / "c").string()}, (ckdir / "x").string()),
      doctest::Contains("different model shape"), Error);
}

TEST_SUITE_END();
