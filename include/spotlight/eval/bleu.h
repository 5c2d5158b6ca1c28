// bleu.h — corpus BLEU equal to sacreBLEU 2.x with its default settings, against one or several
// references per sentence, plus the Unicode text helpers that BLEU and chrF share.
//
// The math, for a corpus of hypotheses, each with K ≥ 1 references, after tokenisation:
//   count_ref(g) = max_k count_ref_k(g)           (the references' counts merged by maximum)
//   matches[n] = Σ_sentences Σ_{n-grams g of order n+1 in hyp} min(count_hyp(g), count_ref(g))
//   totals[n]  = Σ_sentences max(0, hyp_tokens − n)                         n = 0..3
//   ref_len    = Σ_sentences the reference length closest to the hypothesis length (of two
//                equally close, the shorter)
//   p[n]       = 100 · matches[n] / totals[n]; where matches[n] = 0 ("exp" smoothing, as in
//                mteval-v13a) k doubles at each such order (2, 4, 8, …) and
//                p[n] = 100 / (k · totals[n])
//   BP         = 1 if hyp_len ≥ ref_len, else exp(1 − ref_len / hyp_len) (0 when hyp_len = 0)
//   BLEU       = BP · exp(¼ Σ_n ln p[n])
// As in sacreBLEU (use_effective_order=False): the score is 0 when no n-gram of any order
// matches, and 0 when some order has no n-grams at all (totals[n] = 0, e.g. every sentence is
// shorter than 4 tokens), since sacreBLEU then takes log(0) as −9999999999. An empty reference
// line is a reference of length 0, as sacreBLEU's command line reads it.
//
// Tokenisation is sacreBLEU's "13a" (mteval-v13a) or "none" (split on whitespace). Each line is
// optionally lowercased, its trailing whitespace stripped, tokenised, and split on Python's
// whitespace — all on Unicode code points, as Python does.
//
// The signature follows sacreBLEU 2's layout with `version:spotlight-<version>`: the numbers are
// sacreBLEU 2.x's (checked against its source and its own test vectors), computed by this code.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "spotlight/utf8.h"  // decode_utf8, encode_utf8

namespace spotlight {

struct BleuOptions {
  std::string tokenize = "13a";  // "13a" (mteval-v13a, sacreBLEU's default) or "none"
  bool lowercase = false;        // lowercase hypotheses and references first (sacreBLEU -lc)
};

struct BleuResult {
  double score = 0.0;                  // 0..100
  std::array<double, 4> precisions{};  // smoothed n-gram precisions in percent, n = 1..4
  double bp = 0.0;                     // brevity penalty
  double ratio = 0.0;                  // hyp_len / ref_len (0 when ref_len = 0)
  long hyp_len = 0, ref_len = 0;       // corpus token counts
  std::array<long, 4> matches{};       // clipped n-gram matches, n = 1..4
  std::array<long, 4> totals{};        // hypothesis n-grams, n = 1..4
  // nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:spotlight-0.1.0 (nrefs, case, tok as
  // given; the version is signature_version())
  std::string signature;
};

// Several references per sentence: refs[k][i] is reference k of hypothesis i (sacreBLEU's list
// of reference streams, one per reference file).
using ReferenceSets = std::vector<std::vector<std::string>>;

// Corpus BLEU of hyps[i] against refs[k][i] for every k. Throws Error if there is no reference
// set or a set's line count differs from the hypotheses' (naming both counts and the set), if the
// tokenizer is unknown, or if a line is not valid UTF-8 (naming the side and line).
BleuResult corpus_bleu(const std::vector<std::string>& hyps, const ReferenceSets& refs,
                       const BleuOptions& options);
// One reference per sentence: corpus_bleu(hyps, {refs}, options).
BleuResult corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs,
                       const BleuOptions& options);

// "spotlight-0.1.0": the version field of the BLEU and chrF signatures, from CMake's project
// version.
std::string signature_version();

// The checks shared by BLEU and chrF: at least one reference set, each with hyps.size() lines
// (an Error names the metric, both counts and the set).
void require_line_counts(const std::vector<std::string>& hyps, const ReferenceSets& refs,
                         std::string_view metric);
// decode_lines on every reference set, the side named "reference" (or "reference k" of several).
std::vector<std::vector<std::u32string>> decode_references(const ReferenceSets& refs);

// The score from already summed statistics (sacreBLEU's BLEU.compute_bleu with smooth "exp",
// no effective order); the signature is left empty.
BleuResult bleu_from_counts(const std::array<long, 4>& matches, const std::array<long, 4>& totals,
                            long hyp_len, long ref_len);

// sacreBLEU's tokenizer_13a on one line: drops "<skipped>", joins "-\n", turns "\n" into a
// space, unescapes &quot; &amp; &lt; &gt;, pads punctuation (keeping "3.5" and "1,000" whole and
// splitting "-" only after a digit) and collapses whitespace. Returns space-separated tokens.
std::string tokenize_13a(std::string_view line);

// ---- Unicode helpers shared with chrF (Python str semantics on code points) ----

// decode_utf8 and encode_utf8: utf8.h.

// Python's str.isspace() (what str.split() and str.strip() treat as whitespace).
bool is_python_space(char32_t c);

// Python's str.lower() for ASCII, Latin-1 Supplement, Latin Extended-A (including İ → i̇, two
// code points, and Ÿ → ÿ) and basic Cyrillic (U+0400–U+042F). Other scripts pass unchanged;
// Greek is left out on purpose, since Python lowercases a final Σ contextually to ς.
std::u32string python_lower(std::u32string_view text);

// decode_utf8 on every line; an error names the side ("hypothesis", "reference") and the
// 1-based line number.
std::vector<std::u32string> decode_lines(const std::vector<std::string>& lines,
                                         std::string_view side);

}  // namespace spotlight
