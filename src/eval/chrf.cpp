// chrf.cpp — sacreBLEU-compatible corpus chrF: per-sentence character n-gram statistics on
// code points against the best-scoring reference, summed over the corpus, then the F-β score
// over effective orders (math in chrf.h).
#include "spotlight/eval/chrf.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_map>

#include "spotlight/check.h"
#include "spotlight/eval/bleu.h"

namespace spotlight {

namespace {

constexpr size_t kCharOrder = 6;  // sacreBLEU's CHRF.CHAR_ORDER
constexpr double kBeta = 2.0;     // sacreBLEU's CHRF.BETA

// Per order n = 1..6: hypothesis n-grams, reference n-grams, matches.
struct OrderCounts {
  long hyp = 0, ref = 0, match = 0;
};
using ChrfStats = std::array<OrderCounts, kCharOrder>;

std::u32string without_whitespace(std::u32string_view line) {
  std::u32string out;
  out.reserve(line.size());
  for (const char32_t c : line)
    if (!is_python_space(c)) out.push_back(c);
  return out;
}

// Counts of the n-grams of s, keyed by views into s (s must outlive the map).
std::unordered_map<std::u32string_view, long> char_ngrams(std::u32string_view s, size_t n) {
  std::unordered_map<std::u32string_view, long> counts;
  for (size_t i = 0; i + n <= s.size(); ++i) ++counts[s.substr(i, n)];
  return counts;
}

// One sentence's statistics against one reference.
ChrfStats sentence_stats(std::u32string_view hyp, std::u32string_view ref) {
  ChrfStats stats{};
  for (size_t n = 1; n <= kCharOrder; ++n) {
    const auto hyp_counts = char_ngrams(hyp, n);
    const auto ref_counts = char_ngrams(ref, n);
    long hyp_total = 0, ref_total = 0, match = 0;
    for (const auto& [ngram, count] : hyp_counts) {
      hyp_total += count;
      const auto it = ref_counts.find(ngram);
      if (it != ref_counts.end()) match += std::min(count, it->second);
    }
    for (const auto& entry : ref_counts) ref_total += entry.second;
    OrderCounts& order = stats[n - 1];
    order.hyp = ref_counts.empty() ? 0 : hyp_total;  // as sacreBLEU: no reference n-grams, no hits
    order.ref = ref_total;
    order.match = match;
  }
  return stats;
}

// sacreBLEU's CHRF._compute_f_score with eps_smoothing=False.
double f_score(const ChrfStats& stats) {
  double avg_prec = 0.0, avg_rec = 0.0;
  int effective_order = 0;
  for (const OrderCounts& order : stats) {
    if (order.hyp > 0 && order.ref > 0) {
      avg_prec += static_cast<double>(order.match) / static_cast<double>(order.hyp);
      avg_rec += static_cast<double>(order.match) / static_cast<double>(order.ref);
      ++effective_order;
    }
  }
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0.0) return 0.0;
  const double factor = kBeta * kBeta;
  return 100.0 * ((1.0 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec));
}

}  // namespace

ChrfResult corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::string>& refs,
                       const ChrfOptions& options) {
  return corpus_chrf(hyps, ReferenceSets{refs}, options);
}

ChrfResult corpus_chrf(const std::vector<std::string>& hyps, const ReferenceSets& refs,
                       const ChrfOptions& options) {
  require_line_counts(hyps, refs, "chrF");
  const std::vector<std::u32string> hyp_lines = decode_lines(hyps, "hypothesis");
  const std::vector<std::vector<std::u32string>> ref_lines = decode_references(refs);
  auto prepare = [&](const std::u32string& line) {
    return without_whitespace(options.lowercase ? python_lower(line) : line);
  };
  ChrfStats total{};
  for (size_t i = 0; i < hyp_lines.size(); ++i) {
    const std::u32string hyp = prepare(hyp_lines[i]);
    // The reference with the best sentence-level F-score; the first of equals (sacreBLEU's
    // _compute_segment_statistics).
    ChrfStats best{};
    double best_f = -1.0;
    for (const auto& set : ref_lines) {
      const ChrfStats stats = sentence_stats(hyp, prepare(set[i]));
      const double f = f_score(stats);
      if (f > best_f) {
        best_f = f;
        best = stats;
      }
    }
    for (size_t n = 0; n < kCharOrder; ++n) {
      total[n].hyp += best[n].hyp;
      total[n].ref += best[n].ref;
      total[n].match += best[n].match;
    }
  }
  ChrfResult r;
  r.score = f_score(total);
  r.signature = "nrefs:" + std::to_string(refs.size()) +
                "|case:" + (options.lowercase ? "lc" : "mixed") +
                "|eff:yes|nc:6|nw:0|space:no|version:" + signature_version();
  return r;
}

}  // namespace spotlight
