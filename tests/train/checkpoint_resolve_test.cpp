// -c/--checkpoint given a run directory uses its checkpoints/best; any other path that is not a
// checkpoint gets an error saying what was looked for and what the path holds. One function
// (resolve_checkpoint) behind open_checkpoint, checkpoint_config and average_checkpoints, and so
// behind every command.
#include <doctest/doctest.h>

#include <fstream>

#include "spotlight/check.h"
#include "spotlight/train/checkpoint.h"
#include "support/cli_run.h"
#include "support/fixtures.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using namespace spotlight::testing;
namespace fs = std::filesystem;

namespace {

// A run directory <toy>/run with checkpoints/{names...}, each a small weights-only checkpoint.
struct FakeRun {
  ToyRun toy;
  fs::path run, ckpts;
  std::string vocab;
  ModelConfig mc = tiny_config();
  explicit FakeRun(const std::string& name) : toy(name, 60, 5) {
    run = toy.dir / "run";
    ckpts = run / "checkpoints";
    vocab = toy.path("spm.model");
    Vocab::train(toy.config.data.train_files(), vocab, VocabOptions{40});
    mc.vocab_size = 40;
  }
  void add(const std::string& name, long ffn = 24) const {
    ModelConfig m = mc;
    m.ffn = ffn;  // tells the checkpoints apart
    Config cfg;
    cfg.model = m;
    Rng rng(3);
    Transformer model(m);
    model.init(rng);
    save_checkpoint((ckpts / name).string(), {cfg, model, vocab});
  }
};

std::string error_of(const std::string& path) {
  try {
    resolve_checkpoint(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("resolve_checkpoint: a run directory stands for its checkpoints/best") {
  FakeRun r("resolve_run");
  r.add("step_10");
  r.add("last");
  r.add("best", 32);
  const std::string best = (r.ckpts / "best").string();
  CHECK(resolve_checkpoint(r.run.string()) == best);
  CHECK(resolve_checkpoint(best) == best);  // a checkpoint is itself
  CHECK(resolve_checkpoint((r.ckpts / "step_10").string()) == (r.ckpts / "step_10").string());
  // open_checkpoint and checkpoint_config go through it: best's config (ffn 32), not last's.
  const OpenCheckpoint ck = open_checkpoint(r.run.string());
  CHECK(ck.dir == best);
  CHECK(ck.config.model.ffn == 32);
  CHECK(checkpoint_config(r.run.string()).model.ffn == 32);
  // average_checkpoints too: a run directory averages its best.
  average_checkpoints({r.run.string(), (r.ckpts / "best").string()}, r.toy.path("avg"));
  CHECK(checkpoint_config(r.toy.path("avg")).model.ffn == 32);
}

TEST_CASE("resolve_checkpoint: a wrong path says what it looked for and what exists") {
  FakeRun r("resolve_wrong");
  // A run directory without best yet (stopped before its first validation): names what it holds
  // and suggests last.
  r.add("step_20");
  r.add("step_5");
  r.add("last");
  std::string e = error_of(r.run.string());
  CHECK(e == r.run.string() +
                 ": not a checkpoint (no config.json/model.safetensors/vocab.model); it holds "
                 "checkpoints/{last,step_5,step_20}: try -c " +
                 (r.ckpts / "last").string());
  // Only numbered checkpoints: the newest is suggested.
  fs::remove_all(r.ckpts / "last");
  CHECK(error_of(r.run.string()).ends_with("try -c " + (r.ckpts / "step_20").string()));
  // The checkpoints/ directory itself: the checkpoints in it.
  r.add("best");
  e = error_of(r.ckpts.string());
  CHECK(e.find("it holds the checkpoints {best,step_5,step_20}: try -c " +
               (r.ckpts / "best").string()) != std::string::npos);
  // A directory of runs: the run directories in it.
  e = error_of(r.toy.dir.string());
  CHECK(e.find("it holds the run directories run: try -c " + r.run.string()) != std::string::npos);
  // An empty run directory (training has not saved a checkpoint yet).
  fs::create_directories(r.toy.dir / "fresh/checkpoints");
  CHECK(error_of(r.toy.path("fresh")).find("holds no checkpoint yet") != std::string::npos);
  // Anything else: not a run directory either, and what it holds.
  fs::create_directories(r.toy.dir / "notes");
  std::ofstream(r.toy.dir / "notes/a.txt") << "x";
  e = error_of(r.toy.path("notes"));
  CHECK(e.find("not a run directory (no checkpoints/best); it holds a.txt") != std::string::npos);
  fs::create_directories(r.toy.dir / "empty");
  CHECK(error_of(r.toy.path("empty")).ends_with("it is empty"));
  // Missing, a file, an incomplete checkpoint.
  CHECK(error_of(r.toy.path("nope")).find("does not exist") != std::string::npos);
  CHECK(error_of(r.toy.path("train.en")).find("it is a file") != std::string::npos);
  fs::remove(r.ckpts / "best" / "model.safetensors");
  CHECK(error_of((r.ckpts / "best").string()).find("incomplete: model.safetensors is missing") !=
        std::string::npos);
}

TEST_CASE("spotlight info -c RUN_DIR says on stderr that it uses checkpoints/best") {
  FakeRun r("resolve_cli");
  r.add("best");
  CliResult c = run_cli("info -c " + r.run.string(), r.toy.dir);
  CHECK(c.code == 0);
  CHECK(c.err.find(r.run.string() + " is a run directory: using its checkpoint " +
                   (r.ckpts / "best").string()) != std::string::npos);
  CHECK(c.out.find("checkpoint  " + (r.ckpts / "best").string()) != std::string::npos);
  fs::remove_all(r.ckpts / "best");
  r.add("last");
  c = run_cli("info -c " + r.run.string(), r.toy.dir);
  CHECK(c.code == 1);
  CHECK(c.err.find("try -c " + (r.ckpts / "last").string()) != std::string::npos);
}

TEST_SUITE_END();
