// trainer.cpp — the Trainer behind train(): set-up (checks before work, the run directory,
// vocabulary, corpora, model, resume), the update loop, validation, checkpoints, progress and
// stopping. Over 450 lines because these are one object's methods around one shared state (the
// step, the Rngs, the interval figures, the best score); the jobs that stand alone are in their
// own files: the loss step (loss_step.h), set-up shared with bench (setup.h), the run directory
// (run_dir.h), the progress line (progress.h) and the checks of the config (config.h).
#include "spotlight/train/trainer.h"

#include <fmt/ranges.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
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
#include "spotlight/decode/search.h"
#include "spotlight/eval/bleu.h"
#include "spotlight/parallel.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/distributed.h"
#include "spotlight/train/gradient_sync.h"
#include "spotlight/train/loss.h"
#include "spotlight/train/loss_step.h"
#include "spotlight/train/optimizer.h"
#include "spotlight/train/progress.h"
#include "spotlight/train/run_dir.h"
#include "spotlight/train/schedule.h"
#include "spotlight/train/setup.h"

namespace spotlight {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

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

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot read " + path);
  return {std::istreambuf_iterator<char>(in), {}};
}

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

// Updates between two comparisons of the ranks' weights in a distributed run (and at every
// checkpoint).
constexpr long kWeightCheckInterval = 100;

class Trainer {
 public:
  Trainer(const Config& c, const TrainOptions& o) : cfg_(c), opt_(o) {}
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;
  TrainSummary run();

 private:
  void setup();
  void train_step(const EpochPlan& plan, long first, long count);
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
    if (run_) run_->write_metrics(j);
  }
  void check_same_weights(const char* when);
  void share_start_state();

  Config cfg_;
  TrainOptions opt_;
  Communicator& comm_ = Communicator::world();
  std::unique_ptr<GradientSync> sync_;  // distributed runs
  bool stop_signal_ = false, stop_time_ = false;  // agreed by all ranks after each update
  // The validation sources this rank translates: sentences r, r + size, … (all with one rank).
  std::vector<std::vector<int>> my_valid_src_;
  fs::path out_, ckpt_dir_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<RunDirectory> run_;  // locked for the whole run
  std::unique_ptr<Vocab> vocab_;
  TrainingData train_data_;
  std::unique_ptr<CorpusStore> valid_store_;
  std::unique_ptr<PairMix> valid_data_;
  std::unique_ptr<Batcher> train_batches_, valid_batches_;
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

namespace {

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

void Trainer::setup() {
  cfg_.validate_for_training();
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
  cfg_.validate_for_training();  // again: the run's config with the changes taken
  const TrainConfig& t = cfg_.train;
  for (const std::string& f : cfg_.data.train_files()) require_readable("data.train", f);
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

  if (comm_.root()) {
    run_ = std::make_unique<RunDirectory>(out_);
    log_ = run_->logger(opt_.quiet);
  } else {  // rank 0 alone logs and writes; the others report only errors (main)
    log_ = std::make_shared<spdlog::logger>("rank", std::make_shared<spdlog::sinks::null_sink_mt>());
  }
  tty_ = comm_.root() && !opt_.quiet && ::isatty(STDERR_FILENO);
  if (comm_.distributed())
    log_->info("distributed: {} ranks ({}), {} compute threads each", comm_.size(),
               Communicator::library(), t.threads);
  // Rank 0 prepares the vocabulary and the stores; the others then open them.
  if (!comm_.root()) comm_.barrier("waiting for rank 0 to prepare the data", 0.0);
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

  {
    const std::string store_dir = cfg_.data.store_dir(cfg_.output_dir);
    const std::string problem = why_not_writable(store_dir);
    require(problem.empty(), "data.store: " + store_dir + ": " + problem);
  }
  // The corpora are checked (line counts, UTF-8) before a vocabulary is trained from them;
  // with a vocabulary, encoding them into their stores checks them before anything else.
  if (!fs::exists(cfg_.vocab.path))
    for (const TrainCorpus& c : cfg_.data.train) require_parallel({c.src, c.tgt});
  require_parallel(cfg_.data.valid);
  // Vocabulary.
  if (!fs::exists(cfg_.vocab.path))
    log_->info(
        "training a {} SentencePiece vocabulary of {} pieces on {} (at most {} sampled lines) → "
        "{} (its record: {})",
        cfg_.vocab.model_type, cfg_.vocab.size, fmt::join(cfg_.data.train_files(), " + "),
        cfg_.vocab.input_sentence_size, cfg_.vocab.path, vocab_record_path(cfg_.vocab.path));
  bool recorded = false;
  vocab_ = prepare_vocabulary(cfg_, &recorded);
  if (!recorded)
    log_->warn(
        "vocab.path {} has no record of what it was trained from ({}; made by an older Spotlight "
        "or by hand): its size matches vocab.size, but its model type, coverage and training data "
        "cannot be checked; training goes on",
        cfg_.vocab.path, vocab_record_path(cfg_.vocab.path));
  const ModelConfig& m = cfg_.model;

  // Corpora, encoded once into their stores (data.store) and read from there.
  const auto t0 = Clock::now();
  auto last_note = Clock::now();
  const EncodeProgress progress = [&](long lines, long done, long total) {
    if (Clock::now() - last_note < std::chrono::seconds(10)) return;
    last_note = Clock::now();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    log_->info("encoding: {} lines ({:.0f}% of the source file) in {:.0f} s, {:.0f} lines/s", lines,
               100.0 * static_cast<double>(done) / static_cast<double>(std::max(total, 1L)), secs,
               static_cast<double>(lines) / std::max(secs, 1e-9));
  };
  const auto note = [&](const std::string& s) { log_->info("{}", s); };
  train_data_ = open_training_data(cfg_, *vocab_, static_cast<int>(t.threads), note, progress);
  const PairMix& mix = *train_data_.mix;
  for (int k = 0; k < mix.corpora(); ++k) {
    const PairMix::Counts& n = mix.counts(k);
    log_->info(
        "train: {} pairs from {} lines of {} ({}; {} empty and {} longer than data.max_len = {} "
        "skipped), weight {}",
        n.kept, n.lines, cfg_.data.train[static_cast<size_t>(k)].src, mix.store(k).path(), n.empty,
        n.too_long, cfg_.data.max_len, mix.weight(k));
  }
  log_->info("train: {} pairs drawn per epoch, data ready in {:.1f} s", mix.epoch_size(),
             std::chrono::duration<double>(Clock::now() - t0).count());
  require(mix.epoch_size() > 0, [&] {
    return "no training pairs left in " + fmt::format("{}", fmt::join(cfg_.data.train_files(), " + ")) +
           " after filtering (empty pairs and pairs longer than data.max_len = " +
           std::to_string(cfg_.data.max_len) + " are skipped)";
  });
  const long valid_max = max_source_pieces(m);
  valid_store_ = std::make_unique<CorpusStore>(open_store(cfg_.data.store_dir(cfg_.output_dir),
                                                          cfg_.data.valid[0], cfg_.data.valid[1],
                                                          *vocab_, static_cast<int>(t.threads), note));
  valid_data_ = std::make_unique<PairMix>(std::vector<MixCorpus>{{valid_store_.get(), 1.0}}, valid_max);
  require(valid_data_->kept() > 0, "no validation pairs in " + cfg_.data.valid[0]);
  {  // this rank's share of the BLEU sentences: r, r + size, …
    const std::vector<std::string> lines = read_lines(cfg_.data.valid[0]);
    for (size_t i = static_cast<size_t>(comm_.rank()); i < lines.size();
         i += static_cast<size_t>(comm_.size())) {
      auto ids = vocab_->encode(lines[i]);
      if (static_cast<long>(ids.size()) > valid_max) ids.resize(static_cast<size_t>(valid_max));
      my_valid_src_.push_back(std::move(ids));
    }
  }
  valid_refs_ = read_lines(cfg_.data.valid[1]);
  log_->info("valid: {} pairs for the loss, {} sentences for BLEU", valid_data_->kept(),
             valid_refs_.size());
  if (comm_.root()) comm_.barrier("waiting for rank 0 to prepare the data", 0.0);
  BatcherOptions bo = batcher_options(cfg_);
  train_batches_ = std::make_unique<Batcher>(mix, bo);
  bo.shuffle = false;
  valid_batches_ = std::make_unique<Batcher>(*valid_data_, bo);

  // Model, optimizer, randomness.
  model_ = new_model(cfg_, mix);
  adam_ = std::make_unique<Adam>(model_->params(), adam_config(t));
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
    load_training_state(last, *model_, {*adam_, state_, ema_ ? &ema_->weights() : nullptr});
    if (ema_) ema_->swap();  // the live weights into the model, the average aside
    drop_rng_.set_state(state_.rng);
    last_saved_step_ = state_.step;
    log_->info("resumed from {} at step {}, epoch {} (batch {} of the epoch)", last, state_.step,
               state_.epoch, state_.epoch_position);
  } else if (opt_.resume) {
    log_->info("--resume: no checkpoint in {} yet, starting a new run", ckpt_dir_.string());
  }
  if (state_.batches_per_update == 0)
    state_.batches_per_update =
        t.update_freq * (opt_.resume && have_last ? 1L : static_cast<long>(comm_.size()));
  if (comm_.distributed() || state_.batches_per_update != t.update_freq)
    log_->info("{} batches per update, over {} rank{}", state_.batches_per_update, comm_.size(),
               comm_.size() > 1 ? "s" : "");
  if (comm_.distributed()) sync_ = std::make_unique<GradientSync>(comm_, *model_);
  share_start_state();
  if (run_) run_->open_metrics(state_.step);
  log_->info(
      "model: {} parameters ({}-{} layers, d_model {}, {} heads, ffn {}, {}-norm), "
      "vocabulary {}{}, {} compute threads",
      model_->num_parameters(), m.encoder_layers, m.decoder_layers, m.d_model, m.heads, m.ffn,
      m.norm == Norm::pre ? "pre" : "post", m.vocab_size,
      m.output_vocab == OutputVocab::target
          ? fmt::format(" (the output scores the {} pieces of the target side)",
                        model_->output_size())
          : std::string(), t.threads);
  log_->info("GEMM: {}", blas_description());
}

// Every rank starts from rank 0's weights, optimizer moments and averaged weights.
void Trainer::share_start_state() {
  if (!comm_.distributed()) return;
  const auto all = [&](std::vector<Tensor>& ts, const char* what) {
    for (Tensor& x : ts)
      comm_.broadcast(std::span<float>(x.data(), static_cast<size_t>(x.size())), what);
  };
  for (Param* p : model_->params())
    comm_.broadcast(std::span<float>(p->value.data(), static_cast<size_t>(p->value.size())),
                    "the start weights");
  all(adam_->first_moments(), "the optimizer state");
  all(adam_->second_moments(), "the optimizer state");
  if (ema_) all(ema_->weights(), "the averaged weights");
  check_same_weights("at the start");
}

// Every rank's weights must be the same bits: a digest of them compared across ranks.
void Trainer::check_same_weights(const char* when) {
  if (!comm_.distributed()) return;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const Param* p : model_->params())
    h = digest(std::span<const float>(p->value.data(), static_cast<size_t>(p->value.size())), h);
  const std::vector<uint64_t> all = comm_.all_gather(h, "the weight consistency check");
  std::string differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  require(differ.empty(), [&] {
    return "the weights of rank " + differ + " differ from rank 0's " + when + " (step " +
           std::to_string(state_.step) +
           "): the ranks diverged (another OpenBLAS kernel, thread count or build on that "
           "host?); training stopped. The last checkpoint is " +
           (last_saved_step_ >= 0 ? (ckpt_dir_ / "last").string() : std::string("(none yet)"));
  });
}

void Trainer::train_step(const EpochPlan& plan, long first, long count) {
  const TrainConfig& t = cfg_.train;
  // This rank's batches of the update (round-robin over the update's batches of the plan),
  // built first: the loss is the mean over all the update's target tokens, on every rank.
  std::vector<Batch> group;
  std::vector<long> index;
  double totals[3] = {0, 0, 0};  // target tokens; stop votes: a signal, train.max_minutes
  for (long k = comm_.rank(); k < count; k += comm_.size()) {
    group.push_back(train_batches_->make(plan.batch(first + k)));
    index.push_back(k);
    totals[0] += static_cast<double>(group.back().target_tokens());
  }
  totals[1] = opt_.stop != nullptr && opt_.stop->load() ? 1 : 0;
  totals[2] = t.max_minutes > 0 && elapsed() >= 60.0 * t.max_minutes ? 1 : 0;
  comm_.sum(std::span<double>(totals, 3), "the update's token count");
  stop_signal_ = totals[1] > 0;
  stop_time_ = totals[2] > 0;
  const long tokens = static_cast<long>(totals[0]);
  Transformer::GradientsReady ready;
  if (sync_) {
    sync_->begin(cache_, group.size() > 1);
    ready = [this](long a, long b) { sync_->ready(a, b); };
  }
  const UpdateGradient g = update_gradient(*model_, cache_, group, index, tokens,
                                           static_cast<float>(t.label_smoothing), drop_rng_, ready);
  drop_rng_.next();  // the same on every rank, whatever batches it computed
  LossStats st = g.stats;
  if (sync_) {
    sync_->finish();
    double s[2] = {st.loss, st.nll};
    comm_.sum(std::span<double>(s, 2), "the update's loss");
    st.loss = s[0];
    st.nll = s[1];
    st.tokens = tokens;
  } else if (g.earlier) {
    add_earlier(*model_, cache_);
  }
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
  if (sync_ && state_.step % kWeightCheckInterval == 0) check_same_weights("in the periodic check");
}

bool Trainer::measure_validation() {
  const auto t0 = Clock::now();
  // Split across the ranks: batches and sentences round-robin, the loss summed, the
  // translations gathered on rank 0, which scores them and tells the others the score.
  LossStats st;
  const std::vector<Batch> batches = valid_batches_->epoch();
  for (size_t k = static_cast<size_t>(comm_.rank()); k < batches.size();
       k += static_cast<size_t>(comm_.size())) {
    const Batch& b = batches[k];
    model_->forward_hidden(b, cache_, nullptr);
    st += projected_loss(*model_, cache_, b, static_cast<float>(cfg_.train.label_smoothing), 0.0f,
                         nullptr);
  }
  if (comm_.distributed()) {
    double s[3] = {st.loss, st.nll, static_cast<double>(st.tokens)};
    comm_.sum(std::span<double>(s, 3), "the validation loss");
    st.loss = s[0];
    st.nll = s[1];
    st.tokens = static_cast<long>(s[2]);
  }
  DecodeConfig d = cfg_.decode;
  std::vector<std::vector<int>> mine;
  for (auto& h : greedy_translate(*model_, my_valid_src_, d)) mine.push_back(std::move(h.tokens));
  const std::vector<std::vector<int>> got = comm_.gather(mine, "the validation translations");
  double score = 0.0;
  if (comm_.root()) {
    // Rank r's m-th translation is sentence r + m·size.
    std::vector<std::string> text(valid_refs_.size());
    size_t k = 0;
    for (int r = 0; r < comm_.size(); ++r)
      for (size_t i = static_cast<size_t>(r); i < text.size(); i += static_cast<size_t>(comm_.size()))
        text[i] = vocab_->decode(got[k++]);
    score = corpus_bleu(text, valid_refs_, BleuOptions{cfg_.train.bleu_tokenize}).score;
  }
  comm_.broadcast(score, "the validation BLEU");
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
  const bool better = score > state_.best_bleu;
  if (better) {
    state_.best_bleu = score;
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
      state_.step, state_.epoch, last_valid_loss_, nll, std::exp(nll), score,
      cfg_.train.bleu_tokenize, better ? " | best so far" : "", secs);
  write_metrics({{"type", "valid"},
                 {"step", state_.step},
                 {"epoch", state_.epoch},
                 {"loss", last_valid_loss_},
                 {"nll", nll},
                 {"ppl", std::exp(nll)},
                 {"bleu", score},
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
  check_same_weights("at the checkpoint");
  if (!comm_.root()) {  // rank 0 alone writes
    last_saved_step_ = state_.step;
    return;
  }
  const std::string name = "step_" + std::to_string(state_.step);
  const fs::path dir = ckpt_dir_ / name;
  saved.train_seconds = state_.train_seconds;
  const UseAverage use(ema_.get());  // model.safetensors: the average; the live weights aside
  save_checkpoint(dir.string(), {.config = cfg_,
                                 .model = *model_,
                                 .vocab_path = vocab_->path(),
                                 .optimizer = adam_.get(),
                                 .state = &saved,
                                 .live = ema_ ? &ema_->weights() : nullptr});
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
  // A distributed run: what the collectives moved and how long this rank waited for them.
  const CommStats& cs = comm_.stats();
  const double per = 1.0 / static_cast<double>(interval_steps_);
  const std::string comm_text =
      comm_.distributed()
          ? fmt::format(" | all-reduce {:.2f} MB/update, waited {:.1f} ms/update ({:.0f}%)",
                        cs.bytes * per / 1e6, cs.wait_seconds * per * 1e3,
                        100.0 * cs.wait_seconds / std::max(secs, 1e-9))
          : std::string();
  log_->info(
      "train | step {} | epoch {} | loss {:.4f} | lr {:.3g} | gnorm {:.2f} | {:.0f} tgt "
      "tok/s | elapsed {} | ETA {}{}",
      state_.step, state_.epoch, loss, lr, last_grad_norm_, tok_s, duration(el), duration(eta),
      comm_text);
  json comm_fields = json::object();
  if (comm_.distributed())
    comm_fields = {{"ranks", comm_.size()},
                   {"comm_bytes_per_update", cs.bytes * per},
                   {"comm_wait_s_per_update", cs.wait_seconds * per}};
  comm_.reset_stats();
  json line = {{"type", "train"},
                 {"step", state_.step},
                 {"epoch", state_.epoch},
                 {"loss", loss},
                 {"nll", interval_nll_ / static_cast<double>(interval_tokens_)},
                 {"lr", lr},
                 {"grad_norm", last_grad_norm_},
                 {"tgt_tokens_per_s", tok_s},
                 {"elapsed_s", el},
                 {"eta_s", eta},
                 {"unix_time", std::chrono::duration<double>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count()}};
  line.update(comm_fields);
  write_metrics(line);

  interval_loss_ = interval_nll_ = 0.0;
  interval_tokens_ = interval_steps_ = 0;
  last_log_ = now;
}

}  // namespace

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
  // A signal or the clock, as all ranks agreed after the update (one process: its own view).
  const bool one = !comm_.distributed();
  if (one ? opt_.stop != nullptr && opt_.stop->load() : stop_signal_)
    return why = StopReason::interrupted, true;
  if (t.max_steps > 0 && state_.step >= t.max_steps) return why = StopReason::max_steps, true;
  if (one ? t.max_minutes > 0 && elapsed() >= 60.0 * t.max_minutes : stop_time_)
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
    const EpochPlan plan = train_batches_->plan(data_rng_);
    plan_size_ = plan.size();
    const auto epoch_start = Clock::now();
    while (state_.epoch_position < plan_size_) {
      const long n = std::min(state_.batches_per_update, plan_size_ - state_.epoch_position);
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
