// chrf.h — corpus chrF equal to sacreBLEU 2.x's CHRF with its defaults: character n-grams of
// orders 1..6, no word n-grams (chrF, not chrF++), β = 2, whitespace removed, no epsilon
// smoothing (effective order), one or several references per sentence.
//
// The math. Each line is optionally lowercased and all whitespace (Python's str.split()) removed;
// characters are Unicode code points. For each order n = 1..6 and each sentence:
//   hyp[n]   = number of character n-grams of the hypothesis, counted as 0 when the reference
//              has no n-gram of that order (sacreBLEU: "don't count hits if no reference exists")
//   ref[n]   = number of character n-grams of the reference
//   match[n] = Σ_g min(count_hyp(g), count_ref(g))
// With several references, each sentence keeps the counts of the reference whose sentence-level
// F-score (below, on that sentence's counts alone) is highest, the first of equals (sacreBLEU's
// _compute_segment_statistics). The three counts are summed over the corpus. Over the orders
// with hyp[n] > 0 and ref[n] > 0 (the effective orders), precision P = mean(match/hyp) and
// recall R = mean(match/ref); then
//   chrF = 100 · (1 + β²)·P·R / (β²·P + R),   and 0 if P + R = 0 or no order is effective.
#pragma once

#include <string>
#include <vector>

#include "spotlight/eval/bleu.h"

namespace spotlight {

struct ChrfOptions {
  bool lowercase = false;  // lowercase hypotheses and references first
};

struct ChrfResult {
  double score = 0.0;     // 0..100
  // nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:spotlight-0.1.0
  std::string signature;
};

// Corpus chrF of hyps[i] against refs[k][i] for every k (ReferenceSets, bleu.h). Throws Error if
// there is no reference set or a set's line count differs (naming both counts and the set) or if
// a line is not valid UTF-8 (naming the side and line).
ChrfResult corpus_chrf(const std::vector<std::string>& hyps, const ReferenceSets& refs,
                       const ChrfOptions& options);
// One reference per sentence: corpus_chrf(hyps, {refs}, options).
ChrfResult corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::string>& refs,
                       const ChrfOptions& options);

}  // namespace spotlight
