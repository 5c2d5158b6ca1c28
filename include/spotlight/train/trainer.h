// trainer.h — the training loop behind `spotlight train`: vocabulary (trained if absent),
// corpora (encoded once, cached), token-count batches, forward/backward with gradient
// accumulation, clipping, Adam on the warm-up/inverse-sqrt schedule; progress on stderr and in
// metrics.jsonl; validation loss and greedy BLEU every valid_interval updates; checkpoints
// (last N, `last`, `best` by validation BLEU); early stopping; exact resumption.
//
// Determinism: three Rngs, all from train.seed — init, dropout, and the data order (its state
// at the start of each epoch is saved, so a resumed run redraws the same epoch plan and skips
// the batches already consumed). With the same thread count, an interrupted-and-resumed run ends
// with the same weights, byte for byte, as an uninterrupted one.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "spotlight/config.h"
#include "spotlight/data/corpus.h"
#include "spotlight/data/vocab.h"
#include "spotlight/rng.h"
#include "spotlight/train/loss.h"

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

// The peak resident memory of this process so far, in MB (getrusage).
double peak_rss_mb();

// Trains c.vocab.path from c.data.train when it does not exist yet (c.vocab's settings).
void ensure_vocabulary(const Config& c);
// ensure_vocabulary, then opens it, holds it to the config (check_vocab_record: an Error when
// its record disagrees with c.vocab or c.data.train) and records its size and special ids in
// c.model. *recorded (when given) says whether the vocabulary has a record of its training.
std::unique_ptr<Vocab> prepare_vocabulary(Config& c, bool* recorded = nullptr);

// Rows of the output projection and loss computed at once: the [B·T, V] logits never exist
// whole (a 4,096-token batch's would take 131 MB at V = 8,000), only [kLossChunkRows, V].
constexpr long kLossChunkRows = 512;

// The output vocabulary of model.output_vocab "target": every piece on the target side of the
// corpus, plus EOS and UNK (sorted ids).
std::vector<int> target_pieces(const ParallelCorpus& corpus, const ModelConfig& m);

// After model.forward_hidden: projects c.h onto the output vocabulary (model.output_size()) and scores it against b.tgt_out
// (label-smoothed cross-entropy, loss.h) in chunks of kLossChunkRows rows, reusing c.logits for
// each chunk. With dh, also the gradient: grad_scale · d(Σ loss)/d h into *dh [B·T, D]
// (overwritten) and the embedding's weight gradient (accumulated).
LossStats projected_loss(Transformer& model, Transformer::Cache& c, const Batch& b,
                         float label_smoothing, float grad_scale, Tensor* dh);

struct StepTimes {
  double forward = 0.0, loss = 0.0, backward = 0.0;  // seconds, accumulated
};
// The gradient of one update: zeroes the gradients, then forward, projection and
// label-smoothed loss, and backward for each batch of the group, the loss being the mean over
// all their target tokens. Dropout draws from dropout_rng. Returns the summed loss
// statistics; times (if given) accumulates the seconds of each phase.
LossStats forward_backward(Transformer& model, Transformer::Cache& cache,
                           std::span<const Batch> group, float label_smoothing, Rng& dropout_rng,
                           StepTimes* times = nullptr);

// The live progress line drawn on a terminal `width` columns wide, e.g.
//   "[=========                     ]  30% step 300 epoch 2 | elapsed 1m02s | ETA 2m25s"
// never longer than width − 1 (so the terminal does not wrap it): on a narrower terminal the bar
// narrows (30 to 10 columns) and fields go (elapsed, epoch, step); then the bar goes, then the
// ETA, and last the percentage is cut.
std::string progress_bar_text(int width, double fraction, long step, long epoch,
                              const std::string& elapsed, const std::string& eta);
// The width of the terminal on stderr (TIOCGWINSZ), or 0 when stderr is not a terminal.
int terminal_columns();

// Runs training to a stop condition. Throws Error for bad input (files, config, a checkpoint of
// another shape on resume, a non-finite loss — after which the last good checkpoint stays).
TrainSummary train(const Config& config, const TrainOptions& options);

}  // namespace spotlight
