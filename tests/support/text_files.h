// text_files.h — generated "English" and "French" lines for the data-layer tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spotlight/rng.h"

namespace spotlight::testing {

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
