// setup.h — what `spotlight train` and `spotlight bench` build from a config before the first
// update, in one place so that both build the same: the vocabulary (trained if absent, held to
// its record), the model (initialised from train.seed; with model.output_vocab "target" its
// output pieces from the training targets), and the batcher's and Adam's settings.
#pragma once

#include <memory>
#include <vector>

#include "spotlight/config.h"
#include "spotlight/data/batcher.h"
#include "spotlight/data/mix.h"
#include "spotlight/data/store.h"
#include "spotlight/data/vocab.h"
#include "spotlight/model/transformer.h"
#include "spotlight/train/optimizer.h"

namespace spotlight {

// Trains c.vocab.path from c.data.train when it does not exist yet (c.vocab's settings).
void ensure_vocabulary(const Config& c);
// ensure_vocabulary, then opens it, holds it to the config (check_vocab_record: an Error when
// its record disagrees with c.vocab or c.data.train) and records its size and special ids in
// c.model. *recorded (when given) says whether the vocabulary has a record of its training.
std::unique_ptr<Vocab> prepare_vocabulary(Config& c, bool* recorded = nullptr);

// The training corpora as the batcher reads them: the store of every data.train corpus (encoded
// into c.data.store_dir(c.output_dir) when missing or stale; `note` says so) and their mix with
// the corpora's weights and data.max_len.
struct TrainingData {
  std::vector<CorpusStore> stores;
  std::unique_ptr<PairMix> mix;
  bool encoded = false;  // some store was (re-)encoded
};
TrainingData open_training_data(const Config& c, const Vocab& vocab, int threads,
                                const std::function<void(const std::string&)>& note = {},
                                const EncodeProgress& progress = {});

// The output vocabulary of model.output_vocab "target": every piece on the target side of the
// kept pairs, plus EOS and UNK (sorted ids).
std::vector<int> target_pieces(const PairMix& mix, const ModelConfig& m);

// A new model of c.model, initialised from c.train.seed, its output pieces from `train`.
std::unique_ptr<Transformer> new_model(const Config& c, const PairMix& train);

// Batches of c.train.max_tokens with c.model's special ids; Adam with c.train's settings.
BatcherOptions batcher_options(const Config& c);
AdamConfig adam_config(const TrainConfig& t);

}  // namespace spotlight
