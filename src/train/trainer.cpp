#include "spotlight/train/trainer.h"

#include <fcntl.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "spotlight/blas.h"
#include "spotlight/check.h"
#include "spotlight/data/batcher.h"
#include "spotlight/data/corpus.h"
#include "spotlight/data/vocab.h"
#include "spotlight/decode/greedy.h"
#include "spotlight/eval/bleu.h"
#include "spotlight/parallel.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/loss.h"
#include "spotlight/train/optimizer.h"
#include "spotlight/train/schedule.h"

namespace spotlight {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::max_steps:
      return "reached train.max_steps";
    case StopReason::max_epochs:
      return "reached train.max_epochs";
    case StopReason::max_minutes:
      return "reached train.max_minutes";
    case StopReason::patience:
      return "no better validation BLEU for train.patience validations";
    case StopReason::interrupted:
      return "interrupted";
  }
  return "?";
}

namespace {

std::string duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

std::shared_ptr<spdlog::logger> make_logger(const fs::path& log_file, bool quiet) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(quiet ? spdlog::level::warn : spdlog::level::info);
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file.string());
  auto log = std::make_shared<spdlog::logger>("train", spdlog::sinks_init_list{console, file});
  log->set_pattern("[%Y-%m-%d %H:%M:%S] %v");
  log->set_level(spdlog::level::info);
  log->flush_on(spdlog::level::info);
  return log;
}

// Keeps metrics.jsonl consistent with a resumed run: lines past the resumed step are dropped.
std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot read " + path);
  return {std::istreambuf_iterator<char>(in), {}};
}

void truncate_metrics(const fs::path& path, long step) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
        j["step"].get<long>() <= step)
      kept += line + "\n";
  }
  in.close();
  fs::path tmp = path;
  tmp += ".tmp";
  std::ofstream out(tmp, std::ios::trunc);
  out << kept;
  out.flush();
  require(out.good(), [&] {
    return "failed writing " + tmp.string() + ": " + std::strerror(errno) + " (is the disk full?)";
  });
  out.close();
  fs::rename(tmp, path);
}

}  // namespace

namespace {
VocabOptions vocab_options(const Config& c) {
  VocabOptions vo;
  vo.size = c.vocab.size;
  vo.model_type = c.vocab.model_type;
  vo.character_coverage = c.vocab.character_coverage;
  vo.input_sentence_size = c.vocab.input_sentence_size;
  vo.seed = static_cast<uint32_t>(c.train.seed);
  vo.threads = static_cast<int>(c.train.threads);
  return vo;
}
}  // namespace

void ensure_vocabulary(const Config& c) {
  if (fs::exists(c.vocab.path)) return;
  Vocab::train({c.data.train[0], c.data.train[1]}, c.vocab.path, vocab_options(c));
}

std::unique_ptr<Vocab> prepare_vocabulary(Config& c, bool* recorded) {
  ensure_vocabulary(c);
  auto vocab = std::make_unique<Vocab>(c.vocab.path);
  const bool has_record = check_vocab_record(c.vocab.path, vocab->size(), vocab_options(c),
                                             {c.data.train[0], c.data.train[1]});
  if (recorded != nullptr) *recorded = has_record;
  ModelConfig& m = c.model;
  m.vocab_size = vocab->size();
  m.pad_id = vocab->pad_id();
  m.unk_id = vocab->unk_id();
  m.bos_id = vocab->bos_id();
  m.eos_id = vocab->eos_id();
  return vocab;
}

std::vector<int> target_pieces(const ParallelCorpus& corpus, const ModelConfig& m) {
  std::vector<char> seen(static_cast<size_t>(m.vocab_size), 0);
  for (long p = 0; p < corpus.size(); ++p)
    for (int id : corpus.tgt(p)) seen[static_cast<size_t>(id)] = 1;
  seen[static_cast<size_t>(m.eos_id)] = seen[static_cast<size_t>(m.unk_id)] = 1;
  seen[static_cast<size_t>(m.pad_id)] = seen[static_cast<size_t>(m.bos_id)] = 0;
  std::vector<int> ids;
  for (size_t i = 0; i < seen.size(); ++i)
    if (seen[i] != 0) ids.push_back(static_cast<int>(i));
  return ids;
}

LossStats projected_loss(Transformer& model, Transformer::Cache& cache, const Batch& b,
                         float label_smoothing, float grad_scale, Tensor* dh) {
  const Tensor& h = cache.h;  // [B·T, D]
  OutputProjection& out = model.output;
  const long n = h.rows(), d = h.cols(), v = out.size();
  // Targets as output columns (PAD → −1, ignored); the weight [V′, D] gathered once.
  cache.targets.resize(b.tgt_out.size());
  for (size_t i = 0; i < b.tgt_out.size(); ++i) cache.targets[i] = out.target(b.tgt_out[i]);
  const std::span<const int> targets(cache.targets);
  const MatView w = out.weight(cache.out_w);
  MatView dw;
  if (dh != nullptr) {
    dh->resize({n, d});
    dw = out.gradient(cache.out_dw);
  }
  LossStats st;
  for (long r0 = 0; r0 < n; r0 += kLossChunkRows) {
    const long rows = std::min(kLossChunkRows, n - r0);
    const MatView hc = h.view().block(r0, 0, rows, d);
    cache.logits.resize({rows, v});  // [rows, V′], reused chunk to chunk
    out.forward(hc, w, cache.logits.view());
    st += cross_entropy(cache.logits,
                        targets.subspan(static_cast<size_t>(r0), static_cast<size_t>(rows)), -1,
                        label_smoothing, grad_scale, dh != nullptr ? &cache.logits : nullptr);
    if (dh != nullptr)  // undo the projection of this chunk
      out.backward(hc, cache.logits.view(), w, dw, dh->view().block(r0, 0, rows, d));
  }
  if (dh != nullptr) out.add_gradient(cache.out_dw);
  return st;
}

LossStats forward_backward(Transformer& model, Transformer::Cache& cache,
                           std::span<const Batch> group, float label_smoothing, Rng& dropout_rng,
                           StepTimes* times) {
  long tokens = 0;
  for (const Batch& b : group) tokens += b.target_tokens();
  model.zero_grad();
  LossStats st;
  for (const Batch& b : group) {
    const auto t0 = Clock::now();
    model.forward_hidden(b, cache, &dropout_rng);
    const auto t1 = Clock::now();
    st += projected_loss(model, cache, b, label_smoothing, 1.0f / static_cast<float>(tokens),
                         &cache.dh);
    const auto t2 = Clock::now();
    model.backward_hidden(b, cache, cache.dh);
    if (times != nullptr) {
      times->forward += std::chrono::duration<double>(t1 - t0).count();
      times->loss += std::chrono::duration<double>(t2 - t1).count();
      times->backward += std::chrono::duration<double>(Clock::now() - t2).count();
    }
  }
  return st;
}

namespace {

// Puts the averaged weights into the model for its lifetime (nothing without train.ema_decay).
class UseAverage {
 public:
  explicit UseAverage(WeightAverage* a) : a_(a) {
    if (a_ != nullptr) a_->swap();
  }
  ~UseAverage() {
    if (a_ != nullptr) a_->swap();
  }
  UseAverage(const UseAverage&) = delete;
  UseAverage& operator=(const UseAverage&) = delete;

 private:
  WeightAverage* a_;
};

class Trainer {
 public:
  Trainer(const Config& c, const TrainOptions& o) : cfg_(c), opt_(o) {}
  ~Trainer() {
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;
  TrainSummary run();

 private:
  void setup();
  void check_settings() const;
  void train_step(const BatchPlan& plan, long first, long count);
  void validate();
  bool measure_validation();  // loss and BLEU of the model's current weights; true if the best
  void save(bool publish_best);
  void log_progress(bool force);
  void draw_bar();
  double progress() const;
  bool stop_requested(StopReason& why) const;
  double elapsed() const {
    return state_.train_seconds +
           std::chrono::duration<double>(Clock::now() - session_start_).count();
  }
  void write_metrics(const json& j) {
    metrics_ << j.dump() << "\n";
    metrics_.flush();
    require(metrics_.good(), [&] {
      return "failed writing " + (out_ / "metrics.jsonl").string() + ": " + std::strerror(errno) +
             " (is the disk full? checkpoints already saved are intact; --resume continues)";
    });
  }
  void lock_run_directory();

  Config cfg_;
  TrainOptions opt_;
  fs::path out_, ckpt_dir_;
  std::shared_ptr<spdlog::logger> log_;
  std::ofstream metrics_;
  int lock_fd_ = -1;  // flock on <output_dir>/.lock, held for the whole run
  std::unique_ptr<Vocab> vocab_;
  ParallelCorpus train_data_, valid_data_;
  std::unique_ptr<Batcher> train_batches_, valid_batches_;
  std::vector<std::vector<int>> valid_src_;
  std::vector<std::string> valid_refs_;
  std::unique_ptr<Transformer> model_;
  std::unique_ptr<Adam> adam_;
  std::unique_ptr<WeightAverage> ema_;  // train.ema_decay > 0
  LrSchedule schedule_;
  Rng data_rng_, drop_rng_;
  TrainerState state_;
  Transformer::Cache cache_;
  Clock::time_point session_start_, last_log_, last_bar_;
  bool tty_ = false;
  long plan_size_ = 0;
  // Figures since the last progress line.
  double interval_loss_ = 0.0, interval_nll_ = 0.0, last_grad_norm_ = 0.0;
  long interval_tokens_ = 0, interval_steps_ = 0;
  double last_valid_loss_ = 0.0;
  long last_saved_step_ = -1;
};

// Names of Spotlight's own temporary files: "<name>.tmp", "<name>.tmp<pid>", "<name>.tmp.<pid>".
bool is_temporary_name(const std::string& name) {
  const auto at = name.rfind(".tmp");
  if (at == std::string::npos || at == 0) return false;
  std::string rest = name.substr(at + 4);
  if (!rest.empty() && rest[0] == '.') rest.erase(0, 1);
  return std::all_of(rest.begin(), rest.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// One run per directory: a second `spotlight train` on it is refused while the first lives (the
// kernel drops the lock when a process dies, even by SIGKILL). Holding it, whatever temporary
// files are in the run are leftovers of killed writers, and are removed.
void Trainer::lock_run_directory() {
  const fs::path lock = out_ / ".lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  require(lock_fd_ >= 0, "cannot create " + lock.string() + ": " + std::strerror(errno));
  require(::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0,
          "output_dir " + out_.string() + " is in use by another `spotlight train`; wait for it " +
              "to finish, or choose another output_dir (--set output_dir=...)");
  for (const fs::path& dir : {out_, ckpt_dir_})
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (is_temporary_name(name)) fs::remove_all(e.path());
    }
}

namespace {

// Empty when `dir` is a writable directory or could be created (its nearest existing ancestor is
// a writable directory); else why not.
std::string why_not_writable(const fs::path& dir) {
  std::error_code ec;
  const fs::path target = fs::absolute(dir.empty() ? fs::path(".") : dir, ec).lexically_normal();
  fs::path probe = target;
  while (!fs::exists(probe, ec) && probe.has_relative_path()) probe = probe.parent_path();
  if (!fs::is_directory(probe, ec))
    return (probe == target ? std::string("it is")
                            : "cannot create it: " + probe.string() + " is") +
           " not a directory";
  if (::access(probe.c_str(), W_OK | X_OK) != 0)
    return (probe == target ? std::string("it is not writable")
                            : "cannot create it: " + probe.string() + " is not writable") +
           " (" + std::strerror(errno) + ")";
  return {};
}

// An Error naming the config key unless `path` is a readable regular file.
void require_readable(const char* key, const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  require(fs::exists(st), std::string(key) + ": " + path + " does not exist");
  require(fs::is_regular_file(st) || fs::is_fifo(st) || fs::is_character_file(st),
          std::string(key) + ": " + path + " is not a file" +
              (fs::is_directory(st) ? " (it is a directory)" : ""));
  std::ifstream probe(path);
  require(probe.good(), [&] {
    return std::string(key) + ": cannot read " + path + " (" + std::strerror(errno) + ")";
  });
}

// Both files of a pair have the same number of lines (and are valid UTF-8, LineReader's checks).
void require_parallel(const std::array<std::string, 2>& pair) {
  LineReader src(pair[0]), tgt(pair[1]);
  std::string line;
  while (src.next(line)) {
  }
  while (tgt.next(line)) {
  }
  require(src.lines_read() == tgt.lines_read(),
          pair[0] + " has " + std::to_string(src.lines_read()) + " lines but " + pair[1] + " has " +
              std::to_string(tgt.lines_read()) +
              ": line N of one must translate line N of the other");
}

}  // namespace

// Settings training needs beyond Config::validate's ranges.
void Trainer::check_settings() const {
  cfg_.validate();
  const TrainConfig& t = cfg_.train;
  require(t.max_tokens > 0 && t.update_freq > 0 && t.log_interval > 0 && t.valid_interval > 0,
          "train.max_tokens, train.update_freq, train.log_interval and train.valid_interval "
          "must be positive");
  require(t.max_steps > 0 || t.max_epochs > 0 || t.max_minutes > 0,
          "no stopping condition: set train.max_steps, train.max_epochs or train.max_minutes");
  require(t.ema_decay >= 0.0 && t.ema_decay < 1.0,
          "train.ema_decay: expected a value in [0, 1) (0: off; e.g. 0.999)");
  require(t.lr_schedule == "inverse_sqrt" || t.lr_schedule == "cosine",
          "train.lr_schedule: expected \"inverse_sqrt\" or \"cosine\", got \"" + t.lr_schedule +
              "\"");
  require(t.lr_schedule != "cosine" || t.max_steps > t.warmup,
          "train.lr_schedule: cosine decays to zero at train.max_steps, which must exceed "
          "train.warmup");
  require(t.bleu_tokenize == "13a" || t.bleu_tokenize == "none",
          "train.bleu_tokenize: expected \"13a\" or \"none\"");
  require(!cfg_.vocab.path.empty(), "vocab.path: empty; name the SentencePiece model file");
  require(cfg_.data.max_len + 1 <= cfg_.model.max_positions,
          "data.max_len (" + std::to_string(cfg_.data.max_len) +
              ") + 1 exceeds model.max_positions (" + std::to_string(cfg_.model.max_positions) +
              "): raise model.max_positions or lower data.max_len");
}

void Trainer::setup() {
  check_settings();
  out_ = cfg_.output_dir;
  ckpt_dir_ = out_ / "checkpoints";
  // Checked before anything is created, read at length or trained.
  const std::string out_problem = why_not_writable(ckpt_dir_);
  require(out_problem.empty(),
          "output_dir: cannot write the run directory " + out_.string() + ": " + out_problem);
  const bool have_last = fs::exists(ckpt_dir_ / "last");
  require(opt_.resume || !have_last,
          "output_dir " + out_.string() +
              " already holds a run (checkpoints/last); continue it with --resume, or choose "
              "another output_dir (--set output_dir=...)");
  // A resumed run continues with the config it was started with; only the keys that may change
  // mid-run are taken from the config given now (resume_config refuses any other difference).
  std::vector<std::string> resume_changes;
  if (opt_.resume && have_last) {
    const std::string last = (ckpt_dir_ / "last").string();
    cfg_ = resume_config(checkpoint_config(last), cfg_, last + "/config.json", resume_changes);
  }
  check_settings();  // again: the run's config with the changes taken
  const TrainConfig& t = cfg_.train;
  for (const std::string& f : cfg_.data.train) require_readable("data.train", f);
  for (const std::string& f : cfg_.data.valid) require_readable("data.valid", f);
  if (fs::exists(cfg_.vocab.path)) {
    require(!fs::is_directory(cfg_.vocab.path),
            "vocab.path: " + cfg_.vocab.path + " is a directory, not a SentencePiece model file");
  } else {
    const fs::path dir = fs::path(cfg_.vocab.path).parent_path();
    const std::string problem = why_not_writable(dir);
    require(problem.empty(), "vocab.path: " + cfg_.vocab.path +
                                 " does not exist and cannot be trained there: " +
                                 (dir.empty() ? std::string(".") : dir.string()) + ": " + problem);
  }

  fs::create_directories(ckpt_dir_);
  lock_run_directory();
  log_ = make_logger(out_ / "train.log", opt_.quiet);
  tty_ = !opt_.quiet && ::isatty(STDERR_FILENO);
  set_threads(static_cast<int>(t.threads));
  for (const std::string& change : resume_changes) log_->info("--resume: {}", change);
  for (const std::string& change : resume_changes) {
    if (change.rfind("train.max_steps:", 0) == 0 &&
        (t.lr_schedule == "cosine" || t.lr_cooldown > 0))
      log_->warn(
          "--resume: the learning-rate schedule ({}) depends on train.max_steps: from here on it "
          "follows the new value",
          t.lr_cooldown > 0 ? "train.lr_cooldown" : "cosine");
    if (change.rfind("train.threads:", 0) == 0)
      log_->warn(
          "--resume: another thread count sums in another order: the run continues, but not "
          "bit for bit as with the run's train.threads");
  }

  // The corpora are checked (line counts, UTF-8) before anything is built from them.
  require_parallel(cfg_.data.train);
  require_parallel(cfg_.data.valid);
  // Vocabulary.
  if (!fs::exists(cfg_.vocab.path))
    log_->info(
        "training a {} SentencePiece vocabulary of {} pieces on {} + {} → {} (its record: {})",
        cfg_.vocab.model_type, cfg_.vocab.size, cfg_.data.train[0], cfg_.data.train[1],
        cfg_.vocab.path, vocab_record_path(cfg_.vocab.path));
  bool recorded = false;
  vocab_ = prepare_vocabulary(cfg_, &recorded);
  if (!recorded)
    log_->warn(
        "vocab.path {} has no record of what it was trained from ({}; made by an older Spotlight "
        "or by hand): its size matches vocab.size, but its model type, coverage and training data "
        "cannot be checked; training goes on",
        cfg_.vocab.path, vocab_record_path(cfg_.vocab.path));
  const ModelConfig& m = cfg_.model;

  // Corpora, encoded once and cached in the run directory.
  const auto t0 = Clock::now();
  train_data_ = load_parallel(cfg_.data.train[0], cfg_.data.train[1], *vocab_, cfg_.data.max_len,
                              (out_ / "train.ids.cache").string(), static_cast<int>(t.threads));
  log_->info(
      "train: {} pairs from {} lines ({}; {} empty and {} longer than data.max_len = {} "
      "skipped) in {:.1f} s",
      train_data_.size(), train_data_.lines_read, train_data_.from_cache ? "cached ids" : "encoded",
      train_data_.skipped_empty, train_data_.skipped_long, cfg_.data.max_len,
      std::chrono::duration<double>(Clock::now() - t0).count());
  require(train_data_.size() > 0, "no training pairs left in " + cfg_.data.train[0] + " / " +
                                      cfg_.data.train[1] + " after filtering");
  const long valid_max = m.max_positions - 1;
  valid_data_ = load_parallel(cfg_.data.valid[0], cfg_.data.valid[1], *vocab_, valid_max,
                              (out_ / "valid.ids.cache").string(), static_cast<int>(t.threads));
  require(valid_data_.size() > 0, "no validation pairs in " + cfg_.data.valid[0]);
  for (const auto& line : read_lines(cfg_.data.valid[0])) {
    auto ids = vocab_->encode(line);
    if (static_cast<long>(ids.size()) > valid_max) ids.resize(static_cast<size_t>(valid_max));
    valid_src_.push_back(std::move(ids));
  }
  valid_refs_ = read_lines(cfg_.data.valid[1]);
  log_->info("valid: {} pairs for the loss, {} sentences for BLEU", valid_data_.size(),
             valid_src_.size());
  BatcherOptions bo;
  bo.max_tokens = t.max_tokens;
  bo.pad_id = m.pad_id;
  bo.bos_id = m.bos_id;
  bo.eos_id = m.eos_id;
  train_batches_ = std::make_unique<Batcher>(train_data_, bo);
  bo.shuffle = false;
  valid_batches_ = std::make_unique<Batcher>(valid_data_, bo);

  // Model, optimizer, randomness.
  model_ = std::make_unique<Transformer>(m);
  Rng init(static_cast<uint64_t>(t.seed));
  model_->init(init);
  if (m.output_vocab == OutputVocab::target) model_->set_output_ids(target_pieces(train_data_, m));
  adam_ = std::make_unique<Adam>(
      model_->params(), AdamConfig{t.adam_beta1, t.adam_beta2, t.adam_eps, t.weight_decay});
  if (t.ema_decay > 0.0) ema_ = std::make_unique<WeightAverage>(model_->params(), t.ema_decay);
  schedule_ = LrSchedule::from_config(t);
  data_rng_.reseed(static_cast<uint64_t>(t.seed) * 2 + 1);
  drop_rng_.reseed(static_cast<uint64_t>(t.seed) * 2 + 2);
  state_.epoch_rng = data_rng_.state();
  state_.rng = drop_rng_.state();

  if (opt_.resume && have_last) {
    const std::string last = (ckpt_dir_ / "last").string();
    // The vocabulary must be the one the checkpoint was trained with (same ids, same meaning).
    require(fnv1a(read_file_bytes((ckpt_dir_ / "last" / "vocab.model").string())) ==
                vocab_->fingerprint(),
            "--resume: " + cfg_.vocab.path + " is not the vocabulary " + last +
                " was trained with; point vocab.path at " + last + "/vocab.model");
    load_checkpoint_weights(last, *model_);  // the averaged weights, with train.ema_decay
    load_training_state(last, *model_, *adam_, state_, ema_ ? &ema_->weights() : nullptr);
    if (ema_) ema_->swap();  // the live weights into the model, the average aside
    drop_rng_.set_state(state_.rng);
    last_saved_step_ = state_.step;
    log_->info("resumed from {} at step {}, epoch {} (batch {} of the epoch)", last, state_.step,
               state_.epoch, state_.epoch_position);
  } else if (opt_.resume) {
    log_->info("--resume: no checkpoint in {} yet, starting a new run", ckpt_dir_.string());
  }
  truncate_metrics(out_ / "metrics.jsonl", state_.step);
  metrics_.open(out_ / "metrics.jsonl", std::ios::app);
  require(metrics_.good(), "cannot write " + (out_ / "metrics.jsonl").string());
  log_->info(
      "model: {} parameters ({}-{} layers, d_model {}, {} heads, ffn {}, {}-norm), "
      "vocabulary {}{}, {} compute threads",
      model_->num_parameters(), m.encoder_layers, m.decoder_layers, m.d_model, m.heads, m.ffn,
      m.norm == Norm::pre ? "pre" : "post", m.vocab_size,
      m.output_vocab == OutputVocab::target
          ? fmt::format(" (the output scores the {} pieces of the target side)",
                        model_->output_size())
          : std::string(), t.threads);
}

void Trainer::train_step(const BatchPlan& plan, long first, long count) {
  const TrainConfig& t = cfg_.train;
  // Batches of one update, built first: the loss is the mean over all their target tokens.
  std::vector<Batch> group;
  for (long k = first; k < first + count; ++k)
    group.push_back(train_batches_->make(plan[static_cast<size_t>(k)]));
  const LossStats st =
      forward_backward(*model_, cache_, group, static_cast<float>(t.label_smoothing), drop_rng_);
  const double loss = st.loss / static_cast<double>(st.tokens);
  require(std::isfinite(loss),
          "the training loss became " + std::to_string(loss) + " at step " +
              std::to_string(state_.step + 1) + "; training stopped. The last good checkpoint is " +
              (last_saved_step_ >= 0 ? (ckpt_dir_ / "last").string() : std::string("(none yet)")) +
              " (it translates; --resume keeps train.lr and train.warmup, so lower the rate or "
              "lengthen the warm-up in a new run, in another output_dir)");
  last_grad_norm_ = clip_grad_norm(model_->params(), t.clip_norm);
  require(std::isfinite(last_grad_norm_),
          "the gradient norm became non-finite at step " + std::to_string(state_.step + 1) +
              "; training stopped, the last good checkpoint is kept");
  adam_->step(schedule_.lr(state_.step + 1));
  ++state_.step;
  if (ema_) ema_->update(state_.step);
  interval_loss_ += st.loss;
  interval_nll_ += st.nll;
  interval_tokens_ += st.tokens;
  ++interval_steps_;
}

bool Trainer::measure_validation() {
  const auto t0 = Clock::now();
  LossStats st;
  for (const Batch& b : valid_batches_->epoch()) {
    model_->forward_hidden(b, cache_, nullptr);
    st += projected_loss(*model_, cache_, b, static_cast<float>(cfg_.train.label_smoothing), 0.0f,
                         nullptr);
  }
  DecodeConfig d = cfg_.decode;
  const auto hyps = greedy_translate(*model_, valid_src_, d);
  std::vector<std::string> text;
  for (const auto& h : hyps) text.push_back(vocab_->decode(h.tokens));
  const BleuResult bleu = corpus_bleu(text, valid_refs_, BleuOptions{cfg_.train.bleu_tokenize});
  last_valid_loss_ = st.loss / static_cast<double>(st.tokens);
  require(std::isfinite(last_valid_loss_),
          "the validation loss became " + std::to_string(last_valid_loss_) + " at step " +
              std::to_string(state_.step) +
              "; training stopped without saving these weights. The "
              "last good checkpoint is " +
              (last_saved_step_ >= 0 ? (ckpt_dir_ / "last").string() : std::string("(none yet)")) +
              " (it translates; --resume keeps train.lr and train.warmup, so lower the rate or "
              "lengthen the warm-up in a new run, in another output_dir)");
  const double nll = st.nll / static_cast<double>(st.tokens);
  const bool better = bleu.score > state_.best_bleu;
  if (better) {
    state_.best_bleu = bleu.score;
    state_.best_step = state_.step;
    state_.bad_validations = 0;
  } else {
    ++state_.bad_validations;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (tty_) std::fputs("\r\033[K", stderr);
  log_->info(
      "valid | step {} | epoch {} | loss {:.4f} | nll {:.4f} | ppl {:.2f} | BLEU {:.2f} "
      "(greedy, tok {}){} | {:.1f} s",
      state_.step, state_.epoch, last_valid_loss_, nll, std::exp(nll), bleu.score,
      cfg_.train.bleu_tokenize, better ? " | best so far" : "", secs);
  write_metrics({{"type", "valid"},
                 {"step", state_.step},
                 {"epoch", state_.epoch},
                 {"loss", last_valid_loss_},
                 {"nll", nll},
                 {"ppl", std::exp(nll)},
                 {"bleu", bleu.score},
                 {"best_bleu", state_.best_bleu},
                 {"elapsed_s", elapsed()},
                 {"valid_s", secs},
                 {"peak_rss_mb", peak_rss_mb()}});
  return better;
}

void Trainer::validate() {
  bool better = false;
  {
    const UseAverage use(ema_.get());  // validation judges the averaged weights
    better = measure_validation();
  }
  save(better);
}

void Trainer::save(bool publish_best) {
  state_.rng = drop_rng_.state();
  // At the very end of an epoch, the saved position is the start of the next one (its plan is
  // drawn from the data Rng's current state), so a resumed run does not end the epoch twice.
  TrainerState saved = state_;
  if (plan_size_ > 0 && saved.epoch_position >= plan_size_) {
    ++saved.epoch;
    saved.epoch_position = 0;
    saved.epoch_rng = data_rng_.state();
  }
  state_.train_seconds = elapsed();
  session_start_ = Clock::now();  // train_seconds now holds everything up to here
  const std::string name = "step_" + std::to_string(state_.step);
  const fs::path dir = ckpt_dir_ / name;
  saved.train_seconds = state_.train_seconds;
  const UseAverage use(ema_.get());  // model.safetensors: the average; the live weights aside
  save_checkpoint(dir.string(), cfg_, *model_, vocab_->path(), adam_.get(), &saved,
                  ema_ ? &ema_->weights() : nullptr);
  publish_checkpoint(dir.string(), (ckpt_dir_ / "last").string());
  if (publish_best) publish_checkpoint(dir.string(), (ckpt_dir_ / "best").string());
  prune_checkpoints(ckpt_dir_.string(), cfg_.train.keep_last);
  last_saved_step_ = state_.step;
}

double Trainer::progress() const {
  const TrainConfig& t = cfg_.train;
  double f = 0.0;
  if (t.max_steps > 0) f = std::max(f, static_cast<double>(state_.step) / t.max_steps);
  if (t.max_minutes > 0) f = std::max(f, elapsed() / (60.0 * t.max_minutes));
  if (t.max_epochs > 0 && plan_size_ > 0)
    f = std::max(f, (static_cast<double>(state_.epoch - 1) +
                     static_cast<double>(state_.epoch_position) / plan_size_) /
                        t.max_epochs);
  return std::min(f, 1.0);
}

void Trainer::log_progress(bool force) {
  if (!force && interval_steps_ < cfg_.train.log_interval) return;
  if (interval_steps_ == 0) return;
  const auto now = Clock::now();
  const double secs = std::chrono::duration<double>(now - last_log_).count();
  const double loss = interval_loss_ / static_cast<double>(interval_tokens_);
  const double tok_s = static_cast<double>(interval_tokens_) / std::max(secs, 1e-9);
  const double f = progress(), el = elapsed();
  const double eta = f > 0 ? el * (1.0 - f) / f : 0.0;
  const double lr = schedule_.lr(state_.step);
  if (tty_) std::fputs("\r\033[K", stderr);
  log_->info(
      "train | step {} | epoch {} | loss {:.4f} | lr {:.3g} | gnorm {:.2f} | {:.0f} tgt "
      "tok/s | elapsed {} | ETA {}",
      state_.step, state_.epoch, loss, lr, last_grad_norm_, tok_s, duration(el), duration(eta));
  write_metrics({{"type", "train"},
                 {"step", state_.step},
                 {"epoch", state_.epoch},
                 {"loss", loss},
                 {"nll", interval_nll_ / static_cast<double>(interval_tokens_)},
                 {"lr", lr},
                 {"grad_norm", last_grad_norm_},
                 {"tgt_tokens_per_s", tok_s},
                 {"elapsed_s", el},
                 {"eta_s", eta}});
  interval_loss_ = interval_nll_ = 0.0;
  interval_tokens_ = interval_steps_ = 0;
  last_log_ = now;
}

}  // namespace

int terminal_columns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

std::string progress_bar_text(int width, double fraction, long step, long epoch,
                              const std::string& elapsed, const std::string& eta) {
  const size_t room = static_cast<size_t>(std::max(width, 1) - 1);  // the last column stays free
  fraction = std::clamp(fraction, 0.0, 1.0);
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3.0f%%", 100 * fraction);
  const std::string step_s = "step " + std::to_string(step),
                    epoch_s = "epoch " + std::to_string(epoch);
  // Fields from the most to the least complete line; the least useful go first.
  const std::vector<std::string> lines = {
      std::string(pct) + " " + step_s + " " + epoch_s + " | elapsed " + elapsed + " | ETA " + eta,
      std::string(pct) + " " + step_s + " " + epoch_s + " | ETA " + eta,
      std::string(pct) + " " + step_s + " | ETA " + eta, std::string(pct) + " | ETA " + eta,
      std::string(pct)};
  constexpr size_t kBarMax = 30, kBarMin = 10;
  for (size_t k = 0; k + 1 < lines.size(); ++k) {  // with a bar of 10..30 columns
    const std::string& text = lines[k];
    if (text.size() + kBarMin + 3 > room) continue;
    const size_t bar = std::min(kBarMax, room - text.size() - 3);
    const auto filled = static_cast<size_t>(fraction * static_cast<double>(bar));
    return "[" + std::string(filled, '=') + std::string(bar - filled, ' ') + "] " + text;
  }
  for (const std::string& text : lines)  // without a bar
    if (text.size() <= room) return text;
  return std::string(pct).substr(0, room);
}

namespace {

void Trainer::draw_bar() {
  if (!tty_) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_bar_).count() < 0.25) return;
  last_bar_ = now;
  const double f = progress(), el = elapsed();
  const int cols = terminal_columns();  // asked each time: the terminal may be resized
  const std::string line =
      progress_bar_text(cols > 0 ? cols : 80, f, state_.step, state_.epoch, duration(el),
                        f > 0 ? duration(el * (1 - f) / f) : "?");
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

bool Trainer::stop_requested(StopReason& why) const {
  const TrainConfig& t = cfg_.train;
  if (opt_.stop != nullptr && opt_.stop->load()) return why = StopReason::interrupted, true;
  if (t.max_steps > 0 && state_.step >= t.max_steps) return why = StopReason::max_steps, true;
  if (t.max_minutes > 0 && elapsed() >= 60.0 * t.max_minutes)
    return why = StopReason::max_minutes, true;
  if (t.patience > 0 && state_.bad_validations >= t.patience)
    return why = StopReason::patience, true;
  return false;
}

TrainSummary Trainer::run() {
  setup();
  session_start_ = last_log_ = last_bar_ = Clock::now();
  const TrainConfig& t = cfg_.train;
  StopReason why = StopReason::max_epochs;
  bool stopped = stop_requested(why);
  while (!stopped && (t.max_epochs <= 0 || state_.epoch <= t.max_epochs)) {
    // The epoch's plan from the data Rng's state at the epoch start (saved for resuming).
    data_rng_.set_state(state_.epoch_rng);
    const BatchPlan plan = train_batches_->plan(data_rng_);
    plan_size_ = static_cast<long>(plan.size());
    const auto epoch_start = Clock::now();
    while (state_.epoch_position < plan_size_) {
      const long n = std::min(t.update_freq, plan_size_ - state_.epoch_position);
      train_step(plan, state_.epoch_position, n);
      state_.epoch_position += n;
      log_progress(false);
      if (state_.step % t.valid_interval == 0) validate();
      if ((stopped = stop_requested(why))) break;
      draw_bar();
    }
    if (stopped) break;
    const double secs = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    if (tty_) std::fputs("\r\033[K", stderr);  // the progress bar gives way to the log line
    log_->info("epoch {} done: {} batches in {} ({:.1f} s)", state_.epoch, plan_size_,
               duration(secs), secs);
    write_metrics({{"type", "epoch"},
                   {"step", state_.step},
                   {"epoch", state_.epoch},
                   {"seconds", secs},
                   {"batches", plan_size_}});
    ++state_.epoch;
    state_.epoch_position = 0;
    state_.epoch_rng = data_rng_.state();
    stopped = stop_requested(why);
  }
  if (!stopped) why = StopReason::max_epochs;
  log_progress(true);
  if (why == StopReason::interrupted) {
    if (last_saved_step_ != state_.step && state_.step > 0) save(false);
  } else if (last_saved_step_ != state_.step) {
    validate();  // the final model is validated and checkpointed
  }
  if (tty_) std::fputs("\r\033[K", stderr);
  TrainSummary s;
  s.reason = why;
  s.steps = state_.step;
  s.epochs = state_.epoch;
  s.best_bleu = state_.best_bleu;
  s.last_valid_loss = last_valid_loss_;
  s.train_seconds = elapsed();
  s.peak_rss_mb = peak_rss_mb();
  log_->info(
      "stopped: {} at step {} after {} of training; best validation BLEU {:.2f} (step {}); "
      "checkpoints in {}; peak memory {:.0f} MB",
      to_string(why), s.steps, duration(s.train_seconds), state_.best_bleu, state_.best_step,
      ckpt_dir_.string(), s.peak_rss_mb);
  return s;
}

}  // namespace

TrainSummary train(const Config& config, const TrainOptions& options) {
  Trainer t(config, options);
  return t.run();
}

}  // namespace spotlight
