#include "spotlight/decode/translator.h"

#include <algorithm>

#include "spotlight/check.h"
#include "spotlight/decode/beam.h"
#include "spotlight/decode/greedy.h"

namespace spotlight {

std::vector<int> encode_source(const Transformer& model, const Vocab& vocab, std::string_view line,
                               bool* truncated) {
  std::vector<int> ids = vocab.encode(line);
  const long limit = model.cfg.max_positions - 1;
  const bool cut = static_cast<long>(ids.size()) > limit;
  if (cut) ids.resize(static_cast<size_t>(limit));
  if (truncated != nullptr) *truncated = cut;
  return ids;
}

std::vector<std::vector<Translation>> translate_lines(
    const Transformer& model, const Vocab& vocab, const std::vector<std::string>& lines,
    const DecodeConfig& d, long nbest, TranslateReport* report,
    const std::function<void(long, long)>& progress) {
  require(d.beam >= 1, "decode.beam must be at least 1");
  require(nbest >= 1 && nbest <= d.beam, "--nbest " + std::to_string(nbest) +
                                             " needs a beam of at least that size (beam is " +
                                             std::to_string(d.beam) + ")");
  require(nbest <= stop_after(d.beam, d.patience),
          "--nbest " + std::to_string(nbest) + " needs patience·beam of at least that (patience " +
              std::to_string(d.patience) + ", beam " + std::to_string(d.beam) + ")");
  std::vector<std::vector<Translation>> out(lines.size());
  // Non-empty lines are decoded in chunks (sorted by length inside), so progress can be shown.
  std::vector<size_t> todo;
  std::vector<std::vector<int>> ids(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    bool truncated = false;
    ids[i] = encode_source(model, vocab, lines[i], &truncated);
    if (truncated && report != nullptr) report->truncated.push_back(static_cast<long>(i) + 1);
    if (ids[i].empty())
      out[i].assign(static_cast<size_t>(nbest), Translation{});
    else
      todo.push_back(i);
  }
  const size_t chunk = static_cast<size_t>(std::max(1L, d.batch_size)) * 16;
  for (size_t k = 0; k < todo.size(); k += chunk) {
    std::vector<std::vector<int>> src;
    for (size_t i = k; i < std::min(todo.size(), k + chunk); ++i) src.push_back(ids[todo[i]]);
    std::vector<std::vector<Hypothesis>> hyps;
    if (d.beam == 1) {
      for (auto& h : greedy_translate(model, src, d)) hyps.push_back({std::move(h)});
    } else {
      hyps = beam_translate(model, src, d, nbest);
    }
    for (size_t i = 0; i < hyps.size(); ++i) {
      auto& dst = out[todo[k + i]];
      if (hyps[i].empty()) dst.push_back(Translation{});  // no finite hypothesis (a broken model)
      for (const Hypothesis& h : hyps[i]) {
        dst.push_back(
            {vocab.decode(h.tokens), h.score, static_cast<long>(h.tokens.size()), h.tokens});
        if (report != nullptr && dst.size() == 1) report->output_tokens += dst.back().tokens + 1;
      }
    }
    if (progress)
      progress(static_cast<long>(std::min(todo.size(), k + chunk)), static_cast<long>(todo.size()));
  }
  return out;
}

}  // namespace spotlight
