// A vocabulary records what it was trained from (<model>.json: size, model type, coverage, the
// training files with their SHA-256) and is held to the config that uses it: a record that
// disagrees is an error naming both values and the fix; a vocabulary without a record is used
// with a warning. (A 4,000-piece vocabulary trained on 5k lines once silently replaced an
// 8,000-piece one at a shared path.)
#include <doctest/doctest.h>

#include <fstream>

#include "spotlight/check.h"
#include "spotlight/data/vocab.h"
#include "spotlight/train/trainer.h"
#include "support/error_of.h"
#include "support/cli_run.h"
#include "support/text_files.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using namespace spotlight::testing;
namespace fs = std::filesystem;

namespace {

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) out << l << "\n";
}

VocabOptions options40() {
  VocabOptions o;
  o.size = 40;
  return o;
}

struct Trained {
  TempDir dir{"vocab_record"};
  std::string en = dir.file("train.en"), fr = dir.file("train.fr"), model = dir.file("spm.model");
  Trained() {
    write_lines(en, generated_lines(kEnglish, 200, 1));
    write_lines(fr, generated_lines(kFrench, 200, 2));
    Vocab::train({en, fr}, model, options40());
  }
  bool check(const VocabOptions& o) const { return check_vocab_record(model, 40, o, {en, fr}); }
  std::string refusal(const VocabOptions& o, const std::vector<std::string>& files) const {
    return error_of([&] { check_vocab_record(model, 40, o, files); });
  }
};

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("sha256: the standard test vectors, and a file read in blocks equals its bytes") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  TempDir dir("sha256");
  std::string big;
  for (int i = 0; big.size() < 2'500'000; ++i) big += std::to_string(i * 7919) + "\n";
  std::ofstream(dir.file("big"), std::ios::binary) << big;  // 2.5 MB: three 1 MiB blocks
  long bytes = 0;
  CHECK(sha256_file(dir.file("big"), &bytes) == sha256_hex(big));
  CHECK(bytes == static_cast<long>(big.size()));
  CHECK_THROWS_WITH_AS(sha256_file(dir.file("nope")), doctest::Contains("nope"), Error);
}

TEST_CASE("Vocab::train writes the record of what it was trained from") {
  Trained t;
  REQUIRE(fs::exists(t.model + ".json"));
  CHECK(vocab_record_path(t.model) == t.model + ".json");
  CHECK(find_vocab_record(t.model) == t.model + ".json");
  const auto rec = read_vocab_record(t.model);
  REQUIRE(rec.has_value());
  CHECK(rec->size == 40);
  CHECK(rec->model_type == "unigram");
  CHECK(rec->character_coverage == 1.0);
  REQUIRE(rec->files.size() == 2);
  CHECK(rec->files[0].path == t.en);
  CHECK(rec->files[1].path == t.fr);
  long bytes = 0;
  CHECK(rec->files[0].sha256 == sha256_file(t.en, &bytes));
  CHECK(rec->files[0].bytes == bytes);
  CHECK(rec->model_sha256 == sha256_file(t.model));
  // The record round-trips, and a damaged one is an error naming it.
  CHECK(VocabRecord::from_json(rec->to_json(), "x").to_json() == rec->to_json());
  std::ofstream(t.model + ".json", std::ios::trunc)
      << R"({"format": "spotlight vocabulary record"})";
  CHECK(error_of([&] { read_vocab_record(t.model); }).find(t.model + ".json") == 0);
  std::ofstream(t.model + ".json", std::ios::trunc) << "{";
  CHECK_THROWS_WITH_AS(read_vocab_record(t.model), doctest::Contains("not JSON"), Error);
}

TEST_CASE(
    "check_vocab_record: a record that disagrees with the config names both values and the fix") {
  Trained t;
  CHECK(t.check(options40()));
  VocabOptions o = options40();
  o.size = 8000;
  std::string e = t.refusal(o, {t.en, t.fr});
  CHECK(e.find("vocab.size is 8000 but vocab.path " + t.model +
               " was trained with vocab.size 40") != std::string::npos);
  CHECK(e.find("trained on " + t.en + " + " + t.fr) != std::string::npos);
  CHECK(e.find("point vocab.path at a new file (e.g. --set vocab.path=" +
               t.dir.file("spm_unigram8000.model")) != std::string::npos);
  CHECK(e.find("set vocab.size to 40") != std::string::npos);
  o = options40();
  o.model_type = "bpe";
  CHECK(t.refusal(o, {t.en, t.fr})
            .find("vocab.model_type is bpe but vocab.path " + t.model +
                  " was trained as unigram") != std::string::npos);
  o = options40();
  o.character_coverage = 0.9995;
  CHECK(t.refusal(o, {t.en, t.fr})
            .find("vocab.character_coverage is 0.9995 but vocab.path " + t.model +
                  " was trained with 1.0") != std::string::npos);
  // Other training files.
  write_lines(t.dir.file("small.en"), generated_lines(kEnglish, 50, 3));
  e = t.refusal(options40(), {t.dir.file("small.en"), t.fr});
  CHECK(e.find("data.train is " + t.dir.file("small.en") + " + " + t.fr + " but vocab.path " +
               t.model + " was trained on " + t.en + " + " + t.fr) != std::string::npos);
  // The same bytes under another name: the same data, accepted.
  fs::copy_file(t.en, t.dir.file("copy.en"));
  CHECK(check_vocab_record(t.model, 40, options40(), {t.dir.file("copy.en"), t.fr}));
  // A training file changed since: its digest then and now.
  { std::ofstream(t.en, std::ios::app) << "one more line\n"; }
  e = t.refusal(options40(), {t.en, t.fr});
  CHECK(e.find("data.train file " + t.en + " has changed since vocab.path " + t.model +
               " was trained from it (then ") != std::string::npos);
  CHECK(e.find("sha256 " + read_vocab_record(t.model)->files[0].sha256.substr(0, 12)) !=
        std::string::npos);
}

TEST_CASE("check_vocab_record: a replaced model, and a vocabulary without a record") {
  Trained t;
  // Another vocabulary copied over the model: its record no longer describes it.
  VocabOptions o = options40();
  o.size = 36;
  Vocab::train({t.en, t.fr}, t.dir.file("other.model"), o);
  fs::copy_file(t.dir.file("other.model"), t.model, fs::copy_options::overwrite_existing);
  CHECK(t.refusal(options40(), {t.en, t.fr}).find("is not the model its record") !=
        std::string::npos);
  // Without a record (an older Spotlight's, or made by hand): only the size is checked.
  fs::remove(t.model + ".json");
  CHECK(find_vocab_record(t.model).empty());
  CHECK(!read_vocab_record(t.model).has_value());
  CHECK(!check_vocab_record(t.model, 36, o, {t.en, t.fr}));
  CHECK(!check_vocab_record(t.model, 36, o, {t.dir.file("anything.en")}));
  const std::string e = error_of([&] {
    check_vocab_record(t.model, 36, options40(), {t.en, t.fr});
  });
  CHECK(e.find("vocab.size is 40 but vocab.path " + t.model +
               " holds 36 pieces (it has no record of its training)") != std::string::npos);
  // A char model's size is the data's, not vocab.size: not held to it.
  o.model_type = "char";
  CHECK(!check_vocab_record(t.model, 36, o, {t.en, t.fr}));
}

TEST_CASE("training refuses a vocabulary whose record disagrees, keeps it, and copies the record") {
  ToyRun r("vocab_record_train");
  r.config.train.max_steps = 10;
  r.config.train.valid_interval = 10;
  TrainOptions quiet;
  quiet.quiet = true;
  train(r.config, quiet);
  const std::string record = slurp(r.config.vocab.path + ".json");
  REQUIRE(!record.empty());
  CHECK(slurp(fs::path(r.config.output_dir) / "checkpoints/last/vocab.json") == record);
  const std::string vocab = slurp(r.config.vocab.path);

  // Another run sharing the vocabulary path but asking for another size: refused, nothing replaced.
  Config other = r.config;
  other.output_dir = r.path("run_other");
  other.vocab.size = 60;
  CHECK_THROWS_WITH_AS(train(other, quiet), doctest::Contains("vocab.size is 60 but vocab.path"),
                       Error);
  CHECK(slurp(r.config.vocab.path) == vocab);
  CHECK(slurp(r.config.vocab.path + ".json") == record);
  // Trained on other data: refused.
  other = r.config;
  other.output_dir = r.path("run_other2");
  other.data.train = {{r.path("valid.en"), r.path("valid.fr")}};
  CHECK(error_of([&] {
          train(other, quiet);
        }).find("but vocab.path " + r.config.vocab.path + " was trained on") != std::string::npos);

  // Without a record: a warning in the log, and training goes on.
  fs::remove(r.config.vocab.path + ".json");
  other = r.config;
  other.output_dir = r.path("run_norecord");
  train(other, quiet);
  CHECK(slurp(fs::path(other.output_dir) / "train.log")
            .find("has no record of what it was trained from") != std::string::npos);
  CHECK(!fs::exists(fs::path(other.output_dir) / "checkpoints/last/vocab.json"));
}

TEST_SUITE_END();
