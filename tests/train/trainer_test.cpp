// End-to-end training on generated data with the tiny preset: the loss falls and the model
// learns; checkpoints, metrics and logs are written; an interrupted-and-resumed run (through
// max_steps, and through a real SIGTERM to the CLI) ends with the same weights byte for byte;
// bad input gets a clear error and loses nothing; the chunked output projection and loss equal
// the whole-logits computation.
#include "spotlight/train/trainer.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "spotlight/check.h"
#include "spotlight/decode/search.h"
#include "spotlight/safetensors.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/loss_step.h"
#include "support/cli_run.h"
#include "support/fixtures.h"
#include "support/grad_check.h"
#include "support/near.h"
#include "support/pipe_child.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using namespace spotlight::testing;
namespace fs = std::filesystem;

namespace {
std::vector<nlohmann::json> metrics(const fs::path& run) {
  std::vector<nlohmann::json> out;
  std::ifstream f(run / "metrics.jsonl");
  for (std::string line; std::getline(f, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}
}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("the tiny preset trains on generated data: loss falls, BLEU rises, files written" * doctest::test_suite("slow")) {
  ToyRun r("train_basic");
  r.config.train.max_steps = 300;
  r.config.train.valid_interval = 100;
  const TrainSummary s = train(r.config, quiet());
  CHECK(s.reason == StopReason::max_steps);
  CHECK(s.steps == 300);
  const fs::path run = r.config.output_dir;
  const auto m = metrics(run);
  std::vector<double> train_loss, bleu;
  for (const auto& j : m) {
    if (j["type"] == "train") train_loss.push_back(j["loss"]);
    if (j["type"] == "valid") bleu.push_back(j["bleu"]);
    CHECK(j.contains("step"));
  }
  REQUIRE(train_loss.size() >= 10);
  REQUIRE(bleu.size() == 3);
  MESSAGE("train loss " << train_loss.front() << " → " << train_loss.back() << "; valid BLEU "
                        << bleu.front() << " → " << bleu.back());
  CHECK(train_loss.back() < 0.5 * train_loss.front());
  CHECK(bleu.back() > 4 * bleu.front());
  CHECK(bleu.back() > 20.0);
  for (const char* f : {"checkpoints/last/model.safetensors", "checkpoints/best/vocab.model",
                        "checkpoints/step_300/trainer_state.json", "train.log"})
    CHECK(fs::exists(run / f));
  CHECK(!fs::exists(run / "checkpoints/step_100"));  // keep_last = 2
  CHECK(fs::exists(r.config.vocab.path));
  CHECK(slurp(run / "train.log").find("valid | step 300") != std::string::npos);
  CHECK(checkpoint_config((run / "checkpoints/last").string()).train.max_steps == 300);
}

TEST_CASE("interrupted and resumed training equals uninterrupted training, byte for byte" * doctest::test_suite("slow")) {
  for (const auto& setting : {std::pair{1L, 0.0}, {2L, 0.0}, {1L, 0.99}}) {
    const long update_freq = setting.first;  // (not a structured binding: clang 14's CAPTURE
    const double ema_decay = setting.second;  // lambdas cannot capture one)
    CAPTURE(update_freq);
    CAPTURE(ema_decay);
    ToyRun a("resume_a"), b("resume_b");
    for (ToyRun* r : {&a, &b}) {
      r->config.train.valid_interval = 1000;
      r->config.train.ema_decay = ema_decay;      // the average and the live weights both resume
      r->config.train.update_freq = update_freq;  // 2: batches accumulated, epochs end mid-update
      r->config.train.max_steps = 70;             // several epochs of ~10 batches, mid-epoch stops
    }
    train(a.config, quiet());
    b.config.train.max_steps = 23;
    train(b.config, quiet());
    b.config.train.max_steps = 47;
    train(b.config, quiet(true));
    b.config.train.max_steps = 70;
    train(b.config, quiet(true));
    const std::string wa =
        slurp(fs::path(a.config.output_dir) / "checkpoints/last/model.safetensors");
    const std::string wb =
        slurp(fs::path(b.config.output_dir) / "checkpoints/last/model.safetensors");
    REQUIRE(!wa.empty());
    CHECK(wa == wb);
    CHECK(slurp(fs::path(a.config.output_dir) / "checkpoints/last/optimizer.safetensors") ==
          slurp(fs::path(b.config.output_dir) / "checkpoints/last/optimizer.safetensors"));
  }
}

TEST_CASE("model.output_vocab target: the target side's pieces, resumed byte for byte, decoded" * doctest::test_suite("slow")) {
  ToyRun a("outvocab_a"), b("outvocab_b");
  for (ToyRun* r : {&a, &b}) {
    r->config.model.output_vocab = OutputVocab::target;
    r->config.train.valid_interval = 1000;
    r->config.train.max_steps = 60;
  }
  train(a.config, quiet());
  b.config.train.max_steps = 25;
  train(b.config, quiet());
  b.config.train.max_steps = 60;
  train(b.config, quiet(true));
  const fs::path last = fs::path(a.config.output_dir) / "checkpoints/last";
  CHECK(slurp(last / "model.safetensors") ==
        slurp(fs::path(b.config.output_dir) / "checkpoints/last/model.safetensors"));
  CHECK(slurp(last / "optimizer.safetensors") ==
        slurp(fs::path(b.config.output_dir) / "checkpoints/last/optimizer.safetensors"));

  // The mask is exactly the pieces of the French side (plus EOS and UNK): no English-only piece.
  OpenCheckpoint ck = open_checkpoint(last.string());
  const Vocab& v = *ck.vocab;
  std::set<int> french{v.eos_id(), v.unk_id()}, english;
  for (const auto& [file, set] : {std::pair{a.path("train.fr"), &french}, {a.path("train.en"), &english}}) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      for (int id : v.encode(line)) set->insert(id);
  }
  const std::vector<int>& ids = ck.model->output_ids();
  CHECK(std::set<int>(ids.begin(), ids.end()) == french);
  long english_only = 0;
  for (int id : english) english_only += french.count(id) == 0 ? 1 : 0;
  MESSAGE(ids.size() << " of " << v.size() << " pieces scored; " << english_only
                     << " English-only pieces left out");
  CHECK(english_only > 0);
  CHECK(ck.config.model.output_vocab == OutputVocab::target);

  // Beam search and greedy decoding produce only scored pieces.
  std::vector<std::vector<int>> src;
  std::ifstream in(a.path("valid.en"));
  for (std::string line; std::getline(in, line) && src.size() < 20;) src.push_back(v.encode(line));
  DecodeConfig d;
  d.beam = 4;
  long tokens = 0;
  for (const auto& hyps : beam_translate(*ck.model, src, d, 4))
    for (const auto& h : hyps)
      for (int id : h.tokens) {
        CHECK(std::binary_search(ids.begin(), ids.end(), id));
        ++tokens;
      }
  for (const auto& h : greedy_translate(*ck.model, src, d))
    for (int id : h.tokens) CHECK(std::binary_search(ids.begin(), ids.end(), id));
  CHECK(tokens > 0);
}

TEST_CASE("with train.ema_decay, checkpoints hold the averaged weights and resume needs the setting") {
  ToyRun r("ema");
  r.config.train.valid_interval = 1000;
  r.config.train.max_steps = 40;
  r.config.train.ema_decay = 0.9;
  train(r.config, quiet());
  const fs::path last = fs::path(r.config.output_dir) / "checkpoints/last";
  const auto model = read_safetensors((last / "model.safetensors").string());
  const auto opt = read_safetensors((last / "optimizer.safetensors").string());
  // The live weights sit with the optimizer state; the model file holds their average, which
  // lags behind them: e.g. the embedding differs, but only a little.
  const Tensor& avg = model.at("embed_tokens.weight");
  const Tensor& live = opt.at("weights.embed_tokens.weight");
  REQUIRE(avg.same_shape(live));
  double diff = 0.0, norm = 0.0;
  for (long i = 0; i < avg.size(); ++i) {
    diff += std::fabs(avg.data()[i] - live.data()[i]);
    norm += std::fabs(live.data()[i]);
  }
  MESSAGE("mean |average − live| / mean |live| of the embedding: " << diff / norm);
  CHECK(diff > 0.0);
  CHECK(diff < 0.2 * norm);
  // Resuming without the setting (or a run without it with the setting) is refused by name.
  r.config.train.ema_decay = 0.0;
  r.config.train.max_steps = 50;
  CHECK_THROWS_WITH(train(r.config, quiet(true)), doctest::Contains("train.ema_decay"));
  r.config.train.ema_decay = 1.0;
  CHECK_THROWS_WITH(train(r.config, quiet(true)), doctest::Contains("train.ema_decay"));
}

TEST_CASE(
    "SIGTERM to `spotlight train` saves a checkpoint and --resume then matches an uninterrupted run" *
    doctest::test_suite("slow")) {
  ToyRun a("signal_a"), b("signal_b");
  for (ToyRun* r : {&a, &b}) {
    r->config.train.valid_interval = 1000;
    r->config.train.log_interval = 1;
    r->config.train.max_steps = 150;
    r->config.train.threads = 1;
    std::ofstream(r->path("cfg.json")) << r->config.to_json().dump(2);
  }
  train(a.config, quiet());

  const std::string cmd = std::string(SPOTLIGHT_BINARY) + " train --config " + b.path("cfg.json");
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    freopen(b.path("stderr.txt").c_str(), "w", stderr);
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until it has made some progress, then stop it.
  const fs::path log = fs::path(b.config.output_dir) / "metrics.jsonl";
  for (int i = 0; i < 600 && (!fs::exists(log) || fs::file_size(log) < 2000); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  INFO("the run's stderr: " << slurp(b.path("stderr.txt")));
  if (WIFSIGNALED(status)) FAIL("the run ended by signal " << WTERMSIG(status));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  const fs::path last = fs::path(b.config.output_dir) / "checkpoints/last";
  REQUIRE(fs::exists(last / "trainer_state.json"));
  const long stopped_at = nlohmann::json::parse(slurp(last / "trainer_state.json"))["step"];
  MESSAGE("SIGTERM stopped the run at step " << stopped_at << " of 150");
  CHECK(stopped_at < 150);
  const int rc = std::system((cmd + " --resume 2>/dev/null").c_str());
  CHECK(rc == 0);
  CHECK(slurp(fs::path(a.config.output_dir) / "checkpoints/last/model.safetensors") ==
        slurp(last / "model.safetensors"));
}

namespace {
// The signals a thread blocks: SigBlk of /proc/<pid>/task/<tid>/status, a hex mask of bits sig-1.
uint64_t blocked_signals(const fs::path& task) {
  std::ifstream f(task / "status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  FAIL("no SigBlk line in " << (task / "status").string());
  return 0;
}
}  // namespace

TEST_CASE(
    "a signal to `spotlight train` is taken on its signals thread: the main thread and the compute "
    "pool block SIGINT and SIGTERM") {
  // oneDNN 2.6's float GEMM kernels point rsp into the heap: a signal handled on a thread that
  // computes writes its frame over the heap (src/cli/signals.h).
  ToyRun r("signal_mask");
  r.config.train.valid_interval = 1000;
  r.config.train.log_interval = 1;
  r.config.train.max_steps = 100000;
  r.config.train.threads = 2;
  std::ofstream(r.path("cfg.json")) << r.config.to_json().dump(2);
  PipeChild run({"train", "--config", r.path("cfg.json")}, r.path("stderr.txt"));
  const pid_t pid = run.pid();
  REQUIRE(pid > 0);
  const fs::path log = fs::path(r.config.output_dir) / "metrics.jsonl";
  REQUIRE_MESSAGE(
      wait_until([&] { return fs::exists(log) && fs::file_size(log) >= 2000; }, 30.0),
      "the run made no progress in 30 s: " << slurp(r.path("stderr.txt")));
  const uint64_t stop = (uint64_t{1} << (SIGINT - 1)) | (uint64_t{1} << (SIGTERM - 1));
  std::map<std::string, int> blocking, taking;  // thread names
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& t : fs::directory_iterator(tasks)) {
    std::string name = slurp(t.path() / "comm");
    if (!name.empty() && name.back() == '\n') name.pop_back();
    if (t.path().filename() == std::to_string(pid)) name = "main";
    const uint64_t mask = blocked_signals(t.path());
    char hex[24];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(mask));
    MESSAGE("thread " << t.path().filename().string() << " (" << name << "): SigBlk " << hex);
    ++((mask & stop) == stop ? blocking : taking)[name];
  }
  kill(pid, SIGTERM);
  const int status = run.wait(60.0);
  CHECK(blocking["main"] == 1);
  CHECK(blocking["compute 1"] == 1);
  CHECK(taking["signals"] == 1);
  CHECK(blocking["signals"] == 0);
  CHECK(taking["main"] + taking["compute 1"] == 0);
  // And the handler, run on that thread, still stops the run as before: exit 143 with the
  // checkpoint it saves (the run validates and saves nowhere else before step 1000).
  CHECK(status == 128 + SIGTERM);
  CHECK(fs::exists(fs::path(r.config.output_dir) / "checkpoints/last/trainer_state.json"));
}

TEST_CASE("bad training input: clear errors naming the file, line or key and nothing lost") {
  ToyRun r("train_bad");
  // Missing file.
  Config c = r.config;
  c.data.train[0].tgt = r.path("nope.fr");
  CHECK_THROWS_WITH_AS(train(c, quiet()), doctest::Contains("nope.fr"), Error);
  // Different line counts: both counts reported.
  std::ofstream(r.path("short.fr")) << "un chien\n";
  c = r.config;
  c.data.train[0].tgt = r.path("short.fr");
  c.vocab.path = r.path("other.model");
  CHECK_THROWS_WITH_AS(train(c, quiet()), doctest::Contains("400 lines but"), Error);
  // Invalid UTF-8: the line is named.
  {
    std::ifstream in(r.path("train.fr"));
    std::ofstream out(r.path("bad.fr"));
    std::string line;
    for (int i = 1; std::getline(in, line); ++i) out << (i == 7 ? "caf\xe9" : line) << "\n";
  }
  c.data.train[0].tgt = r.path("bad.fr");
  CHECK_THROWS_WITH_AS(train(c, quiet()), doctest::Contains("bad.fr:7"), Error);
  // A run directory that already holds a run is not overwritten without --resume.
  c = r.config;
  c.train.max_steps = 5;
  train(c, quiet());
  CHECK_THROWS_WITH_AS(train(c, quiet()), doctest::Contains("--resume"), Error);
  // Resuming with another model shape.
  c.model.ffn = 48;
  c.train.max_steps = 10;
  CHECK_THROWS_WITH_AS(train(c, quiet(true)), doctest::Contains("different model shape"), Error);
  // A loss that blows up stops the run, names the step and keeps the last good checkpoint:
  // 5 sane steps, then resumed with an absurd learning rate.
  ToyRun nan("train_nan");
  c = nan.config;
  c.train.max_steps = 5;
  c.train.valid_interval = 5;
  train(c, quiet());
  c.train.lr = 1e12;
  c.train.warmup = 1;
  c.train.clip_norm = 0.0;
  c.train.valid_interval = 1;
  c.train.max_steps = 50;
  const fs::path last = fs::path(c.output_dir) / "checkpoints/last";
  {  // --resume keeps the run's train.lr, warmup and clip_norm: give the run itself the bad ones
    nlohmann::json stored = nlohmann::json::parse(slurp(last / "config.json"));
    stored["train"]["lr"] = c.train.lr;
    stored["train"]["warmup"] = c.train.warmup;
    stored["train"]["clip_norm"] = c.train.clip_norm;
    std::ofstream(last / "config.json", std::ios::trunc) << stored.dump(2);
  }
  CHECK_THROWS_WITH_AS(train(c, quiet(true)), doctest::Contains("last good checkpoint"), Error);
  REQUIRE(fs::exists(last / "model.safetensors"));
  const long kept = nlohmann::json::parse(slurp(last / "trainer_state.json"))["step"];
  MESSAGE("non-finite loss: the last checkpoint kept is step " << kept);
  CHECK(kept >= 5);
  ModelConfig mc = checkpoint_config(last.string()).model;
  mc.vocab_size = 40;
  Transformer m(mc);
  load_checkpoint_weights(last.string(), m);  // whole, loadable and finite
  for (const Param* p : m.params())
    for (long i = 0; i < p->value.size(); ++i) REQUIRE(std::isfinite(p->value[i]));
  // No stopping condition at all.
  c = r.config;
  c.train.max_steps = 0;
  CHECK_THROWS_WITH_AS(train(c, quiet()), doctest::Contains("no stopping condition"), Error);
}

TEST_CASE("the chunked projection and loss equal the whole-logits forward, loss and backward") {
  // 40 sentences of up to 30 target tokens: more rows than kLossChunkRows, so several chunks
  // (the last one short) and pad rows inside chunks.
  const ModelConfig c = tiny_config();
  Rng rng(21);
  std::vector<int> src_lens, tgt_lens;
  for (int i = 0; i < 40; ++i) {
    src_lens.push_back(3 + i % 11);
    tgt_lens.push_back(4 + (i * 7) % 26);
  }
  const Batch b = random_batch(rng, c, src_lens, tgt_lens);
  REQUIRE(b.batch * b.tgt_len_max > 2 * kLossChunkRows);
  REQUIRE(b.batch * b.tgt_len_max % kLossChunkRows != 0);
  Transformer whole(c), chunked(c);
  Rng init(3);
  whole.init(init);
  for (size_t i = 0; i < whole.params().size(); ++i)
    chunked.params()[i]->value = whole.params()[i]->value;
  const float scale = 1.0f / static_cast<float>(b.target_tokens());

  Transformer::Cache cw, cc;
  // The same dropout in both: forward_backward draws the first batch's from fork(0).
  Rng drop_w = Rng(9).fork(0), drop_c(9);
  whole.zero_grad();
  whole.forward(b, cw, &drop_w);
  const LossStats sw = cross_entropy(cw.logits, b.tgt_out, c.pad_id, 0.1f, scale, &cw.logits);
  whole.backward(b, cw, cw.logits);
  const LossStats sc = forward_backward(chunked, cc, std::span<const Batch>(&b, 1), 0.1f, drop_c);

  // Chunking changes the shapes of the projection's products, so the two agree to rounding
  // (support/near.h): each gradient within 1e-5 relative plus 32 ε of its largest entry (the
  // rows' partial sums are regrouped; measured ≤ 6 ε). The key-projection biases are zero in
  // exact arithmetic and hold noise on both sides: each is checked ≈ 0 on its own, never
  // against the other (noise over noise was 0.2–1.0 with OpenBLAS's Haswell kernels).
  CHECK(sc.tokens == sw.tokens);
  expect_near("loss", sc.loss, sw.loss, {1e-6, 0.0});  // Σ of positive terms: relative
  expect_near("nll", sc.nll, sw.nll, {1e-6, 0.0});
  for (size_t i = 0; i < whole.params().size(); ++i) {
    const std::string& name = whole.params()[i]->name;
    const Tensor& gw = whole.params()[i]->grad;
    const Tensor& gc = chunked.params()[i]->grad;
    if (name.ends_with("k_proj.bias")) {
      const std::string weight = name.substr(0, name.size() - 4) + "weight";
      expect_zero("whole " + name, gw, key_bias_zero_atol(whole.param(weight).grad));
      expect_zero("chunked " + name, gc, key_bias_zero_atol(chunked.param(weight).grad));
    } else {
      expect_near(name, gc, gw, scaled_tol(gw, 1e-5, 32));
    }
  }
  // Without a gradient (validation): the same loss, and no weight gradient touched.
  chunked.zero_grad();
  chunked.forward_hidden(b, cc, nullptr);
  whole.forward(b, cw, nullptr);
  const LossStats vw = cross_entropy(cw.logits, b.tgt_out, c.pad_id, 0.1f, 0.0f, nullptr);
  const LossStats vc = projected_loss(chunked, cc, b, 0.1f, 0.0f, nullptr);
  expect_near("validation loss", vc.loss, vw.loss, {1e-6, 0.0});
  for (long k = 0; k < chunked.embed.weight.grad.size(); ++k)
    REQUIRE(chunked.embed.weight.grad[k] == 0.0f);
  CHECK(cc.logits.rows() <= kLossChunkRows);  // never the whole [B·T, V]
}

TEST_SUITE_END();
