// --resume continues a run with the config stored in its checkpoints/last: only the keys that
// may change mid-run (stopping conditions, intervals, threads, decode.*) are taken from the
// config given now; any other difference is refused, naming the key, both values and the fix.
// (Leaving out the original `--set data.train=...` once switched a run to other data silently.)
#include <doctest/doctest.h>

#include <fstream>

#include "spotlight/check.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/trainer.h"
#include "support/error_of.h"
#include "support/cli_run.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using namespace spotlight::testing;
namespace fs = std::filesystem;

namespace {

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("resume_config: the run's config, with only the keys that may change mid-run taken") {
  Config run;
  run.data.train = {{"a.en", "a.fr"}};
  run.train.max_steps = 100;
  run.output_dir = "runs/x";
  for (const char* key :
       {"train.max_steps", "train.max_epochs", "train.max_minutes", "train.patience",
        "train.log_interval", "train.valid_interval", "train.keep_last", "train.threads",
        "decode.beam", "decode.alpha", "decode.batch_size", "output_dir"})
    CHECK(may_change_on_resume(key));
  for (const char* key : {"train.lr", "train.seed", "train.max_tokens", "data.train", "vocab.size",
                          "model.d_model", "train.bleu_tokenize", "train.ema_decay"})
    CHECK(!may_change_on_resume(key));

  Config given = run;
  given.train.max_steps = 300;
  given.train.valid_interval = 50;
  given.train.threads = 1;
  given.decode.beam = 8;
  given.output_dir = "moved/x";  // the run directory was moved
  std::vector<std::string> changes;
  const Config c = resume_config(run, given, "runs/x/checkpoints/last/config.json", changes);
  CHECK(c.train.max_steps == 300);
  CHECK(c.train.valid_interval == 50);
  CHECK(c.train.threads == 1);
  CHECK(c.decode.beam == 8);
  CHECK(c.output_dir == "moved/x");
  CHECK(c.data.train == run.data.train);
  CHECK(changes.size() == 5);
  CHECK(std::find(changes.begin(), changes.end(), "train.max_steps: 100 → 300") != changes.end());
  // Nothing differs: nothing changes.
  changes.clear();
  CHECK(resume_config(run, run, "x", changes).to_json() == run.to_json());
  CHECK(changes.empty());
}

TEST_CASE("resume_config: any other difference is refused, every key named with both values") {
  Config run;
  run.data.train = {{"train.5k.en", "train.5k.fr"}};
  run.output_dir = "runs/x";
  Config given = run;
  given.data.train = {{"train.en", "train.fr"}};  // the original --set left out
  given.train.lr = 5e-4;
  given.train.max_steps = 900;  // allowed, but the refusal comes first
  std::vector<std::string> changes;
  const std::string e =
      error_of([&] { resume_config(run, given, "runs/x/checkpoints/last/config.json", changes); });
  CAPTURE(e);
  CHECK(e.find("runs/x/checkpoints/last/config.json") != std::string::npos);
  CHECK(e.find("data.train: the run has [\"train.5k.en\",\"train.5k.fr\"], the config now gives "
               "[\"train.en\",\"train.fr\"]") != std::string::npos);
  CHECK(e.find("train.lr: the run has 0.001, the config now gives 0.0005") != std::string::npos);
  CHECK(e.find("  train.max_steps:") == std::string::npos);  // allowed: not among the refused
  // What to do: the exact --set arguments that restore the run's values, or a new output_dir.
  CHECK(e.find("--set 'data.train=[\"train.5k.en\",\"train.5k.fr\"]' --set train.lr=0.001") !=
        std::string::npos);
  CHECK(e.find("another output_dir (--set output_dir=runs/x_2)") != std::string::npos);
  // A model of another shape says so.
  given = run;
  given.model.ffn = 48;
  CHECK(error_of([&] {
          resume_config(run, given, "x", changes);
        }).find("model.ffn: the run has 1024, the config now gives 48 (a different model shape") !=
        std::string::npos);
}

TEST_CASE("train --resume: the stored config is used, a changed data.train is refused") {
  ToyRun r("resume_cfg");
  r.config.train.max_steps = 20;
  r.config.train.valid_interval = 10;
  train(r.config, quiet(false));
  const fs::path last = fs::path(r.config.output_dir) / "checkpoints/last";
  const std::string before = slurp(last / "model.safetensors");

  // Other training data (the original --set data.train left out): refused, nothing touched.
  {
    std::ofstream en(r.path("other.en")), fr(r.path("other.fr"));
    for (int i = 0; i < 50; ++i) en << "a dog\n", fr << "un chien\n";
  }
  Config other = r.config;
  other.data.train = {{r.path("other.en"), r.path("other.fr")}};
  other.train.max_steps = 40;
  const std::string e = error_of([&] { train(other, quiet(true)); });
  CHECK(e.find("data.train: the run has [\"" + r.path("train.en")) != std::string::npos);
  CHECK(slurp(last / "model.safetensors") == before);
  CHECK(nlohmann::json::parse(slurp(last / "trainer_state.json"))["step"] == 20);

  // Allowed changes are taken; everything else is the run's own (here the given config has
  // another decode.beam, taken, and the same everything else).
  Config more = r.config;
  more.train.max_steps = 30;
  more.decode.beam = 3;
  train(more, quiet(true));
  const Config stored = checkpoint_config(last.string());
  CHECK(stored.train.max_steps == 30);
  CHECK(stored.decode.beam == 3);
  CHECK(stored.data.train == r.config.data.train);
  CHECK(nlohmann::json::parse(slurp(last / "trainer_state.json"))["step"] == 30);
  CHECK(slurp(fs::path(r.config.output_dir) / "train.log")
            .find("--resume: train.max_steps: 20 → 30") != std::string::npos);
}

TEST_CASE(
    "spotlight train --resume: an edited --config file is refused by key, --set of a stop is not") {
  ToyRun r("resume_cli");
  r.config.train.max_steps = 10;
  r.config.train.valid_interval = 10;
  r.config.train.threads = 1;
  const std::string cfg = r.path("cfg.json");
  std::ofstream(cfg) << r.config.to_json().dump(2);
  CliResult c = run_cli("train --config " + cfg, r.dir);
  REQUIRE(c.code == 0);
  // The config file edited after the run started: train.lr and train.seed differ.
  nlohmann::json edited = r.config.to_json();
  edited["train"]["lr"] = 0.01;
  edited["train"]["seed"] = 7;
  std::ofstream(cfg, std::ios::trunc) << edited.dump(2);
  c = run_cli("train --config " + cfg + " --resume --set train.max_steps=20", r.dir);
  CHECK(c.code == 1);
  CHECK(c.err.find("train.lr: the run has 0.005, the config now gives 0.01") != std::string::npos);
  CHECK(c.err.find("train.seed: the run has 1, the config now gives 7") != std::string::npos);
  CHECK(c.err.find("--set train.lr=0.005 --set train.seed=1") != std::string::npos);
  // The file put back: --set of a stopping condition continues the run.
  std::ofstream(cfg, std::ios::trunc) << r.config.to_json().dump(2);
  c = run_cli("train --config " + cfg + " --resume --set train.max_steps=20", r.dir);
  CHECK(c.code == 0);
  CHECK(checkpoint_config((fs::path(r.config.output_dir) / "checkpoints/last").string())
            .train.max_steps == 20);
}

TEST_SUITE_END();
