// text_files.h — temporary directories and generated "English"/"French" lines for the
// data-layer tests.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spotlight/rng.h"

namespace spotlight::testing {

// A fresh directory under the system temp dir (unique per process), removed at the end.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("spotlight_test_" + std::to_string(::getpid()) + "_" + name)) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A file of exactly these bytes.
inline void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A file of these lines, each ended by "\n".
inline void write_file(const std::string& path, const std::vector<std::string>& lines) {
  std::string bytes;
  for (const auto& l : lines) bytes += l + "\n";
  write_raw(path, bytes);
}

// `n` lines of 1..8 random words drawn from `words`.
inline std::vector<std::string> generated_lines(const std::vector<std::string>& words, long n,
                                                uint64_t seed) {
  Rng rng(seed);
  std::vector<std::string> lines;
  for (long i = 0; i < n; ++i) {
    std::string l;
    const uint32_t len = 1 + rng.below(8);
    for (uint32_t w = 0; w < len; ++w)
      l += (w ? " " : "") + words[rng.below(static_cast<uint32_t>(words.size()))];
    lines.push_back(l);
  }
  return lines;
}

inline const std::vector<std::string> kEnglish = {
    "the",   "cat",   "sat",   "on",    "mat",     "dog",   "runs",   "fast",   "house",  "green",
    "small", "river", "bread", "water", "quickly", "walks", "yellow", "window", "garden", "big"};
inline const std::vector<std::string> kFrench = {
    "le",    "chat",    "est",  "assis", "sur",  "tapis",  "chien", "court",   "maison", "verte",
    "petit", "rivière", "pain", "eau",   "vite", "marche", "jaune", "fenêtre", "jardin", "grand"};

}  // namespace spotlight::testing
