// toy_corpus.h — a small generated parallel corpus and a run config for end-to-end training
// tests: "English" sentences of random words and their word-by-word "French" translations.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spotlight/config.h"
#include "spotlight/rng.h"
#include "spotlight/train/trainer.h"

namespace spotlight::testing {

// Training options for tests: no output; resume as asked.
inline TrainOptions quiet(bool resume = false) {
  TrainOptions o;
  o.quiet = true;
  o.resume = resume;
  return o;
}

struct ToyRun {
  std::filesystem::path dir;
  Config config;

  explicit ToyRun(const std::string& name, long train_pairs = 400, long valid_pairs = 40) {
    dir = std::filesystem::temp_directory_path() /
          ("spotlight_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    static const std::vector<std::string> en = {"the",    "a",    "dog",  "cat",   "man",  "woman",
                                                "red",    "blue", "runs", "sits",  "on",   "in",
                                                "street", "park", "big",  "small", "ball", "with"};
    static const std::vector<std::string> fr = {"le",    "un",   "chien", "chat",  "homme", "femme",
                                                "rouge", "bleu", "court", "assis", "sur",   "dans",
                                                "rue",   "parc", "grand", "petit", "balle", "avec"};
    Rng rng(2024);
    auto write = [&](const std::string& split, long n) {
      std::ofstream se(dir / (split + ".en")), sf(dir / (split + ".fr"));
      for (long i = 0; i < n; ++i) {
        const long len = 2 + static_cast<long>(rng.below(6));
        std::string e, f;
        for (long k = 0; k < len; ++k) {
          const size_t w = rng.below(static_cast<uint32_t>(en.size()));
          e += (k ? " " : "") + en[w];
          f += (k ? " " : "") + fr[w];
        }
        se << e << "\n";
        sf << f << "\n";
      }
    };
    write("train", train_pairs);
    write("valid", valid_pairs);
    nlohmann::json j = read_json_file(std::string(SPOTLIGHT_SOURCE_DIR) + "/configs/tiny.json");
    j["data"]["train"] = {(dir / "train.en").string(), (dir / "train.fr").string()};
    j["data"]["valid"] = {(dir / "valid.en").string(), (dir / "valid.fr").string()};
    j["vocab"]["path"] = (dir / "spm.model").string();
    j["output_dir"] = (dir / "run").string();
    config = Config::from_json(j, "tiny.json");
  }
  ~ToyRun() { std::filesystem::remove_all(dir); }
  std::string path(const std::string& rel) const { return (dir / rel).string(); }

  // Trains the toy model for `steps` updates (validated once, at the end), without output;
  // returns its checkpoints/best.
  std::filesystem::path train_quietly(long steps) {
    config.train.max_steps = steps;
    config.train.valid_interval = steps;
    train(config, quiet());
    return std::filesystem::path(config.output_dir) / "checkpoints/best";
  }
};

}  // namespace spotlight::testing
