#include "spotlight/data/vocab.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "spotlight/check.h"
#include "spotlight/data/corpus.h"

namespace spotlight {

uint64_t fnv1a(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

namespace {

// Feeds SentencePiece the lines of several files in turn through LineReader, so inputs get the
// same strict checks as the corpus and file names may contain commas. An Error cannot cross
// SentencePiece's code, so it is kept here, iteration stops, and train() rethrows it.
class FilesIterator : public sentencepiece::SentenceIterator {
 public:
  explicit FilesIterator(const std::vector<std::string>& files) : files_(files) { advance(); }

  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override {
    if (error_.empty()) return {};
    return {sentencepiece::util::StatusCode::kInternal, error_};
  }
  const std::string& error() const { return error_; }

 private:
  void advance() {
    try {
      while (file_ < files_.size()) {
        if (!reader_) reader_.emplace(files_[file_]);
        if (reader_->next(line_)) return;
        reader_.reset();
        ++file_;
      }
    } catch (const Error& e) {
      error_ = e.what();
    }
    done_ = true;
  }

  const std::vector<std::string>& files_;
  size_t file_ = 0;
  std::optional<LineReader> reader_;
  std::string line_;
  std::string error_;
  bool done_ = false;
};

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(),
          [&] { return "cannot open vocabulary " + path + ": " + std::strerror(errno); });
  std::ostringstream ss;
  ss << in.rdbuf();
  require(!in.bad(), [&] { return "cannot read vocabulary " + path; });
  return std::move(ss).str();
}

// Writes bytes to path through a temporary file in the same directory and a rename.
void write_atomically(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    require(out.good(), [&] { return "cannot write " + tmp + ": " + std::strerror(errno); });
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      fs::remove(tmp, ec);
      require(false, [&] { return "cannot write " + tmp + ": " + std::strerror(errno); });
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    require(false, [&] { return "cannot rename " + tmp + " to " + path + ": " + ec.message(); });
  }
}

}  // namespace

void Vocab::train(const std::vector<std::string>& input_files, const std::string& model_path,
                  const VocabOptions& o) {
  require(!input_files.empty(), "vocabulary training needs at least one input file");
  require(o.model_type == "unigram" || o.model_type == "bpe" || o.model_type == "char" ||
              o.model_type == "word",
          "vocab.model_type: expected unigram, bpe, char or word, got '" + o.model_type + "'");
  require(o.size > 4, "vocab.size: must exceed 4 (pad, unk, bos and eos take ids 0-3), got " +
                          std::to_string(o.size));
  require(o.character_coverage > 0.0 && o.character_coverage <= 1.0,
          "vocab.character_coverage: expected a value in (0, 1], got " +
              std::to_string(o.character_coverage));
  require(o.input_sentence_size >= 0, "vocab.input_sentence_size: must be >= 0");
  // Fail early, before any training time is spent, on inputs that cannot be opened.
  for (const auto& f : input_files) {
    std::ifstream probe(f);
    require(probe.good(), [&] { return "cannot open " + f + ": " + std::strerror(errno); });
  }

  const std::unordered_map<std::string, std::string> args = {
      {"vocab_size", std::to_string(o.size)},
      {"model_type", o.model_type},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"input_sentence_size", std::to_string(o.input_sentence_size)},
      {"shuffle_input_sentence", o.shuffle_input ? "true" : "false"},
      {"num_threads", std::to_string(std::max(1, o.threads))},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "2"},
      {"eos_id", "3"},
      {"minloglevel", "2"},  // library code does not log; errors come back as a status
  };
  sentencepiece::SetRandomGeneratorSeed(o.seed);
  FilesIterator lines(input_files);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &lines, &model);
  require(lines.error().empty(), lines.error());
  if (!status.ok()) {
    const std::string msg = status.ToString();
    // "Vocabulary size too high (N). Please set it to a value <= M." or "Vocabulary size is
    // smaller than required_chars": say which key to change.
    if (msg.find("Vocabulary size too high") != std::string::npos)
      require(false, "vocab.size: the training data cannot fill " + std::to_string(o.size) +
                         " pieces (" + msg + ")");
    if (msg.find("Vocabulary size is smaller") != std::string::npos)
      require(false, "vocab.size: " + std::to_string(o.size) +
                         " pieces cannot hold every character of the data; raise vocab.size or "
                         "lower vocab.character_coverage (" +
                         msg + ")");
    require(false, "training the vocabulary " + model_path + " failed: " + msg);
  }
  write_atomically(model_path, model);
}

Vocab::Vocab(const std::string& model_path)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()), path_(model_path) {
  const std::string bytes = read_file_bytes(model_path);
  const auto status = sp_->LoadFromSerializedProto(bytes);
  require(status.ok(), [&] {
    return "cannot load vocabulary " + model_path + ": not a SentencePiece model (" +
           status.ToString() + ")";
  });
  require(
      sp_->pad_id() == 0 && sp_->unk_id() == 1 && sp_->bos_id() == 2 && sp_->eos_id() == 3, [&] {
        return "vocabulary " + model_path +
               " has special ids pad=" + std::to_string(sp_->pad_id()) +
               " unk=" + std::to_string(sp_->unk_id()) + " bos=" + std::to_string(sp_->bos_id()) +
               " eos=" + std::to_string(sp_->eos_id()) +
               ", not 0/1/2/3: it was not trained by spotlight (delete it to retrain)";
      });
  size_ = sp_->GetPieceSize();
  fingerprint_ = fnv1a(bytes);
}

Vocab::~Vocab() = default;
Vocab::Vocab(Vocab&&) noexcept = default;
Vocab& Vocab::operator=(Vocab&&) noexcept = default;

std::vector<int> Vocab::encode(std::string_view text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  require(status.ok(),
          [&] { return "cannot encode text with " + path_ + ": " + status.ToString(); });
  return ids;
}

std::string Vocab::piece(int id) const {
  require(id >= 0 && id < size_, [&] {
    return "piece: id " + std::to_string(id) + " is outside the vocabulary of " +
           std::to_string(size_);
  });
  return sp_->IdToPiece(id);
}

std::string Vocab::decode(std::span<const int> ids) const {
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (int id : ids) {
    require(id >= 0 && id < size_, [&] {
      return "decode: id " + std::to_string(id) + " is outside the vocabulary of " +
             std::to_string(size_);
    });
    if (id != pad_id() && id != bos_id() && id != eos_id()) kept.push_back(id);
  }
  std::string text;
  const auto status = sp_->Decode(kept, &text);
  require(status.ok(),
          [&] { return "cannot decode ids with " + path_ + ": " + status.ToString(); });
  return text;
}

}  // namespace spotlight
