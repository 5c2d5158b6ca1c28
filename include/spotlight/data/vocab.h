// vocab.h — Vocab: the joint source/target subword vocabulary, a SentencePiece model. Spotlight
// trains it itself (Vocab::train) with fixed special ids, so every model agrees on them:
//   pad = 0, unk = 1, bos = 2, eos = 3, pieces from 4.
// encode() gives pieces only (no BOS/EOS: make_batch frames sentences); decode() drops
// pad/bos/eos and detokenises the rest.
//
// A vocabulary records what it was trained from (VocabRecord): Vocab::train writes
// `<model>.json` beside the model — size, model type, character coverage, the training files
// with their sizes and SHA-256 digests, and the digest of the model itself — and checkpoints
// carry a copy as vocab.json. check_vocab_record() holds a vocabulary to the config that uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spotlight/model_config.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace spotlight {

// How to train a vocabulary (the config's `vocab` section plus the run's seed and threads).
struct VocabOptions {
  long size = 8000;                    // vocab.size: pieces, including the four specials
  std::string model_type = "unigram";  // vocab.model_type: unigram | bpe | char | word
  double character_coverage = 1.0;     // vocab.character_coverage: share of characters kept
  long input_sentence_size = 1000000;  // vocab.input_sentence_size: lines sampled (0: all)
  bool shuffle_input = true;           // sample lines at random rather than take the first ones
  uint32_t seed = 1;                   // SentencePiece's sampling seed
  int threads = 1;                     // SentencePiece training threads
};

class Vocab {
 public:
  // Trains a joint model on the lines of every input file and writes it to model_path, with its
  // record (VocabRecord) at vocab_record_path(model_path). Each file appears atomically
  // (written under a temporary name, then renamed), the record first, so an interrupted run never
  // leaves a half-written vocabulary nor a model without its record; no .vocab side file is
  // written. Throws Error naming
  // the file for a missing/unreadable input or invalid UTF-8, and naming `vocab.size` when the
  // data cannot fill the requested vocabulary (SentencePiece's limit is passed on).
  static void train(const std::vector<std::string>& input_files, const std::string& model_path,
                    const VocabOptions& o);

  // Loads a model; throws Error naming the path when it is missing or corrupt, or when its
  // special ids are not spotlight's (pad 0, unk 1, bos 2, eos 3).
  explicit Vocab(const std::string& model_path);
  ~Vocab();
  Vocab(Vocab&&) noexcept;
  Vocab& operator=(Vocab&&) noexcept;

  // Subword ids of one line of text, without BOS/EOS. Safe to call from several threads.
  std::vector<int> encode(std::string_view text) const;
  // Text of a sequence of ids; pad, bos and eos ids are skipped, unknown pieces read " ⁇ ".
  std::string decode(std::span<const int> ids) const;

  // The piece of one id as SentencePiece stores it ("▁dog", "s", "<unk>", "</s>").
  std::string piece(int id) const;

  long size() const { return size_; }  // V
  int pad_id() const { return 0; }
  int unk_id() const { return 1; }
  int bos_id() const { return 2; }
  int eos_id() const { return 3; }

  const std::string& path() const { return path_; }
  // A 64-bit hash of the model file's bytes: identifies the vocabulary in corpus caches.
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string path_;
  long size_ = 0;
  uint64_t fingerprint_ = 0;
};

// The vocabulary's size and special ids into a model config (training a new model, or opening a
// checkpoint: the model always takes them from its vocabulary).
void set_vocabulary(ModelConfig& m, const Vocab& v);

// FNV-1a over bytes, continuing from `h` (pass the result back in to hash in pieces).
uint64_t fnv1a(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ULL);

// SHA-256 in lowercase hex (as sha256sum prints it), by libcrypto's EVP interface: of bytes, or
// of a file's bytes read in blocks (its size into *bytes when given; an Error names the file).
std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const std::string& path, long* bytes = nullptr);

// What a vocabulary was trained from.
struct VocabRecord {
  struct TrainingFile {
    std::string path;    // as given to Vocab::train (data.train[i])
    long bytes = 0;      // its size
    std::string sha256;  // of its bytes
  };
  long size = 0;                    // vocab.size asked for
  std::string model_type;           // vocab.model_type
  double character_coverage = 0.0;  // vocab.character_coverage
  long input_sentence_size = 0;     // vocab.input_sentence_size (recorded, not checked)
  uint32_t seed = 0;                // SentencePiece's sampling seed (recorded, not checked)
  std::vector<TrainingFile> files;  // in the order they were given
  std::string model_sha256;         // of the model file this record describes

  nlohmann::ordered_json to_json() const;
  // Throws Error naming `source` when a field is missing or has the wrong type.
  static VocabRecord from_json(const nlohmann::json& j, const std::string& source);
};

// Where Vocab::train puts the record of model_path: "<model_path>.json".
std::string vocab_record_path(const std::string& model_path);
// The record of a model file: <model_path>.json, or for a checkpoint's vocab.model its sibling
// vocab.json. nullopt when there is none; an Error names the file when it is unreadable.
std::optional<VocabRecord> read_vocab_record(const std::string& model_path);
// The record file read_vocab_record would read ("" when none exists).
std::string find_vocab_record(const std::string& model_path);

// Holds the vocabulary at model_path (`pieces` long, as Vocab::size()) to the settings `o` and
// training files a config gives it. Throws Error naming the config key, both values and the fix
// when they disagree: vocab.size (and the piece count, except for char models, whose size
// SentencePiece sets from the data), vocab.model_type, vocab.character_coverage, the training
// files (data.train) or their contents (SHA-256), or a record that describes another model
// file. A training file at another path with the same bytes is accepted. Returns false when the
// vocabulary has no record (made by an older Spotlight or by hand): only its size is checked.
bool check_vocab_record(const std::string& model_path, long pieces, const VocabOptions& o,
                        const std::vector<std::string>& input_files);

}  // namespace spotlight
