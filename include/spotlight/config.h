// config.h — the run configuration: typed structs with a comment per field, read from one JSON
// file with sections data, vocab, model, train, decode and output_dir. Unknown keys and wrong
// types are errors that name the key path ("train.lr: expected a number"); a file that does not
// parse is an error naming file, line and column. `--set train.lr=3e-4` edits the JSON before it
// is read, so there is no second options system. The resolved config (every field, defaults
// filled in) is what checkpoints store.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "spotlight/model_config.h"

namespace spotlight {

// One training corpus: line N of src translates line N of tgt.
struct TrainCorpus {
  std::string src, tgt;
  double weight = 1.0;  // times each pair is drawn per epoch on average (data/mix.h)
  bool operator==(const TrainCorpus&) const = default;
};

struct DataConfig {
  // The training corpora. In JSON, one corpus is a [source_file, target_file] pair; several are
  // a list of such pairs or of {"src": F, "tgt": F, "weight": W} objects.
  std::vector<TrainCorpus> train;
  std::array<std::string, 2> valid;  // validation pair, [source_file, target_file]
  long max_len = 250;  // training pairs with a side longer than this (tokens) are skipped
  std::string store;   // directory of the encoded corpora (data/store.h); "": <output_dir>/data

  // Every training file in order: src and tgt of each corpus (what the vocabulary trains on).
  std::vector<std::string> train_files() const;
  // The store directory (data.store, else <output_dir>/data).
  std::string store_dir(const std::string& output_dir) const;
};

struct VocabConfig {
  std::string path;                    // SentencePiece model; trained from data.train if absent
  long size = 8000;                    // vocabulary size (joint source + target)
  std::string model_type = "unigram";  // unigram | bpe | char | word
  double character_coverage = 1.0;     // SentencePiece character_coverage
  long input_sentence_size = 1000000;  // sentences sampled to train the vocabulary
};

struct TrainConfig {
  double lr = 1e-3;          // peak learning rate, reached after `warmup` updates
  long warmup = 4000;        // linear warm-up updates, then the decay of lr_schedule
  std::string lr_schedule = "inverse_sqrt";  // inverse_sqrt | cosine (to 0 at max_steps)
  long lr_cooldown = 0;  // last updates before max_steps with the rate falling linearly to 0
  long max_steps = 0;        // stop after this many updates (0: no limit)
  long max_epochs = 0;       // stop after this many epochs (0: no limit)
  double max_minutes = 0.0;  // stop after this much training time (0: no limit)
  long max_tokens = 4096;    // padded tokens per batch (each side)
  long update_freq = 1;      // batches accumulated per update
  double clip_norm = 1.0;    // global gradient-norm limit (0: off)
  double label_smoothing = 0.1;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.98;
  double adam_eps = 1e-9;
  double weight_decay = 0.0;   // decoupled (AdamW)
  double ema_decay = 0.0;      // exponential moving average of the weights (0: off), e.g. 0.999
  long seed = 1;               // all randomness: init, dropout, shuffling
  long log_interval = 100;     // updates between progress lines
  long valid_interval = 1000;  // updates between validations (and one at the end)
  long patience = 0;           // stop after this many validations without a better BLEU (0: off)
  long keep_last = 3;          // numbered checkpoints kept besides `best` and `last`
  long threads = 2;            // compute threads (GEMMs, kernels, corpus encoding)
  std::string bleu_tokenize = "13a";  // validation BLEU tokenizer: 13a | none (pre-tokenized data)
};

struct DecodeConfig {
  long beam = 5;           // beam size (1: greedy)
  double alpha = 1.0;      // length normalisation: score / length^alpha
  double patience = 1.0;   // a sentence stops with ⌈patience·beam⌉ finished hypotheses (1: fairseq)
  double max_len_a = 1.5;  // output limit a·source_len + b
  long max_len_b = 10;
  long batch_size = 64;  // sentences per decoding batch
  // float | int8: the linear layers' products in int8 with per-row scales (blas.h; oneDNN)
  std::string compute_type = "float";
};

struct Config {
  DataConfig data;
  VocabConfig vocab;
  ModelConfig model;
  TrainConfig train;
  DecodeConfig decode;
  std::string output_dir = "runs/default";  // run directory: checkpoints/, metrics.jsonl, train.log

  // Every field, defaults filled in.
  nlohmann::ordered_json to_json() const;
  // Reads a config; missing fields keep their defaults; unknown keys and wrong types throw with
  // the key path. `source` names the origin in messages (a file name).
  static Config from_json(const nlohmann::json& j, const std::string& source = "config");
  // Throws Error naming the key when a value is out of its range (from_json calls it; so does
  // training, for configs built in code). The ranges bound every size a config can ask for.
  void validate() const;
  // validate(), then what training needs beyond the ranges: a stopping condition, a cosine
  // schedule longer than its warm-up, a vocabulary path, positions for the longest pair.
  void validate_for_training() const;
};

// Parses a JSON file; a syntax error names file:line:column.
nlohmann::json read_json_file(const std::string& path);
// Applies "a.b.c=value" (value parsed as JSON when it parses, else taken as a string).
void apply_override(nlohmann::json& j, const std::string& assignment);
// Whether `key` (a "section.key" path, or "output_dir") may differ between a run's stored config
// and the config given to `spotlight train --resume`: the stopping conditions (train.max_steps,
// max_epochs, max_minutes, patience), intervals (train.log_interval, valid_interval, keep_last),
// train.threads, decode.* (used only for reporting) and output_dir (where the run is now).
bool may_change_on_resume(const std::string& key);

// The config a resumed run continues with: `run` (the resolved config stored in the run's
// checkpoints/last, named by `run_source` in messages) with the keys that may change mid-run
// taken from `given`. Any other key whose value differs is an Error that names every such key
// with both values and says what to do (give the run's values, or start a new output_dir).
// `changes` receives "key: run value → new value" for each change taken.
Config resume_config(const Config& run, const Config& given, const std::string& run_source,
                     std::vector<std::string>& changes);

// read_json_file + apply_override for each + from_json.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace spotlight
