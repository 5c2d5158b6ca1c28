// decode_ties.h — comparing the outputs of two decodings that are equal only up to rounding
// (batched against one by one, the KV cache against full forward passes, beam 1 against greedy):
// argmax near-ties.
//
// Two such decodings see log-probabilities that differ by rounding (near.h), so where the best two
// candidates are within rounding of each other they may pick different ones — both correct, and
// which way it falls depends on the BLAS kernel. An exact token comparison would then fail on
// some machines only. So outputs must be equal, or part only at a near-tie: at the first
// position where greedy outputs differ, the reference model's log-probabilities of the two
// choices (a token, or the end: EOS) differ by at most twice one computation's noise. A bug (a
// wrong row, a stale cache entry) moves log-probabilities by far more and still fails.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include "spotlight/check.h"
#include <sstream>
#include <string>
#include <vector>

#include "spotlight/decode/greedy.h"
#include "spotlight/kernels.h"
#include "spotlight/model/transformer.h"
#include "support/near.h"

namespace spotlight::testing {

// The noise of one log-probability computed two ways. log p = z − lse(z) cancels terms of the
// logits' size (about log V for these models, more for a confident |log p|), each rounded after
// up to ~32 steps through the layers (near.h): 32·ε·max(log V, |log p|).
inline double logprob_noise(long vocab, double logprob) {
  return noise_atol(std::max(std::log(static_cast<double>(vocab)), std::fabs(logprob)), 32);
}

// Scores (Σ log p over the tokens and EOS) of two decodings of the same output: 1e-5 relative
// (terms of one sign) and each of the tokens + 1 terms' noise.
inline Tol score_tol(long tokens, long vocab) {
  return {1e-5, static_cast<double>(tokens + 1) * logprob_noise(vocab, 0.0)};
}

// Log-probabilities [T + 1, V] after each prefix of `tokens` (BOS first) by one full forward pass
// of the sentence alone: the reference for where two decodings part.
inline Tensor reference_logprobs(const Transformer& m, const std::vector<int>& src,
                                 const std::vector<int>& tokens) {
  const Batch b = make_batch({src}, {tokens}, m.cfg.pad_id, m.cfg.bos_id, m.cfg.eos_id);
  Transformer::Cache c;
  m.forward(b, c, nullptr);
  log_softmax(c.logits.view());
  return c.logits;
}

struct Divergence {
  long at = -1;      // first position where the outputs differ; -1: they are equal
  double gap = 0.0;  // |log p(a's choice) − log p(b's choice)| under the reference there
  double tie = 0.0;  // the largest gap rounding explains
  bool equal() const { return at < 0; }
  bool near_tie() const { return at >= 0 && gap <= tie; }
};

// Where greedy outputs a and b of `src` (decoded with the same length limit) part; a choice is a
// token, or EOS where an output ends.
inline Divergence greedy_divergence(const Transformer& m, const std::vector<int>& src,
                                    const std::vector<int>& a, const std::vector<int>& b) {
  Divergence d;
  if (a == b) return d;
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  d.at = static_cast<long>(i);
  const std::vector<int> prefix(a.begin(), a.begin() + static_cast<long>(i));
  const Tensor lp = reference_logprobs(m, src, prefix);
  const float* row = lp.view().row(static_cast<long>(i));
  const int ca = i < a.size() ? a[i] : m.cfg.eos_id, cb = i < b.size() ? b[i] : m.cfg.eos_id;
  d.gap = std::fabs(static_cast<double>(row[ca]) - row[cb]);
  d.tie = 2.0 * logprob_noise(m.cfg.vocab_size, std::min(row[ca], row[cb]));
  return d;
}

// Checks that greedy outputs a (under test) and b (reference) of `src` are equal or part at a
// near-tie; returns whether they are equal (only then can their scores be compared). `ties`, if
// given, counts the near-ties.
inline bool expect_same_greedy(const std::string& what, const Transformer& m,
                               const std::vector<int>& src, const std::vector<int>& a,
                               const std::vector<int>& b, long* ties = nullptr,
                               SourceLocation at = SourceLocation::current()) {
  const Divergence d = greedy_divergence(m, src, a, b);
  if (d.equal()) return true;
  std::ostringstream s;
  s << what << ": the outputs part at token " << d.at << " where the reference log-probabilities"
    << " of the two choices differ by " << d.gap << " (a near-tie is at most " << d.tie << ")";
  if (d.near_tie()) {
    if (ties != nullptr) ++*ties;
    ADD_MESSAGE_AT(at.file_name(), static_cast<int>(at.line()), s.str() << ": a near-tie");
  } else {
    ADD_FAIL_CHECK_AT(at.file_name(), static_cast<int>(at.line()), s.str());
  }
  return false;
}

// n-best lists a and b of one sentence from two decodings: scores equal within `tol` place by
// place, and the same hypotheses in the same order — except that hypotheses whose scores are
// within the tolerance of each other may trade places (a near-tie between whole hypotheses).
inline bool expect_same_nbest(const std::string& what, const std::vector<Hypothesis>& a,
                              const std::vector<Hypothesis>& b, Tol tol,
                              SourceLocation at = SourceLocation::current()) {
  auto fail = [&](const std::string& why) {
    ADD_FAIL_CHECK_AT(at.file_name(), static_cast<int>(at.line()), what << ": " << why);
    return false;
  };
  if (a.size() != b.size())
    return fail(std::to_string(a.size()) + " hypotheses against " + std::to_string(b.size()));
  for (size_t j = 0; j < a.size(); ++j) {
    if (!near(a[j].score, b[j].score, tol)) {
      std::ostringstream s;
      s << "hypothesis " << j << " scores " << a[j].score << " against " << b[j].score;
      return fail(s.str());
    }
    if (a[j].tokens == b[j].tokens) continue;
    bool swapped = false;  // the same hypothesis elsewhere in b, at a score within tolerance
    for (size_t k = 0; k < b.size() && !swapped; ++k)
      swapped = b[k].tokens == a[j].tokens && near(a[j].score, b[k].score, tol);
    if (!swapped)
      return fail("hypothesis " + std::to_string(j) + " differs and is no near-tie of another");
  }
  return true;
}

}  // namespace spotlight::testing
