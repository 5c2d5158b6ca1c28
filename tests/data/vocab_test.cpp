// Vocab: training a tiny joint SentencePiece model on generated text, fixed special ids,
// encode/decode round trips, atomic output and the errors a user can hit.
#include "spotlight/data/vocab.h"

#include <doctest/doctest.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/rng.h"
#include "support/text_files.h"

using namespace spotlight;
namespace fs = std::filesystem;
using namespace spotlight::testing;

namespace {

VocabOptions tiny_options() {
  VocabOptions o;
  o.size = 60;
  o.model_type = "unigram";
  return o;
}

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("a trained vocabulary has pad, unk, bos, eos at 0-3 and round-trips text") {
  TempDir dir("roundtrip");
  write_file(dir.file("train.en"), generated_lines(kEnglish, 300, 1));
  write_file(dir.file("train.fr"), generated_lines(kFrench, 300, 2));
  const std::string model = dir.file("sub/vocab.model");  // parent created on demand
  Vocab::train({dir.file("train.en"), dir.file("train.fr")}, model, tiny_options());
  CHECK(fs::exists(model));
  // Nothing but the model and its record is left behind: no temporary, no .vocab side file.
  long files = 0;
  for (const auto& e : fs::directory_iterator(dir.path / "sub")) files += e.is_regular_file();
  CHECK(files == 2);
  CHECK(fs::exists(model + ".json"));

  const Vocab v(model);
  CHECK(v.size() == 60);
  CHECK(v.pad_id() == 0);
  CHECK(v.unk_id() == 1);
  CHECK(v.bos_id() == 2);
  CHECK(v.eos_id() == 3);
  CHECK(v.fingerprint() != 0);
  for (const std::string text :
       {"the cat sat on the mat", "le chat est assis sur le tapis", "petit rivière", "dog"}) {
    const std::vector<int> ids = v.encode(text);
    REQUIRE(!ids.empty());
    for (int id : ids) {
      CHECK(id >= 4);  // pieces only: no specials, nothing unknown in in-vocabulary text
      CHECK(id < v.size());
    }
    CHECK(v.decode(ids) == text);
    // decode skips the framing ids callers leave in.
    std::vector<int> framed = {v.bos_id()};
    framed.insert(framed.end(), ids.begin(), ids.end());
    framed.push_back(v.eos_id());
    framed.push_back(v.pad_id());
    CHECK(v.decode(framed) == text);
  }
  CHECK(v.encode("").empty());
  // Unseen characters map to unk.
  const std::vector<int> unk = v.encode("ж");
  CHECK(std::find(unk.begin(), unk.end(), v.unk_id()) != unk.end());
  CHECK_THROWS_WITH_AS(v.decode(std::vector<int>{1000}), doctest::Contains("outside"), Error);

  // Same data, same options → byte-identical model.
  const std::string again = dir.file("again.model");
  Vocab::train({dir.file("train.en"), dir.file("train.fr")}, again, tiny_options());
  CHECK(Vocab(again).fingerprint() == v.fingerprint());
}

TEST_CASE("every model type trains") {
  TempDir dir("types");
  write_file(dir.file("train.txt"), generated_lines(kEnglish, 200, 3));
  for (const std::string type : {"bpe", "char", "word"}) {
    VocabOptions o = tiny_options();
    o.model_type = type;
    o.size = type == "word" ? 24 : 30;  // word: the 20 words + 4 specials
    const std::string model = dir.file(type + ".model");
    Vocab::train({dir.file("train.txt")}, model, o);
    const Vocab v(model);
    CHECK(v.decode(v.encode("the small dog")) == "the small dog");
  }
}

TEST_CASE("vocabulary training refuses bad inputs and options, naming them") {
  TempDir dir("errors");
  write_file(dir.file("train.txt"), generated_lines(kEnglish, 100, 4));
  const std::string model = dir.file("vocab.model");
  CHECK_THROWS_WITH_AS(Vocab::train({dir.file("missing.txt")}, model, tiny_options()),
                       doctest::Contains("missing.txt"), Error);
  VocabOptions big = tiny_options();
  big.size = 5000;
  CHECK_THROWS_WITH_AS(Vocab::train({dir.file("train.txt")}, model, big),
                       doctest::Contains("vocab.size"), Error);
  VocabOptions few = tiny_options();
  few.size = 10;  // fewer pieces than the data has characters
  CHECK_THROWS_WITH_AS(Vocab::train({dir.file("train.txt")}, model, few),
                       doctest::Contains("vocab.size"), Error);
  VocabOptions odd = tiny_options();
  odd.model_type = "sentencepiece";
  CHECK_THROWS_WITH_AS(Vocab::train({dir.file("train.txt")}, model, odd),
                       doctest::Contains("vocab.model_type"), Error);
  {
    std::ofstream out(dir.file("bad.txt"), std::ios::binary);
    out << "the cat\nthe dog\n\xff\xfe broken\n";
  }
  CHECK_THROWS_WITH_AS(Vocab::train({dir.file("bad.txt")}, model, tiny_options()),
                       doctest::Contains("bad.txt:3"), Error);
  // A failed training leaves no model behind.
  CHECK(!fs::exists(model));
}

TEST_CASE("loading a missing, corrupt or foreign vocabulary is an error naming the file") {
  TempDir dir("load");
  CHECK_THROWS_WITH_AS(Vocab(dir.file("nope.model")), doctest::Contains("nope.model"), Error);
  write_file(dir.file("junk.model"), {"this is not a protobuf"});
  CHECK_THROWS_WITH_AS(Vocab(dir.file("junk.model")), doctest::Contains("junk.model"), Error);
  // A model trained with SentencePiece's default ids (unk 0, bos 1, eos 2, no pad).
  write_file(dir.file("train.txt"), generated_lines(kEnglish, 200, 5));
  const auto status =
      sentencepiece::SentencePieceTrainer::Train({{"input", dir.file("train.txt")},
                                                  {"model_prefix", dir.file("foreign")},
                                                  {"vocab_size", "40"},
                                                  {"minloglevel", "2"}});
  INFO(status.ToString());
  REQUIRE(status.ok());
  CHECK_THROWS_WITH_AS(Vocab(dir.file("foreign.model")),
                       doctest::Contains("not trained by spotlight"), Error);
}

TEST_SUITE_END();
