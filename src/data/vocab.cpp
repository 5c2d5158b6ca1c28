#include "spotlight/data/vocab.h"

#include <openssl/evp.h>
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

#include "spotlight/atomic_file.h"
#include "spotlight/check.h"
#include "spotlight/data/corpus.h"

namespace spotlight {

namespace {

// One SHA-256 computation (EVP), freed on every path out.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    require(ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1,
            "SHA-256: libcrypto could not start a digest");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const char* data, size_t n) {
    require(EVP_DigestUpdate(ctx_, data, n) == 1, "SHA-256: libcrypto failed");
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    require(EVP_DigestFinal_ex(ctx_, md, &len) == 1, "SHA-256: libcrypto failed");
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out.push_back(digits[md[i] >> 4]);
      out.push_back(digits[md[i] & 15]);
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex();
}

std::string sha256_file(const std::string& path, long* bytes) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), [&] { return "cannot read " + path + ": " + std::strerror(errno); });
  Sha256 h;
  std::vector<char> block(1 << 20);
  long total = 0;
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto got = static_cast<size_t>(in.gcount());
    h.update(block.data(), got);
    total += static_cast<long>(got);
  }
  require(!in.bad(), [&] { return "cannot read " + path + ": " + std::strerror(errno); });
  if (bytes != nullptr) *bytes = total;
  return h.hex();
}

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
  // Fail early, before any training time is spent, on inputs that cannot be opened; their
  // digests go into the record.
  VocabRecord record;
  record.size = o.size;
  record.model_type = o.model_type;
  record.character_coverage = o.character_coverage;
  record.input_sentence_size = o.input_sentence_size;
  record.seed = o.seed;
  for (const auto& f : input_files) {
    std::ifstream probe(f);
    require(probe.good(), [&] { return "cannot open " + f + ": " + std::strerror(errno); });
    VocabRecord::TrainingFile tf;
    tf.path = f;
    tf.sha256 = sha256_file(f, &tf.bytes);
    record.files.push_back(std::move(tf));
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
  // The record first: a model file never exists without the record of its training (a record
  // left without its model, by a kill in between, is rewritten when the model is trained again).
  record.model_sha256 = sha256_hex(model);
  write_file_atomically(vocab_record_path(model_path), record.to_json().dump(2) + "\n", true);
  write_file_atomically(model_path, model, true);
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

// ---- records ----

nlohmann::ordered_json VocabRecord::to_json() const {
  nlohmann::ordered_json files_json = nlohmann::ordered_json::array();
  for (const auto& f : files)
    files_json.push_back({{"path", f.path}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  nlohmann::ordered_json j;
  j["format"] = "spotlight vocabulary record";
  j["version"] = 1;
  j["size"] = size;
  j["model_type"] = model_type;
  j["character_coverage"] = character_coverage;
  j["input_sentence_size"] = input_sentence_size;
  j["seed"] = seed;
  j["training_files"] = files_json;
  j["model_sha256"] = model_sha256;
  return j;
}

VocabRecord VocabRecord::from_json(const nlohmann::json& j, const std::string& source) {
  VocabRecord r;
  try {
    require(j.is_object() && j.value("format", "") == "spotlight vocabulary record",
            "not a spotlight vocabulary record");
    r.size = j.at("size").get<long>();
    r.model_type = j.at("model_type").get<std::string>();
    r.character_coverage = j.at("character_coverage").get<double>();
    r.input_sentence_size = j.at("input_sentence_size").get<long>();
    r.seed = j.at("seed").get<uint32_t>();
    for (const auto& f : j.at("training_files")) {
      TrainingFile tf;
      tf.path = f.at("path").get<std::string>();
      tf.bytes = f.at("bytes").get<long>();
      tf.sha256 = f.at("sha256").get<std::string>();
      r.files.push_back(std::move(tf));
    }
    r.model_sha256 = j.at("model_sha256").get<std::string>();
  } catch (const std::exception& e) {
    throw Error(source + ": unusable vocabulary record (" + e.what() +
                "); delete it (and the vocabulary it describes, to retrain)");
  }
  return r;
}

std::string vocab_record_path(const std::string& model_path) {
  return model_path + ".json";
}

std::string find_vocab_record(const std::string& model_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(vocab_record_path(model_path), ec)) return vocab_record_path(model_path);
  const fs::path p(model_path);
  if (p.filename() == "vocab.model" && fs::exists(p.parent_path() / "vocab.json", ec))
    return (p.parent_path() / "vocab.json").string();
  return {};
}

std::optional<VocabRecord> read_vocab_record(const std::string& model_path) {
  const std::string path = find_vocab_record(model_path);
  if (path.empty()) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  require(in.good(), [&] { return "cannot read " + path + ": " + std::strerror(errno); });
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  require(!j.is_discarded(), [&] {
    return path +
           ": not JSON; a vocabulary record is written by spotlight train (delete it, "
           "and the vocabulary it describes, to retrain)";
  });
  return VocabRecord::from_json(j, path);
}

namespace {

std::string same_file_key(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) p = fs::absolute(path).lexically_normal();
  return p.string();
}

std::string joined(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) out += (out.empty() ? "" : " + ") + p;
  return out;
}

}  // namespace

bool check_vocab_record(const std::string& model_path, long pieces, const VocabOptions& o,
                        const std::vector<std::string>& input_files) {
  using nlohmann::json;
  const std::string& vp = model_path;
  const std::string record_file = find_vocab_record(vp);
  const std::optional<VocabRecord> rec = read_vocab_record(vp);
  // What to do about a disagreement; `use` is how to keep this vocabulary instead.
  const std::filesystem::path vpath(vp);
  std::string fresh = (vpath.parent_path() / (vpath.stem().string() + "_" + o.model_type +
                                              std::to_string(o.size) + vpath.extension().string()))
                          .string();
  if (fresh == vp) fresh += ".new";
  auto fix = [&](const std::string& use) {
    return ". To train a vocabulary for this config, point vocab.path at a new file (e.g. --set "
           "vocab.path=" +
           fresh + ") or delete " + vp + (rec ? " and " + record_file : std::string()) +
           " to retrain it" +
           (use.empty() ? std::string() : "; to use " + vp + " as it is, " + use);
  };
  if (!rec) {  // only the size can be checked
    require(o.model_type == "char" || pieces == o.size, [&] {
      return "vocab.size is " + std::to_string(o.size) + " but vocab.path " + vp + " holds " +
             std::to_string(pieces) + " pieces (it has no record of its training)" +
             fix("set vocab.size to " + std::to_string(pieces));
    });
    return false;
  }
  std::vector<std::string> trained_on;
  for (const auto& f : rec->files) trained_on.push_back(f.path);
  const std::string what = " (a " + rec->model_type + " vocabulary of " +
                           std::to_string(rec->size) + " pieces trained on " + joined(trained_on) +
                           ")";
  const std::string model_sha = sha256_file(vp);
  require(model_sha == rec->model_sha256, [&] {
    return "vocab.path " + vp + " is not the model its record " + record_file +
           " describes (sha256 " + rec->model_sha256.substr(0, 12) + "… recorded, " +
           model_sha.substr(0, 12) + "… now): it was replaced after training. Delete " +
           record_file + " to use " + vp + " without a record, or delete both to retrain it";
  });
  require(rec->size == o.size, [&] {
    return "vocab.size is " + std::to_string(o.size) + " but vocab.path " + vp +
           " was trained with vocab.size " + std::to_string(rec->size) + what +
           fix("set vocab.size to " + std::to_string(rec->size));
  });
  require(rec->model_type == o.model_type, [&] {
    return "vocab.model_type is " + o.model_type + " but vocab.path " + vp + " was trained as " +
           rec->model_type + what + fix("set vocab.model_type to " + rec->model_type);
  });
  require(rec->character_coverage == o.character_coverage, [&] {
    return "vocab.character_coverage is " + json(o.character_coverage).dump() + " but vocab.path " +
           vp + " was trained with " + json(rec->character_coverage).dump() + what +
           fix("set vocab.character_coverage to " + json(rec->character_coverage).dump());
  });
  require(rec->files.size() == input_files.size(), [&] {
    return "data.train is " + joined(input_files) + " but vocab.path " + vp + " was trained on " +
           joined(trained_on) + what + fix("");
  });
  for (size_t i = 0; i < input_files.size(); ++i) {
    const VocabRecord::TrainingFile& then = rec->files[i];
    long bytes = 0;
    const std::string sha = sha256_file(input_files[i], &bytes);
    if (sha == then.sha256) continue;  // the same bytes, wherever they are now
    auto digest = [](long n, const std::string& h) {
      return std::to_string(n) + " bytes, sha256 " + h.substr(0, 12) + "…";
    };
    if (same_file_key(input_files[i]) == same_file_key(then.path))
      require(false, "data.train file " + input_files[i] + " has changed since vocab.path " + vp +
                         " was trained from it (then " + digest(then.bytes, then.sha256) +
                         "; now " + digest(bytes, sha) + ")" + fix(""));
    require(false, "data.train is " + joined(input_files) + " but vocab.path " + vp +
                       " was trained on " + joined(trained_on) + " (" + input_files[i] + ": " +
                       digest(bytes, sha) + "; " + then.path + ": " +
                       digest(then.bytes, then.sha256) + ")" + fix(""));
  }
  require(o.model_type == "char" || pieces == o.size, [&] {
    return "vocab.path " + vp + " holds " + std::to_string(pieces) + " pieces, but its record " +
           record_file + " says " + std::to_string(rec->size) + fix("");
  });
  return true;
}

void set_vocabulary(ModelConfig& m, const Vocab& v) {
  m.vocab_size = v.size();
  m.pad_id = v.pad_id();
  m.unk_id = v.unk_id();
  m.bos_id = v.bos_id();
  m.eos_id = v.eos_id();
}

}  // namespace spotlight
