// Configs: presets load, defaults round-trip, overrides edit the JSON, and every mistake names
// the key path (or file, line and column for a syntax error).
#include "spotlight/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "spotlight/check.h"

using namespace spotlight;
namespace fs = std::filesystem;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path p =
      fs::temp_directory_path() / ("spotlight_cfg_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("every preset in configs/ loads and round-trips through the resolved JSON") {
  for (const char* name :
       {"tiny", "quickstart", "multi30k_en_fr", "tatoeba_en_fr", "transformer_base"}) {
    CAPTURE(name);
    const Config c = load_config(std::string(SPOTLIGHT_SOURCE_DIR) + "/configs/" + name + ".json");
    CHECK(!c.data.train[0].src.empty());
    CHECK(c.model.d_model % c.model.heads == 0);
    const Config again = Config::from_json(c.to_json());
    CHECK(again.to_json() == c.to_json());
  }
  const Config base =
      load_config(std::string(SPOTLIGHT_SOURCE_DIR) + "/configs/transformer_base.json");
  CHECK(base.model.norm == Norm::post);
  CHECK(base.model.d_model == 512);
}

TEST_CASE("missing fields keep their documented defaults") {
  const Config c = Config::from_json(nlohmann::json::object());
  CHECK(c.train.lr == 1e-3);
  CHECK(c.train.label_smoothing == 0.1);
  CHECK(c.model.norm == Norm::pre);
  CHECK(c.decode.beam == 5);
  CHECK(c.decode.patience == 1.0);  // fairseq's early stop
  CHECK(c.to_json()["train"]["adam_beta2"] == 0.98);
}

TEST_CASE("unknown keys and wrong types name the key path") {
  using nlohmann::json;
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"train", {{"lr", "fast"}}}}),
                       doctest::Contains("train.lr: expected a number"), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"train", {{"lrr", 1}}}}),
                       doctest::Contains("train.lrr: unknown key"), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"trian", json::object()}}),
                       doctest::Contains("trian: unknown key"), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"model", {{"heads", 2.5}}}}),
                       doctest::Contains("model.heads: expected an integer"), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"model", {{"norm", "middle"}}}}),
                       doctest::Contains("model.norm: expected \"pre\" or \"post\""), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"model", {{"output_vocab", "french"}}}}),
                       doctest::Contains("model.output_vocab: expected \"all\" or \"target\""),
                       Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"data", {{"train", {"a.en"}}}}}),
                       doctest::Contains("data.train: expected a [source_file, target_file] pair"),
                       Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"decode", 3}}),
                       doctest::Contains("decode: expected an object"), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"decode", {{"patience", 0}}}}),
                       doctest::Contains("decode.patience: expected a value in [0.01, 1000"),
                       Error);
  CHECK(Config::from_json(json{{"decode", {{"patience", 3}}}}).decode.patience == 3.0);
}

TEST_CASE("data.train: one source-target pair or a list of corpora with weights, written back as read") {
  using json = nlohmann::json;
  const json one = json::parse(R"({"data": {"train": ["a.en", "a.fr"]}})");
  const Config c1 = Config::from_json(one);
  REQUIRE(c1.data.train.size() == 1);
  CHECK(c1.data.train[0] == TrainCorpus{"a.en", "a.fr", 1.0});
  CHECK(c1.to_json()["data"]["train"].dump() == R"(["a.en","a.fr"])");  // the pair form kept
  const json many = json::parse(
      R"({"data": {"train": [["a.en", "a.fr"], {"src": "b.en", "tgt": "b.fr", "weight": 2.5}]}})");
  const Config c2 = Config::from_json(many);
  REQUIRE(c2.data.train.size() == 2);
  CHECK(c2.data.train[1] == TrainCorpus{"b.en", "b.fr", 2.5});
  CHECK(c2.data.train_files() == std::vector<std::string>{"a.en", "a.fr", "b.en", "b.fr"});
  CHECK(Config::from_json(json::parse(c2.to_json().dump())).data.train == c2.data.train);
  CHECK(c2.data.store_dir("runs/x") == "runs/x/data");
  CHECK_THROWS_WITH_AS(
      Config::from_json(json::parse(R"({"data": {"train": [{"src": "b.en", "tgt": "b.fr", "weight": -1}]}})")),
      doctest::Contains("data.train[0].weight: expected a value in [0.0, 1000000.0], got -1.0"), Error);
  CHECK_THROWS_WITH_AS(
      Config::from_json(json::parse(R"({"data": {"train": [{"src": "b.en", "target": "b.fr"}]}})")),
      doctest::Contains("data.train[0].target: unknown key"), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(json::parse(R"({"data": {"train": [["a.en"]]}})")),
                       doctest::Contains("data.train[0]: expected a [source_file, target_file]"),
                       Error);
}

TEST_CASE("--set overrides edit the JSON before it is read") {
  const std::string path = write_temp("ok.json", R"({"train": {"lr": 0.5}, "output_dir": "a"})");
  const Config c = load_config(path, {"train.lr=3e-4", "model.norm=post", "output_dir=runs/x",
                                      "data.train=[\"s.en\", \"s.fr\"]"});
  CHECK(c.train.lr == 3e-4);
  CHECK(c.model.norm == Norm::post);
  CHECK(c.output_dir == "runs/x");
  CHECK(c.data.train[0].tgt == "s.fr");
  CHECK_THROWS_WITH_AS(load_config(path, {"train.lrr=1"}),
                       doctest::Contains("train.lrr: unknown key"), Error);
  CHECK_THROWS_WITH_AS(load_config(path, {"train.lr"}),
                       doctest::Contains("expected key.path=value"), Error);
  CHECK_THROWS_WITH_AS(load_config(path, {"train.lr.x=1"}), doctest::Contains("is not a section"),
                       Error);
  fs::remove(path);
}

TEST_CASE("a config that does not parse is reported with file, line and column") {
  const std::string path =
      write_temp("bad.json", "{\n  \"train\": {\n    \"lr\": 1e-3,,\n  }\n}\n");
  CHECK_THROWS_WITH_AS(load_config(path), doctest::Contains("bad.json:3:"), Error);
  CHECK_THROWS_WITH_AS(load_config("/nonexistent/x.json"),
                       doctest::Contains("cannot open config /nonexistent/x.json"), Error);
  fs::remove(path);
}

TEST_SUITE_END();
