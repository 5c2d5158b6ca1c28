// beam.h — batched beam search over a StepModel, fairseq's algorithm (search.h translates with it).
//
// Each sentence keeps `beam` live hypotheses. A hypothesis y₁…y_t has the raw score
// Σ log p(y_i | y_<i, x); when it ends with EOS its final score is length-normalised as in
// fairseq:   score = (Σ_{i ≤ t+1} log p(y_i | y_<i, x)) / (t + 1)^alpha,
// the sum and the length both counting the final EOS (alpha = 0: raw log-probability).
#pragma once

#include <vector>

#include "spotlight/decode/greedy.h"
#include "spotlight/decode/step_model.h"

namespace spotlight {

struct BeamOptions {
  long beam = 5;       // live hypotheses per sentence (1: greedy's tokens)
  double alpha = 1.0;  // length normalisation: Σ log p / length^alpha, length counting EOS
  long nbest = 1;      // finished hypotheses returned, 1 ≤ nbest ≤ min(beam, stop_after())
  // A sentence stops once ⌈patience·beam⌉ hypotheses have finished (1: fairseq's early stop;
  // larger searches on and lets longer hypotheses finish: Kasai et al. 2022, "A Call for
  // Clarity in Beam Search"). Beam 1 ignores it: greedy stops at its first EOS.
  double patience = 1.0;
};

// Finished hypotheses that end a sentence's search: ⌈patience·beam⌉ and at least 1; 1 for beam 1.
long stop_after(long beam, double patience);

// Decodes `sentences` sentences from BOS. The model holds each sentence `beam` times in a row
// (rows = sentences·beam, row r belongs to sentence r / beam), or once: then the first step,
// where only beam 0 is live, runs on one row per sentence and model.expand(beam) follows it.
// Each step:
//  - every live hypothesis is extended by every piece of the model's output columns but PAD and
//    BOS (only beam 0 is live at the first step), and the best 2·beam candidates of each
//    sentence are kept, ties going to the lower beam index, then the lower piece id;
//  - candidates among the best `beam` that end in EOS are finished (normalised score above),
//    until the sentence has stop_after(beam, patience) finished hypotheses;
//  - the best `beam` candidates that do not end in EOS become the next hypotheses.
// A hypothesis holds at most max_len[s] tokens; then EOS is forced. A sentence is done when it
// has stop_after(beam, patience) finished hypotheses (patience 1: fairseq's early stop) or
// reached its limit, and then leaves the batch: model.select() receives, for each new row, the
// old row it continues.
// Returns per sentence up to o.nbest finished hypotheses, best first (ties in finishing order),
// with Hypothesis::score the normalised score; a list is shorter only if the model gave EOS
// probability 0 at the limit. Only the best o.nbest are kept while searching, so memory does
// not grow with the patience.
std::vector<std::vector<Hypothesis>> beam_search(StepModel& model, long sentences,
                                                 const std::vector<long>& max_len,
                                                 const BeamOptions& o);

}  // namespace spotlight
