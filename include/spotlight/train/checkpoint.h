// checkpoint.h — self-contained checkpoint directories, as the contract describes:
//   config.json            the resolved config
//   model.safetensors      weights (PyTorch names and layouts)
//   vocab.model            the SentencePiece model, so the directory alone can translate
//   vocab.json             what the vocabulary was trained from (VocabRecord), when recorded
//   optimizer.safetensors  Adam moments, for resuming (absent in averaged/exported checkpoints);
//                          with train.ema_decay also the live weights ("weights.<name>"), as
//                          model.safetensors then holds their moving average
//   trainer_state.json     step, epoch, data position, RNG state, best score, ...
// A checkpoint is written into a temporary sibling directory, synced, then renamed into place;
// `last` and `best` are replaced by an atomic directory exchange (renameat2 RENAME_EXCHANGE), so
// an interruption at any moment leaves the previous checkpoint whole. Run layout:
//   <output_dir>/checkpoints/step_<N>/  (the last keep_last kept), last/, best/
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "spotlight/config.h"
#include "spotlight/model/transformer.h"
#include "spotlight/data/vocab.h"
#include "spotlight/train/optimizer.h"

namespace spotlight {

struct TrainerState {
  long step = 0;                        // updates done
  long epoch = 1;                       // current epoch, 1-based
  long epoch_position = 0;              // batches of the current epoch's plan already consumed
  std::array<uint64_t, 4> epoch_rng{};  // Rng state the current epoch's plan was drawn from
  std::array<uint64_t, 4> rng{};        // Rng state for dropout at this point
  double best_bleu = -1.0;              // best validation BLEU so far (-1: none yet)
  long best_step = 0;
  long bad_validations = 0;  // validations since the best one (early stopping)
  double train_seconds = 0.0;
  // Batches of the epoch plan per update, over all ranks (update_freq × the world size the run
  // started with); kept when a run resumes with another number of ranks. 0: not recorded (a
  // checkpoint of an older Spotlight: train.update_freq).
  long batches_per_update = 0;

  nlohmann::json to_json() const;
  static TrainerState from_json(const nlohmann::json& j, const std::string& source);
};

// What a checkpoint holds: the weights with their config and vocabulary and, for resuming
// (both null in a weights-only checkpoint), the optimizer and the trainer state. When the model
// holds averaged weights (train.ema_decay), `live` are the training weights (registry order),
// kept with the optimizer state.
struct CheckpointContents {
  const Config& config;
  const Transformer& model;
  std::string vocab_path;  // the SentencePiece model, copied in as vocab.model
  const Adam* optimizer = nullptr;
  const TrainerState* state = nullptr;
  const std::vector<Tensor>* live = nullptr;
};

// Writes a complete checkpoint directory at `dir` atomically (replacing one that exists).
void save_checkpoint(const std::string& dir, const CheckpointContents& contents);

// The training state --resume restores beside the weights: Adam's moments and the trainer
// state and, when given, the live weights (registry order). A checkpoint holds live weights
// iff it was trained with train.ema_decay; a mismatch is refused.
struct ResumeState {
  Adam& optimizer;
  TrainerState& state;
  std::vector<Tensor>* live = nullptr;
};

// The checkpoint directory that `path` (a -c/--checkpoint value) names: `path` itself when it
// holds a checkpoint (config.json, model.safetensors, vocab.model), or for a run directory
// (output_dir) its checkpoints/best, which is said on stderr (once per path). Anything else is
// an Error saying what was looked for and what `path` holds, e.g. "runs/x: not a checkpoint (no
// config.json/model.safetensors/vocab.model); it holds checkpoints/{last,step_500}: try -c
// runs/x/checkpoints/last". Every command that opens a checkpoint goes through here (by
// checkpoint_config, open_checkpoint or average_checkpoints).
std::string resolve_checkpoint(const std::string& path);

// The resolved config stored in the checkpoint `path` names (resolve_checkpoint); throws naming
// the directory when unusable.
Config checkpoint_config(const std::string& path);
// Loads weights into a model built from checkpoint_config(dir).
void load_checkpoint_weights(const std::string& dir, Transformer& model);
// Restores what `resume` names from checkpoint `dir` of this model, for --resume.
void load_training_state(const std::string& dir, const Transformer& model,
                         const ResumeState& resume);

// A checkpoint opened for inference: its config, vocabulary and weights. The model is built
// from the stored config and the vocabulary's size.
struct OpenCheckpoint {
  std::string dir;  // the checkpoint directory opened (resolve_checkpoint of the path given)
  Config config;
  std::unique_ptr<Vocab> vocab;
  std::unique_ptr<Transformer> model;
};
// Opens the checkpoint `path` names (resolve_checkpoint).
OpenCheckpoint open_checkpoint(const std::string& path);

// Averages the weights of checkpoints of one model (same config shape and vocabulary) into a
// weights-only checkpoint at `out` (config and vocabulary of the first input). Inputs are
// resolved as resolve_checkpoint does.
void average_checkpoints(const std::vector<std::string>& inputs, const std::string& out);

// Copies (hard-links where possible) checkpoint `src` to `dst` atomically, replacing `dst`.
void publish_checkpoint(const std::string& src, const std::string& dst);
// Removes numbered step_<N> checkpoints in `checkpoints_dir` beyond the newest `keep`.
void prune_checkpoints(const std::string& checkpoints_dir, long keep);

}  // namespace spotlight
