// toy_corpus.h — a small generated parallel corpus and a run config for end-to-end training
// tests: "English" sentences of random words and their word-by-word "French" translations.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
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
  //
  // Under ctest, which sets SPOTLIGHT_TEST_CACHE to a directory of the build tree, a model is
  // trained once per configuration, test binary and GEMM backend: in that directory, under a
  // lock, and copied into this run's directory by every other test process that asks for it
  // (the ASan pass spent a third of its time training the same toy model in each case that
  // needs one). The copied run's config.json names the cache's files, which stay there.
  // The training tests call train() themselves and are never served from the cache.
  std::filesystem::path train_quietly(long steps) {
    namespace fs = std::filesystem;
    config.train.max_steps = steps;
    config.train.valid_interval = steps;
    const char* cache = std::getenv("SPOTLIGHT_TEST_CACHE");
    if (cache == nullptr || *cache == '\0') {
      train(config, quiet());
      return fs::path(config.output_dir) / "checkpoints/best";
    }
    // The configuration with this run's directory taken out: equal across test processes.
    std::string text = config.to_json().dump();
    for (size_t p; (p = text.find(dir.string())) != std::string::npos;)
      text.replace(p, dir.string().size(), "@DIR@");
    const fs::path entry = fs::path(cache) / (binary_stamp() + "-" + hex(fnv1a(text)));
    fs::create_directories(cache);
    CacheLock lock((fs::path(cache) / "lock").string());
    if (!fs::exists(entry / "done")) {
      // Not yet trained by this binary: drop what older binaries left, then train in `entry`.
      for (const auto& e : fs::directory_iterator(cache))
        if (e.is_directory() && e.path().filename().string().rfind(binary_stamp(), 0) != 0)
          fs::remove_all(e.path());
      fs::remove_all(entry);
      fs::create_directories(entry);
      for (const char* f : {"train.en", "train.fr", "valid.en", "valid.fr"})
        fs::copy_file(dir / f, entry / f);
      std::string at = text;
      for (size_t p; (p = at.find("@DIR@")) != std::string::npos;) at.replace(p, 5, entry.string());
      train(Config::from_json(nlohmann::json::parse(at), "tiny.json"), quiet());
      std::ofstream(entry / "done") << "trained\n";
    }
    fs::remove_all(config.output_dir);
    fs::copy(entry / "run", config.output_dir, fs::copy_options::recursive);
    if (fs::exists(entry / "spm.model")) fs::copy_file(entry / "spm.model", config.vocab.path,
                                                       fs::copy_options::overwrite_existing);
    return fs::path(config.output_dir) / "checkpoints/best";
  }

 private:
  // An exclusive flock(2) on `path`, held for the object's lifetime.
  struct CacheLock {
    int fd;
    explicit CacheLock(const std::string& path) : fd(::open(path.c_str(), O_RDWR | O_CREAT, 0644)) {
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + path);
    }
    ~CacheLock() { ::close(fd); }
    CacheLock(const CacheLock&) = delete;
    CacheLock& operator=(const CacheLock&) = delete;
  };
  static uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
  }
  static std::string hex(uint64_t v) {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
  }
  // This test binary (size and modification time) and the GEMM the results depend on.
  static std::string binary_stamp() {
    struct stat st {};
    ::stat("/proc/self/exe", &st);
    std::string id = std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + ":" +
                     std::to_string(st.st_mtim.tv_nsec);
    for (const char* v : {"SPOTLIGHT_GEMM", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS"})
      id += std::string(":") + (std::getenv(v) ? std::getenv(v) : "");
    return hex(fnv1a(id)).substr(0, 8);
  }
};

}  // namespace spotlight::testing
