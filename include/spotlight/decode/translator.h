// translator.h — text in, text out: encodes lines with the vocabulary, decodes them (greedy for
// beam 1, else beam search), turns the tokens back into text. Empty lines give empty outputs;
// lines longer than the model's positions are truncated and reported.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "spotlight/config.h"
#include "spotlight/data/vocab.h"

namespace spotlight {

struct Translation {
  std::string text;
  double score = 0.0;  // greedy: Σ log p; beam: Σ log p / length^alpha (length counts EOS)
  long tokens = 0;     // output tokens, EOS excluded
  std::vector<int> ids;  // those tokens' piece ids
};

struct TranslateReport {
  std::vector<long> truncated;  // 1-based numbers of the input lines that were truncated
  long output_tokens = 0;       // Σ output tokens + EOS over all sentences
};

// The piece ids translate_lines decodes for one line: encoded, and cut to the model's
// max_positions − 1 (*truncated says whether it was).
std::vector<int> encode_source(const Transformer& model, const Vocab& vocab, std::string_view line,
                               bool* truncated = nullptr);

// Translates every line; result[i] holds nbest translations of lines[i], best first (nbest > 1
// needs d.beam ≥ nbest). progress(done, total) is called after each chunk of sentences.
std::vector<std::vector<Translation>> translate_lines(
    const Transformer& model, const Vocab& vocab, const std::vector<std::string>& lines,
    const DecodeConfig& d, long nbest, TranslateReport* report = nullptr,
    const std::function<void(long, long)>& progress = {});

}  // namespace spotlight
