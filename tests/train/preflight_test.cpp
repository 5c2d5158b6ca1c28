// `spotlight train` checks what it can before the work starts: every data file (data.train and
// data.valid) readable before the vocabulary is trained, output_dir creatable and writable, and
// vocab.path's directory writable when the vocabulary must be trained — each refusal naming the
// config key and the path, with nothing created or trained.
#include <doctest/doctest.h>

#include <fstream>

#include "spotlight/check.h"
#include "spotlight/train/trainer.h"
#include "support/cli_run.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using namespace spotlight::testing;
namespace fs = std::filesystem;

namespace {

std::string error_of(const Config& c) {
  TrainOptions o;
  o.quiet = true;
  try {
    train(c, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("train: missing or unreadable data files are refused before the vocabulary is trained") {
  ToyRun r("preflight_data");
  Config c = r.config;
  c.data.valid[1] = r.path("nope.fr");  // read only after the vocabulary, until now
  CHECK(error_of(c) == "data.valid: " + r.path("nope.fr") + " does not exist");
  CHECK(!fs::exists(c.vocab.path));  // no vocabulary trained
  CHECK(!fs::exists(c.output_dir));  // no run directory created
  c = r.config;
  c.data.train[0].src = r.dir.string();
  CHECK(error_of(c) == "data.train: " + r.dir.string() + " is not a file (it is a directory)");
  CHECK(!fs::exists(c.vocab.path));
  // Valid files of different lengths: both counts, before the vocabulary too.
  std::ofstream(r.path("short.fr")) << "un chien\n";
  c = r.config;
  c.data.valid[1] = r.path("short.fr");
  CHECK(error_of(c).find(r.path("valid.en") + " has 40 lines but " + r.path("short.fr") +
                         " has 1") != std::string::npos);
  CHECK(!fs::exists(c.vocab.path));
}

TEST_CASE("train: an output_dir or vocab.path directory that cannot be written is refused first") {
  ToyRun r("preflight_dirs");
  // output_dir below a regular file (a permission test would not hold for root).
  Config c = r.config;
  c.output_dir = r.path("train.en") + "/run";
  CHECK(error_of(c) == "output_dir: cannot write the run directory " + c.output_dir +
                           ": cannot create it: " + r.path("train.en") + " is not a directory");
  CHECK(!fs::exists(c.vocab.path));
  c.output_dir = r.path("train.en");
  CHECK(error_of(c).find("output_dir: cannot write the run directory " + c.output_dir) == 0);
  // vocab.path in a directory that cannot be made: said before anything is created.
  c = r.config;
  c.vocab.path = r.path("valid.fr") + "/vocab/spm.model";
  CHECK(error_of(c) == "vocab.path: " + c.vocab.path +
                           " does not exist and cannot be trained there: " + r.path("valid.fr") +
                           "/vocab: cannot create it: " + r.path("valid.fr") +
                           " is not a directory");
  CHECK(!fs::exists(r.config.output_dir));
  c.vocab.path = r.dir.string();
  CHECK(error_of(c) ==
        "vocab.path: " + r.dir.string() + " is a directory, not a SentencePiece model file");
  // A vocab.path directory that does not exist yet is made (as before).
  c = r.config;
  c.vocab.path = r.path("new/dir/spm.model");
  c.train.max_steps = 2;
  c.train.valid_interval = 2;
  CHECK(error_of(c) == "(no error)");
  CHECK(fs::exists(c.vocab.path));
}

TEST_CASE("spotlight train: a refused data file exits 1 naming the key and the path") {
  ToyRun r("preflight_cli");
  Config c = r.config;
  c.data.valid[0] = r.path("missing.en");
  std::ofstream(r.path("cfg.json")) << c.to_json().dump(2);
  const CliResult res = run_cli("train --config " + r.path("cfg.json"), r.dir);
  CHECK(res.code == 1);
  CHECK(res.err.find("data.valid: " + r.path("missing.en") + " does not exist") !=
        std::string::npos);
  CHECK(!fs::exists(c.vocab.path));
}

TEST_SUITE_END();
