// Translator on a tiny trained model: F0 is the model's log-probability of the translation (as
// forced decoding scores it) and the score its normalised form; queueing lines in any batches
// gives the same translations; split lines join their sentences' translations, scores and
// alignments; the report counts lines, sentences, truncated lines and unknown pieces; what the
// checkpoint says about its training text.
#include "spotlight/decode/translator.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "spotlight/check.h"
#include "spotlight/decode/search.h"
#include "spotlight/parallel.h"
#include "spotlight/decode/scorer.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/trainer.h"
#include "support/cli_run.h"
#include "support/toy_corpus.h"

using namespace spotlight;
namespace fs = std::filesystem;

namespace {

struct Model {
  testing::ToyRun toy{"xlate_translator"};
  OpenCheckpoint ck;
  Model() {
    ck = open_checkpoint(toy.train_quietly(60).string());
  }
};

Model& model() {
  static Model m;
  return m;
}

bool near(double a, double b, double atol, double rtol) {
  return std::fabs(a - b) <= atol + rtol * std::fabs(b);
}

const std::vector<std::string> kLines = {"the dog runs",       "",        "a red ball with the cat",
                                         "the man sits",       "the cat", "a big woman in the park",
                                         "the small dog runs on the street"};

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("Translator: F0 is the model's log-probability of the translation, the score F0 / (tokens + 1)^alpha") {
  Model& m = model();
  for (long beam : {1L, 3L}) {
    for (double alpha : {0.0, 1.0, 0.6}) {
      CAPTURE(beam);
      CAPTURE(alpha);
      DecodeConfig d = m.ck.config.decode;
      d.beam = beam;
      d.alpha = alpha;
      TranslateOptions o;
      o.nbest = beam;
      const auto out = translate_lines(*m.ck.model, *m.ck.vocab, kLines, d, o);
      REQUIRE(out.size() == kLines.size());
      std::vector<std::vector<int>> src, tgt;
      std::vector<const Translation*> ts;
      for (size_t i = 0; i < out.size(); ++i) {
        if (kLines[i].empty()) {
          CHECK(out[i].size() == static_cast<size_t>(beam));
          for (const Translation& t : out[i]) CHECK(t.log_prob == 0.0);  // nothing decoded
          continue;
        }
        CHECK(out[i].size() == static_cast<size_t>(beam));
        for (size_t k = 0; k < out[i].size(); ++k) {
          const Translation& t = out[i][k];
          if (k > 0) CHECK(t.score <= out[i][k - 1].score);  // best first
          CHECK(t.tokens == static_cast<long>(t.ids.size()));
          src.push_back(m.ck.vocab->encode(kLines[i]));
          tgt.push_back(t.ids);
          ts.push_back(&t);
        }
      }
      const auto forced = score_pairs(*m.ck.model, src, tgt, 4096);
      for (size_t k = 0; k < ts.size(); ++k) {
        CAPTURE(k);
        CHECK(forced[k].tokens == ts[k]->tokens + 1);
        // Decoding and forced decoding run different kernels (one step at a time vs. the
        // whole target): equal up to float rounding, summed over ≤ 20 tokens.
        CAPTURE(ts[k]->log_prob);
        CAPTURE(forced[k].logprob);
        CAPTURE(ts[k]->tokens);
        const long limit = std::min(m.ck.model->cfg.max_positions - 1,
                                    max_output_length(d, static_cast<long>(src[k].size())));
        if (beam == 1 && ts[k]->tokens == limit) {
          // Greedy stopped by the length limit ends without EOS: F0 lacks that one term.
          CHECK(ts[k]->log_prob > forced[k].logprob);
        } else {
          CHECK(near(ts[k]->log_prob, forced[k].logprob, 1e-3, 1e-4));
        }
        const double norm = std::pow(static_cast<double>(ts[k]->tokens + 1), alpha);
        CHECK(near(ts[k]->score, ts[k]->log_prob / norm, 1e-9, 1e-9));
      }
    }
  }
}

TEST_CASE("Translator: lines queued in any batches translate as when given all at once") {
  Model& m = model();
  const DecodeConfig& d = m.ck.config.decode;
  const auto all = translate_lines(*m.ck.model, *m.ck.vocab, kLines, d, 1L);
  for (long every : {1L, 2L, 5L}) {
    CAPTURE(every);
    Translator tr(*m.ck.model, *m.ck.vocab, d, TranslateOptions{});
    std::vector<std::string> got;
    for (size_t i = 0; i < kLines.size(); ++i) {
      tr.add(kLines[i]);
      if (tr.queued_lines() == every || i + 1 == kLines.size()) {
        const long queued = tr.queued_lines();
        const auto out = tr.translate_queued();
        CHECK(static_cast<long>(out.size()) == queued);
        CHECK(tr.queued_lines() == 0);
        CHECK(tr.queued_sentences() == 0);
        for (const auto& t : out) got.push_back(t.front().text);
      }
    }
    REQUIRE(got.size() == all.size());
    for (size_t i = 0; i < all.size(); ++i) CHECK(got[i] == all[i].front().text);
    CHECK(tr.report().lines == static_cast<long>(kLines.size()));
    CHECK(tr.report().sentences == static_cast<long>(kLines.size()) - 1);  // the empty line
  }
}

TEST_CASE("Translator: a split line joins its sentences' translations, scores and alignments") {
  Model& m = model();
  DecodeConfig d = m.ck.config.decode;
  d.beam = 3;
  const std::vector<std::string> sentences = {"the dog runs!", "a red ball with the cat?",
                                              "the man sits"};
  const std::string para = sentences[0] + " " + sentences[1] + "  " + sentences[2] + " ";
  TranslateOptions o;
  o.nbest = 2;
  o.alignment_layer = 0;
  const auto apart = translate_lines(*m.ck.model, *m.ck.vocab, sentences, d, o);
  o.split = true;
  TranslateReport report;
  const auto joined = translate_lines(*m.ck.model, *m.ck.vocab, {para, sentences[0]}, d, o, &report);
  CHECK(report.lines == 2);
  CHECK(report.sentences == 4);
  REQUIRE(joined.size() == 2);
  REQUIRE(joined[0].size() == 2);
  // A one-sentence line is as without splitting.
  CHECK(joined[1][0].text == apart[0][0].text);
  CHECK(joined[1][0].alignment == apart[0][0].alignment);
  for (size_t k = 0; k < 2; ++k) {
    CAPTURE(k);
    const Translation& j = joined[0][k];
    std::string text, alignment;
    double log_prob = 0, score = 0;
    long tokens = 0, src_words = 0, tgt_words = 0;
    std::vector<int> ids;
    for (size_t s = 0; s < 3; ++s) {
      const Translation& t = apart[s][k];
      text += (s ? " " : "") + t.text;
      log_prob += t.log_prob;
      score += t.score;
      tokens += t.tokens;
      ids.insert(ids.end(), t.ids.begin(), t.ids.end());
      std::istringstream pairs(t.alignment);
      for (std::string p; pairs >> p;) {
        const long a = std::stol(p.substr(0, p.find('-'))), b = std::stol(p.substr(p.find('-') + 1));
        alignment += (alignment.empty() ? "" : " ") + std::to_string(a + src_words) + "-" +
                     std::to_string(b + tgt_words);
      }
      std::istringstream sw(sentences[s]), tw(t.text);
      for (std::string w; sw >> w;) ++src_words;
      for (std::string w; tw >> w;) ++tgt_words;
    }
    CHECK(j.text == text);
    // Other batches, other padding: equal up to float rounding.
    CHECK(near(j.log_prob, log_prob, 1e-4, 1e-5));
    CHECK(near(j.score, score, 1e-4, 1e-5));
    CHECK(j.tokens == tokens);
    CHECK(j.ids == ids);
    CHECK(j.alignment == alignment);
  }
}

TEST_CASE("Translator: the report counts truncated lines and lines with unknown pieces") {
  Model& m = model();
  Translator tr(*m.ck.model, *m.ck.vocab, m.ck.config.decode, TranslateOptions{});
  std::string long_line;
  for (long i = 0; i < m.ck.model->cfg.max_positions; ++i) long_line += "dog ";
  tr.add("the dog runs");
  tr.add("the Zebra runs");  // "Z" is not in the toy vocabulary
  tr.translate_queued();
  CHECK(tr.report().unknown_lines == 1);
  CHECK(tr.report().first_unknown_line == 2);
  tr.add(long_line);
  tr.add("");
  tr.add("Quick");
  tr.translate_queued();
  const TranslateReport& r = tr.report();
  CHECK(r.lines == 5);
  CHECK(r.sentences == 4);
  CHECK(r.unknown_lines == 2);
  CHECK(r.first_unknown_line == 2);  // still the first one
  CHECK(r.truncated == std::vector<long>{3});
  CHECK(r.output_tokens > 0);
}

TEST_CASE("Translator: nbest and the alignment layer are checked against the search and model") {
  Model& m = model();
  DecodeConfig d = m.ck.config.decode;
  d.beam = 2;
  d.patience = 1.0;
  CHECK_THROWS_WITH_AS(Translator(*m.ck.model, *m.ck.vocab, d, TranslateOptions{3}),
                       doctest::Contains("--nbest 3 needs a beam"), Error);
  TranslateOptions o;
  o.alignment_layer = m.ck.model->cfg.decoder_layers + 1;
  CHECK_THROWS_WITH_AS(Translator(*m.ck.model, *m.ck.vocab, d, o),
                       doctest::Contains("decoder layers"), Error);
  for (int workers : {0, 65}) {
    TranslateOptions w;
    w.workers = workers;
    CHECK_THROWS_WITH_AS(Translator(*m.ck.model, *m.ck.vocab, d, w),
                         doctest::Contains(("--workers " + std::to_string(workers)).c_str()),
                         Error);
  }
}

TEST_CASE("Translator: workers decode several batches at once and give one worker's translations") {
  Model& m = model();
  struct RestoreThreads {  // also when a REQUIRE ends the case early
    int saved = threads();
    ~RestoreThreads() { set_threads(saved); }
  } restore;  // the reference: one batch at a time on one thread
  std::vector<std::string> lines;
  for (int r = 0; r < 6; ++r)
    for (const auto& l : kLines) lines.push_back(r % 2 ? l + " with the ball" : l);
  for (long beam : {1L, 3L}) {
    CAPTURE(beam);
    DecodeConfig d = m.ck.config.decode;
    d.beam = beam;
    d.batch_size = 4;  // 42 lines (39 sentences): 10 batches
    TranslateOptions o;
    o.nbest = beam;
    set_threads(1);
    const auto one = translate_lines(*m.ck.model, *m.ck.vocab, lines, d, o);
    set_threads(2);  // a worker's loops run inline whatever the pool's size
    for (int workers : {2, 3}) {
      CAPTURE(workers);
      o.workers = workers;
      TranslateReport report;
      const auto many = translate_lines(*m.ck.model, *m.ck.vocab, lines, d, o, &report);
      REQUIRE(many.size() == one.size());
      for (size_t i = 0; i < one.size(); ++i) {
        REQUIRE(many[i].size() == one[i].size());
        for (size_t k = 0; k < one[i].size(); ++k) {
          CHECK(many[i][k].text == one[i][k].text);
          CHECK(many[i][k].ids == one[i][k].ids);
          CHECK(many[i][k].log_prob == one[i][k].log_prob);  // the same sums, bit for bit
        }
      }
      CHECK(report.sentences ==
            std::count_if(lines.begin(), lines.end(), [](const auto& l) { return !l.empty(); }));
    }
  }
}

TEST_CASE("training_text_kind: lowercased from the vocabulary, tokenized from the config") {
  Model& m = model();
  Config c = m.ck.config;
  c.train.bleu_tokenize = "13a";
  CHECK(training_text_kind(c, *m.ck.vocab) == "lowercased");  // the toy corpus is lower-case
  c.train.bleu_tokenize = "none";
  CHECK(training_text_kind(c, *m.ck.vocab) == "lowercased, tokenized");
  // A vocabulary with capitals.
  const std::string text = m.toy.path("cased.txt");
  {
    std::ofstream f(text);
    f << testing::slurp(m.toy.path("train.en"));
    for (int i = 0; i < 50; ++i) f << "The Dog runs\n";
  }
  VocabOptions v;
  v.size = 40;
  Vocab::train({text}, m.toy.path("cased.model"), v);
  const Vocab cased(m.toy.path("cased.model"));
  CHECK(training_text_kind(c, cased) == "tokenized");
  c.train.bleu_tokenize = "13a";
  CHECK(training_text_kind(c, cased).empty());
}

TEST_SUITE_END();
