// translator.h — text in, text out: lines are (optionally) cut into sentences, encoded with the
// vocabulary, decoded together (greedy for beam 1, else beam search) and turned back into text,
// a line's sentences joined with a space. Lines are queued and translated a batch at a time, so
// a caller can stream an endless input in bounded memory. Empty lines give empty outputs; lines
// longer than the model's positions are truncated and reported, as are lines holding pieces the
// vocabulary does not know.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "spotlight/config.h"
#include "spotlight/data/vocab.h"
#include "spotlight/model/transformer.h"

namespace spotlight {

class SentenceSplitter;

// One translation of one input line. For a line cut into several sentences, every field is the
// sentences' joined: texts joined with a space, scores and token counts summed, ids concatenated.
struct Translation {
  std::string text;
  double log_prob = 0.0;  // Σ log p of the tokens and the final EOS: Marian's feature F0 (greedy
                          // output cut by the length limit has no EOS term)
  double score = 0.0;     // the ranking score: log_prob / (tokens + 1)^alpha, as beam search ranks
  long tokens = 0;        // output tokens, EOS excluded
  std::vector<int> ids;   // those tokens' piece ids
  std::string alignment;  // "0-0 1-2 …" when TranslateOptions::alignment_layer ≥ 0, else ""
};

struct TranslateReport {
  std::vector<long> truncated;  // 1-based numbers of the input lines that were truncated
  long output_tokens = 0;       // Σ output tokens + EOS over all 1-best sentences
  long lines = 0;               // input lines translated
  long sentences = 0;           // non-empty sentences decoded (a split line counts each)
  long unknown_lines = 0;       // lines holding at least one piece that encodes as <unk>
  long first_unknown_line = 0;  // 1-based number of the first of those (0: none)
};

struct TranslateOptions {
  long nbest = 1;  // translations per line, best first (1 ≤ nbest ≤ beam and ≤ ⌈patience·beam⌉)
  // Cut each line into sentences (SentenceSplitter) and decode them apart. With nbest > 1, entry
  // k of a split line joins its sentences' k-th best (a sentence with fewer repeats its last).
  bool split = false;
  // Word alignments (align_pairs): -1 none, 0 all decoder layers averaged, 1…L one layer. A
  // split line's alignment joins its sentences', source and target words numbered across them.
  long alignment_layer = -1;
  // Batches decoded at once, each on one thread of its own (decode_in_batches; CTranslate2's
  // inter_threads): throughput for files, where one batch split over the compute pool waits on
  // its small products. The translations are those of one worker with one compute thread.
  int workers = 1;
};

// Throws Error unless these options fit the search and the model: nbest within the beam and
// ⌈patience·beam⌉, the alignment layer within the decoder's layers.
void check_translate_options(const ModelConfig& model, const DecodeConfig& d,
                             const TranslateOptions& o);

// The piece ids a sentence is decoded from: encoded, and cut to the model's max_positions − 1
// (*truncated says whether it was).
std::vector<int> encode_source(const Transformer& model, const Vocab& vocab, std::string_view line,
                               bool* truncated = nullptr);

// The translations of a line cut into sentences, from each sentence's (parts[s], best first;
// sources[s] its piece ids): entry k joins the sentences' k-th (a sentence with fewer repeats
// its last): texts joined with a space, scores and token counts summed, ids concatenated, and
// with `alignment` the alignments joined, words numbered across the sentences.
std::vector<Translation> join_sentences(const Vocab& vocab,
                                        const std::vector<std::vector<int>>& sources,
                                        const std::vector<std::vector<Translation>>& parts,
                                        bool alignment);

// Queues lines and translates them a batch at a time; line numbers (for the report) count every
// line ever added, from 1.
class Translator {
 public:
  // Throws Error when the options do not fit (check_translate_options).
  Translator(const Transformer& model, const Vocab& vocab, const DecodeConfig& d,
             const TranslateOptions& o);
  ~Translator();

  // Queues the next line (valid UTF-8): cut into sentences, encoded, counted in the report.
  void add(std::string_view line);
  long queued_lines() const { return static_cast<long>(queue_.size()); }
  long queued_sentences() const { return queued_sentences_; }  // non-empty ones, to decode
  // Translates every queued line and empties the queue: result[i] holds the translations of the
  // i-th queued line, best first (nbest of them, or fewer when the search found fewer).
  std::vector<std::vector<Translation>> translate_queued();

  const TranslateReport& report() const { return report_; }

 private:
  struct Line {
    long number = 0;                          // 1-based
    std::vector<std::vector<int>> sentences;  // piece ids of its non-empty sentences
  };
  const Transformer& model_;
  const Vocab& vocab_;
  DecodeConfig d_;
  TranslateOptions o_;
  std::unique_ptr<SentenceSplitter> splitter_;
  std::vector<Line> queue_;
  long queued_sentences_ = 0;
  TranslateReport report_;
};

// Translates every line at once (sentences sorted by length within chunks of 16 batches):
// result[i] holds the translations of lines[i], best first. progress(done, total) is called
// after each chunk, counting lines.
std::vector<std::vector<Translation>> translate_lines(
    const Transformer& model, const Vocab& vocab, const std::vector<std::string>& lines,
    const DecodeConfig& d, const TranslateOptions& o, TranslateReport* report = nullptr,
    const std::function<void(long, long)>& progress = {});
// The same with only nbest set.
inline std::vector<std::vector<Translation>> translate_lines(
    const Transformer& model, const Vocab& vocab, const std::vector<std::string>& lines,
    const DecodeConfig& d, long nbest, TranslateReport* report = nullptr) {
  return translate_lines(model, vocab, lines, d, TranslateOptions{nbest}, report);
}

// What a checkpoint says about the text its model was trained on, for the warning about
// unknown pieces: "lowercased" when its vocabulary has lower-case letters but no upper-case
// ones, "tokenized" when train.bleu_tokenize is "none" (it was validated on pre-tokenized
// text), both joined by ", ", or "" for neither.
std::string training_text_kind(const Config& c, const Vocab& vocab);

}  // namespace spotlight
