// beam.cpp — beam search on flat per-row buffers, as fairseq's SequenceGenerator: rows are
// sentence-major (row i·beam + b is beam b of the i-th sentence still searched); each row carries
// its raw score Σ log p (−∞ for a row holding no hypothesis) and its tokens so far. A step ranks
// the extensions of a sentence's live rows, finishes the EOS ones among the best `beam`, and
// gathers the rows the best non-EOS ones continue; finished sentences are dropped in the same
// gather, which the model follows through select().
#include "spotlight/decode/beam.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "spotlight/check.h"
#include "spotlight/parallel.h"

namespace spotlight {

namespace {

constexpr double kNoHypothesis = -std::numeric_limits<double>::infinity();

// One extension of a live hypothesis: its raw score, the beam it extends, the output column of
// the piece it adds.
struct Candidate {
  double score = 0.0;
  int beam = 0;
  int column = 0;
};

// The search order: higher score first; ties go to the lower beam index, then the lower column
// (the lower piece id), so a sentence's result never depends on the other sentences in the batch.
bool better(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.beam != b.beam) return a.beam < b.beam;
  return a.column < b.column;
}

// Keeps `top` the best `cap` candidates offered so far, best first (insertion into a short list).
void offer(std::vector<Candidate>& top, size_t cap, const Candidate& c) {
  if (top.size() == cap) {
    if (!better(c, top.back())) return;
    top.back() = c;
  } else {
    top.push_back(c);
  }
  for (size_t j = top.size() - 1; j > 0 && better(top[j], top[j - 1]); --j)
    std::swap(top[j], top[j - 1]);
}

}  // namespace

long stop_after(long beam, double patience) {
  if (beam <= 1) return 1;
  // The 1e-9 keeps a product that lands just above an integer (0.28·25 = 7.000000000000001)
  // at that integer.
  return std::max(1L, static_cast<long>(std::ceil(patience * static_cast<double>(beam) - 1e-9)));
}

std::vector<std::vector<Hypothesis>> beam_search(StepModel& model, long sentences,
                                                 const std::vector<long>& max_len,
                                                 const BeamOptions& o) {
  const long k = o.beam;
  const SearchColumns cols(model);
  require(k >= 1, "beam_search: the beam size must be at least 1");
  require(o.nbest >= 1 && o.nbest <= k, "beam_search: nbest must lie between 1 and the beam size");
  require(o.patience > 0.0 && o.patience <= 1000.0, "beam_search: patience must lie in (0, 1000]");
  const long finish = stop_after(k, o.patience);
  require(o.nbest <= finish, "beam_search: nbest exceeds the ⌈patience·beam⌉ finished hypotheses");
  require(sentences >= 0 && static_cast<long>(max_len.size()) == sentences,
          "beam_search: one length limit per sentence");
  // The model holds each sentence `beam` times, or once: only beam 0 is live at the first step,
  // so a compact model runs it on one row per sentence and is expanded to `beam` rows after.
  const bool compact = k > 1 && model.rows() == sentences;
  require(model.rows() == sentences * k || compact,
          "beam_search: the model must hold each sentence once or `beam` times");
  require(cols.eos >= 0, "beam_search: EOS is not among the model's output columns");
  const long eos = cols.eos;
  long width = 0;  // the longest hypothesis any sentence may hold
  for (long m : max_len) {
    require(m >= 0, "beam_search: negative length limit");
    width = std::max(width, m);
  }

  // Per sentence: the best o.nbest finished hypotheses, best first, and how many have finished.
  std::vector<std::vector<Hypothesis>> finished(static_cast<size_t>(sentences));
  std::vector<long> finished_count(static_cast<size_t>(sentences), 0);
  std::vector<int> active(static_cast<size_t>(sentences));  // sentence of each searched block
  std::iota(active.begin(), active.end(), 0);
  const size_t rows = static_cast<size_t>(sentences * k);
  // Per row: raw score (only beam 0 is live at the start), tokens so far [rows, width], and
  // the token it feeds next. The next_* twins are filled during a step, then swapped in.
  std::vector<double> score(rows, kNoHypothesis), next_score;
  for (size_t r = 0; r < rows; r += static_cast<size_t>(k)) score[r] = 0.0;
  std::vector<int> hist(rows * static_cast<size_t>(width)), next_hist;
  std::vector<int> tokens(static_cast<size_t>(model.rows()), model.specials().bos), next_tokens;
  std::vector<int> parent, still;  // old row each new row continues; sentences going on
  std::vector<std::vector<Candidate>> tops;  // per sentence: best 2·beam candidates, best first
  RowTop best;               // per model row: its best 2·beam columns (step_top)
  std::vector<char> at_limit;  // per model row: at its sentence's limit, only EOS may follow

  for (long t = 0; !active.empty(); ++t) {  // every live hypothesis holds t tokens
    const long lp_rows = compact && t == 0 ? 1 : k;  // model rows per sentence
    require(model.rows() == static_cast<long>(active.size()) * lp_rows,
            "beam_search: the model holds the wrong number of rows");
    at_limit.resize(static_cast<size_t>(model.rows()));
    for (size_t i = 0; i < active.size(); ++i)
      std::fill_n(at_limit.begin() + static_cast<long>(i) * lp_rows, lp_rows,
                  t >= max_len[static_cast<size_t>(active[i])]);
    // A sentence's best 2·beam extensions over beam × V′ (never pad or BOS; only EOS at the
    // limit) are among its rows' best 2·beam columns each, so the model gives only those.
    model.step_top(tokens, {2 * k, cols.banned.data(), at_limit, eos}, best);
    require(static_cast<long>(best.size.size()) == model.rows() && best.count == 2 * k,
            "beam_search: the model returned candidates of the wrong shape");
    parent.clear();
    next_tokens.clear();
    next_score.clear();
    still.clear();
    const double length_norm = std::pow(static_cast<double>(t + 1), o.alpha);  // EOS counts
    // The best 2·beam of each sentence, ranked exactly (offer()), sentences split over the
    // threads.
    tops.resize(active.size());
    parallel_for(static_cast<long>(active.size()), 16, [&](long i0, long i1) {
      for (long i = i0; i < i1; ++i) {
        std::vector<Candidate>& top = tops[static_cast<size_t>(i)];
        const size_t cap = static_cast<size_t>(2 * k);
        top.clear();
        top.reserve(cap);
        for (long b = 0; b < k; ++b) {
          const double base = score[static_cast<size_t>(i * k + b)];
          if (base == kNoHypothesis) continue;
          const long row = i * lp_rows + b;  // b = 0 when compact
          const float* lp = best.values(row);
          const int* col = best.columns(row);
          for (int e = 0; e < best.size[static_cast<size_t>(row)]; ++e) {
            const double c = base + lp[e];
            if (c > kNoHypothesis) offer(top, cap, {c, static_cast<int>(b), col[e]});
          }
        }
      }
    });
    for (size_t i = 0; i < active.size(); ++i) {
      const int s = active[i];
      const bool forced = t >= max_len[static_cast<size_t>(s)];  // only EOS may follow
      const long row0 = static_cast<long>(i) * k;
      const std::vector<Candidate>& top = tops[i];

      // EOS candidates among the best `beam` are finished, until the sentence has `finish`;
      // the list keeps the best nbest, a new one after those scoring the same.
      std::vector<Hypothesis>& done = finished[static_cast<size_t>(s)];
      long& count = finished_count[static_cast<size_t>(s)];
      for (size_t j = 0; j < std::min(top.size(), static_cast<size_t>(k)); ++j) {
        if (top[j].column != eos || count >= finish) continue;
        ++count;
        const double final_score = top[j].score / length_norm;
        const auto at = std::upper_bound(
            done.begin(), done.end(), final_score,
            [](double v, const Hypothesis& x) { return v > x.score; });
        if (at - done.begin() >= o.nbest) continue;
        const int* h = hist.data() + (row0 + top[j].beam) * width;
        done.insert(at, {std::vector<int>(h, h + t), final_score});
        if (static_cast<long>(done.size()) > o.nbest) done.pop_back();
      }
      if (forced || count >= finish) continue;  // the sentence leaves

      // The best `beam` non-EOS candidates go on; rows short of a candidate hold none.
      const size_t first = parent.size();
      for (const Candidate& c : top) {
        if (parent.size() - first == static_cast<size_t>(k)) break;
        if (c.column == eos) continue;
        parent.push_back(static_cast<int>(row0 + c.beam));
        next_tokens.push_back(cols.piece[static_cast<size_t>(c.column)]);
        next_score.push_back(c.score);
      }
      if (parent.size() == first) continue;  // nothing left alive
      while (parent.size() - first < static_cast<size_t>(k)) {
        parent.push_back(parent[first]);
        next_tokens.push_back(next_tokens[first]);
        next_score.push_back(kNoHypothesis);
      }
      still.push_back(s);
    }
    if (still.empty()) break;

    // Gather the rows: each new row is its parent's tokens plus the chosen token.
    next_hist.resize(parent.size() * static_cast<size_t>(width));
    for (size_t r = 0; r < parent.size(); ++r) {
      int* h = next_hist.data() + static_cast<long>(r) * width;
      std::copy_n(hist.data() + parent[r] * width, t, h);
      h[t] = next_tokens[r];
    }
    if (lp_rows != k) model.expand(k);  // rows now as `parent` counts them
    bool same_rows = static_cast<long>(parent.size()) == model.rows();
    for (size_t r = 0; same_rows && r < parent.size(); ++r)
      same_rows = parent[r] == static_cast<int>(r);
    if (!same_rows) model.select(parent);
    hist.swap(next_hist);
    score.swap(next_score);
    tokens.swap(next_tokens);
    active.swap(still);
  }

  return finished;  // each list already the best nbest, best first
}

}  // namespace spotlight
