// trainer.h — the training loop behind `spotlight train`: vocabulary (trained if absent),
// corpora (encoded once, cached), token-count batches, forward/backward with gradient
// accumulation, clipping, Adam on the warm-up/inverse-sqrt schedule; progress on stderr and in
// metrics.jsonl; validation loss and greedy BLEU every valid_interval updates; checkpoints
// (last N, `last`, `best` by validation BLEU); early stopping; exact resumption.
//
// Determinism: three Rngs, all from train.seed — init, dropout, and the data order (its state
// at the start of each epoch is saved, so a resumed run redraws the same epoch plan and skips
// the batches already consumed). With the same thread count, an interrupted-and-resumed run ends
// with the same weights, byte for byte, as an uninterrupted one. Each batch of an update draws
// its dropout from the update's stream forked by its place in the update, and each batch's
// gradient is summed to the others', so under mpirun (train/distributed.h) N ranks make the
// updates of one process with N times the batches per update, and a run resumes with any N.
#pragma once

#include <atomic>
#include <string>

#include "spotlight/config.h"

namespace spotlight {

struct TrainOptions {
  bool resume = false;  // continue from <output_dir>/checkpoints/last
  bool quiet = false;   // only warnings on stderr (tests); train.log still gets everything
  // Set (e.g. by a signal handler) to stop after the current update with a checkpoint.
  const std::atomic<bool>* stop = nullptr;
};

enum class StopReason { max_steps, max_epochs, max_minutes, patience, interrupted };

struct TrainSummary {
  StopReason reason = StopReason::max_steps;
  long steps = 0, epochs = 0;
  double best_bleu = -1.0;
  double last_valid_loss = 0.0;
  double train_seconds = 0.0;
  double peak_rss_mb = 0.0;
};

const char* to_string(StopReason r);

// Runs training to a stop condition. Throws Error for bad input (files, config, a checkpoint of
// another shape on resume, a non-finite loss — after which the last good checkpoint stays).
TrainSummary train(const Config& config, const TrainOptions& options);

}  // namespace spotlight
