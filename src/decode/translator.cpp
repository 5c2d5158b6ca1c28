#include "spotlight/decode/translator.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "spotlight/check.h"
#include "spotlight/data/sentence_split.h"
#include "spotlight/decode/attention_maps.h"
#include "spotlight/decode/search.h"

namespace spotlight {

std::vector<int> encode_source(const Transformer& model, const Vocab& vocab, std::string_view line,
                               bool* truncated) {
  std::vector<int> ids = vocab.encode(line);
  const long limit = max_source_pieces(model.cfg);
  const bool cut = static_cast<long>(ids.size()) > limit;
  if (cut) ids.resize(static_cast<size_t>(limit));
  if (truncated != nullptr) *truncated = cut;
  return ids;
}

void check_translate_options(const ModelConfig& model, const DecodeConfig& d,
                             const TranslateOptions& o) {
  require(d.beam >= 1, "decode.beam must be at least 1");
  require(o.nbest >= 1 && o.nbest <= d.beam, "--nbest " + std::to_string(o.nbest) +
                                                  " needs a beam of at least that size (beam is " +
                                                  std::to_string(d.beam) + ")");
  require(o.nbest <= stop_after(d.beam, d.patience),
          "--nbest " + std::to_string(o.nbest) +
              " needs patience·beam of at least that (patience " + std::to_string(d.patience) +
              ", beam " + std::to_string(d.beam) + ")");
  require(o.workers >= 1 && o.workers <= 64,
          "--workers " + std::to_string(o.workers) + ": expected 1 to 64 batches at once");
  require(o.alignment_layer <= model.decoder_layers,
          "--alignment-layer " + std::to_string(o.alignment_layer) + ": the model has " +
              std::to_string(model.decoder_layers) + " decoder layers (0 averages them all)");
}

Translator::Translator(const Transformer& model, const Vocab& vocab, const DecodeConfig& d,
                       const TranslateOptions& o)
    : model_(model), vocab_(vocab), d_(d), o_(o) {
  check_translate_options(model.cfg, d, o);
  if (o.split) splitter_ = std::make_unique<SentenceSplitter>();
}

Translator::~Translator() = default;

void Translator::add(std::string_view line) {
  Line l;
  l.number = ++report_.lines;
  std::vector<std::string> pieces;
  if (splitter_) pieces = splitter_->split(line);
  bool truncated = false, unknown = false;
  auto encode = [&](std::string_view text) {
    bool cut = false;
    std::vector<int> ids = encode_source(model_, vocab_, text, &cut);
    truncated |= cut;
    unknown |= std::find(ids.begin(), ids.end(), vocab_.unk_id()) != ids.end();
    if (!ids.empty()) l.sentences.push_back(std::move(ids));
  };
  if (splitter_) {
    for (const std::string& p : pieces) encode(p);
  } else {
    encode(line);
  }
  if (truncated) report_.truncated.push_back(l.number);
  if (unknown && report_.unknown_lines++ == 0) report_.first_unknown_line = l.number;
  queued_sentences_ += static_cast<long>(l.sentences.size());
  queue_.push_back(std::move(l));
}

namespace {

// Source and target word counts of a pair, for numbering the words of joined sentences.
long word_count(const Vocab& vocab, const std::vector<int>& ids) {
  const std::vector<int> w = word_of_pieces(vocab, ids);
  return w.empty() ? 0 : *std::max_element(w.begin(), w.end()) + 1;
}

// "i-j …" with every i raised by src_offset and every j by tgt_offset, appended to out.
void append_shifted(std::string& out, const std::string& alignment, long src_offset,
                    long tgt_offset) {
  size_t p = 0;
  while (p < alignment.size()) {
    long i = 0, j = 0;
    int used = 0;
    if (std::sscanf(alignment.c_str() + p, " %ld-%ld%n", &i, &j, &used) != 2) break;
    p += static_cast<size_t>(used);
    if (!out.empty()) out += ' ';
    out += std::to_string(i + src_offset) + "-" + std::to_string(j + tgt_offset);
  }
}

}  // namespace

std::vector<Translation> join_sentences(const Vocab& vocab,
                                        const std::vector<std::vector<int>>& sources,
                                        const std::vector<std::vector<Translation>>& parts,
                                        bool alignment) {
  std::vector<Translation> out;
  if (parts.size() == 1) return parts.front();
  size_t entries = 0;
  for (const auto& p : parts) entries = std::max(entries, p.size());
  for (size_t k = 0; k < entries; ++k) {
    Translation joined;
    long src_words = 0, tgt_words = 0;
    for (size_t s = 0; s < parts.size(); ++s) {
      if (parts[s].empty()) continue;
      const Translation& t = parts[s][std::min(k, parts[s].size() - 1)];
      if (!t.text.empty()) joined.text += (joined.text.empty() ? "" : " ") + t.text;
      joined.log_prob += t.log_prob;
      joined.score += t.score;
      joined.tokens += t.tokens;
      joined.ids.insert(joined.ids.end(), t.ids.begin(), t.ids.end());
      if (alignment) {
        append_shifted(joined.alignment, t.alignment, src_words, tgt_words);
        src_words += word_count(vocab, sources[s]);
        tgt_words += word_count(vocab, t.ids);
      }
    }
    out.push_back(std::move(joined));
  }
  return out;
}

std::vector<std::vector<Translation>> Translator::translate_queued() {
  // Every sentence of every queued line in one list: the search sorts them by length.
  std::vector<std::vector<int>> src;
  for (const Line& l : queue_)
    for (const auto& s : l.sentences) src.push_back(s);
  std::vector<std::vector<Hypothesis>> hyps;
  if (!src.empty()) {
    if (d_.beam == 1) {
      for (auto& h : greedy_translate(model_, src, d_, o_.workers)) hyps.push_back({std::move(h)});
    } else {
      hyps = beam_translate(model_, src, d_, o_.nbest, o_.workers);
    }
  }
  // Each hypothesis as a Translation; greedy's score is Σ log p, beam's the normalised one.
  std::vector<std::vector<Translation>> per_sentence(src.size());
  for (size_t s = 0; s < src.size(); ++s) {
    if (hyps[s].empty()) per_sentence[s].push_back(Translation{});  // no finite hypothesis
    for (const Hypothesis& h : hyps[s]) {
      Translation t;
      t.text = vocab_.decode(h.tokens);
      t.tokens = static_cast<long>(h.tokens.size());
      const double norm = std::pow(static_cast<double>(t.tokens + 1), d_.alpha);
      t.log_prob = d_.beam == 1 ? h.score : h.score * norm;
      t.score = d_.beam == 1 ? h.score / norm : h.score;
      t.ids = h.tokens;
      per_sentence[s].push_back(std::move(t));
    }
    if (!hyps[s].empty()) report_.output_tokens += per_sentence[s].front().tokens + 1;
  }
  report_.sentences += static_cast<long>(src.size());
  if (o_.alignment_layer >= 0) {
    std::vector<std::vector<int>> a_src, a_tgt;
    for (size_t s = 0; s < src.size(); ++s)
      for (const Translation& t : per_sentence[s]) {
        a_src.push_back(src[s]);
        a_tgt.push_back(t.ids);
      }
    const std::vector<std::string> a =
        align_pairs(model_, vocab_, a_src, a_tgt, o_.alignment_layer, std::max(1L, d_.batch_size));
    size_t k = 0;
    for (auto& list : per_sentence)
      for (Translation& t : list) t.alignment = a[k++];
  }

  // Lines: their sentences' k-th translations joined.
  std::vector<std::vector<Translation>> out(queue_.size());
  size_t s0 = 0;  // the line's first sentence in per_sentence
  for (size_t i = 0; i < queue_.size(); ++i) {
    const size_t n = queue_[i].sentences.size();
    if (n == 0) {
      out[i].assign(static_cast<size_t>(o_.nbest), Translation{});
      continue;
    }
    if (n == 1) {
      out[i] = std::move(per_sentence[s0++]);
      continue;
    }
    std::vector<std::vector<Translation>> parts(
        std::make_move_iterator(per_sentence.begin() + static_cast<long>(s0)),
        std::make_move_iterator(per_sentence.begin() + static_cast<long>(s0 + n)));
    out[i] = join_sentences(vocab_, queue_[i].sentences, parts, o_.alignment_layer >= 0);
    s0 += n;
  }
  queue_.clear();
  queued_sentences_ = 0;
  return out;
}

std::vector<std::vector<Translation>> translate_lines(
    const Transformer& model, const Vocab& vocab, const std::vector<std::string>& lines,
    const DecodeConfig& d, const TranslateOptions& o, TranslateReport* report,
    const std::function<void(long, long)>& progress) {
  Translator tr(model, vocab, d, o);
  std::vector<std::vector<Translation>> out;
  out.reserve(lines.size());
  const long chunk = std::max(1L, d.batch_size) * 16;
  size_t i = 0;
  while (i < lines.size()) {
    while (i < lines.size() && tr.queued_sentences() < chunk && tr.queued_lines() < 16 * chunk)
      tr.add(lines[i++]);
    for (auto& t : tr.translate_queued()) out.push_back(std::move(t));
    if (progress) progress(static_cast<long>(i), static_cast<long>(lines.size()));
  }
  if (report != nullptr) *report = tr.report();
  return out;
}

namespace {
// Whether any code point of `s` is upper-case (first) or lower-case (second).
std::pair<bool, bool> letter_cases(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  bool upper = false, lower = false;
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) continue;
    upper |= u_isUUppercase(c) != 0;
    lower |= u_isULowercase(c) != 0;
  }
  return {upper, lower};
}
}  // namespace

std::string training_text_kind(const Config& c, const Vocab& vocab) {
  bool upper = false, lower = false;
  for (int id = 4; id < vocab.size() && !upper; ++id) {
    const auto [u, l] = letter_cases(vocab.piece(id));
    upper |= u;
    lower |= l;
  }
  std::string kind = lower && !upper ? "lowercased" : "";
  if (c.train.bleu_tokenize == "none") kind += kind.empty() ? "tokenized" : ", tokenized";
  return kind;
}

}  // namespace spotlight
