// vocab.h — Vocab: the joint source/target subword vocabulary, a SentencePiece model. Spotlight
// trains it itself (Vocab::train) with fixed special ids, so every model agrees on them:
//   pad = 0, unk = 1, bos = 2, eos = 3, pieces from 4.
// encode() gives pieces only (no BOS/EOS: make_batch frames sentences); decode() drops
// pad/bos/eos and detokenises the rest.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
  // Trains a joint model on the lines of every input file and writes it to model_path. The file
  // appears atomically (written under a temporary name, then renamed), so an interrupted run
  // never leaves a half-written vocabulary; no .vocab side file is written. Throws Error naming
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

// FNV-1a over bytes, continuing from `h` (pass the result back in to hash in pieces).
uint64_t fnv1a(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace spotlight
