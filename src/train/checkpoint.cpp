// checkpoint.cpp — checkpoints on disk: save (weights, optimizer moments, trainer state, config,
// vocabulary and its record, written into a temporary directory and published by rename),
// open and load with the checks that name what is wrong, publish `last`/`best`, prune, average,
// resolve a run directory. Over 450 lines because writer and reader of one format belong
// together: every check the reader makes is against what the writer wrote, next to it.
#include "spotlight/train/checkpoint.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "spotlight/check.h"
#include "spotlight/json.h"
#include "spotlight/safetensors.h"

namespace spotlight {

namespace fs = std::filesystem;
using json = nlohmann::json;

json TrainerState::to_json() const {
  auto words = [](const std::array<uint64_t, 4>& s) {
    json a = json::array();
    for (uint64_t w : s) a.push_back(std::to_string(w));  // as strings: exact beyond 2^53
    return a;
  };
  return {{"step", step},
          {"epoch", epoch},
          {"epoch_position", epoch_position},
          {"epoch_rng", words(epoch_rng)},
          {"rng", words(rng)},
          {"best_bleu", best_bleu},
          {"best_step", best_step},
          {"bad_validations", bad_validations},
          {"train_seconds", train_seconds},
          {"batches_per_update", batches_per_update}};
}

TrainerState TrainerState::from_json(const json& j, const std::string& source) {
  TrainerState s;
  try {
    auto words = [](const json& a) {
      std::array<uint64_t, 4> w{};
      require(a.is_array() && a.size() == 4, "RNG state must hold 4 words");
      for (size_t i = 0; i < 4; ++i) w[i] = std::stoull(a[i].get<std::string>());
      return w;
    };
    // Counts are integers below 2^53 (no float-to-integer conversion of a hostile 1e300).
    auto count = [&](const char* key) {
      const json& v = j.at(key);
      require(v.is_number_integer(), std::string(key) + " must be an integer");
      const long c = v.get<long>();
      require(c >= -1 && c < (1L << 53), std::string(key) + " is out of range");
      return c;
    };
    s.step = count("step");
    s.epoch = count("epoch");
    s.epoch_position = count("epoch_position");
    s.epoch_rng = words(j.at("epoch_rng"));
    s.rng = words(j.at("rng"));
    s.best_bleu = j.at("best_bleu").get<double>();
    s.best_step = count("best_step");
    s.bad_validations = count("bad_validations");
    s.train_seconds = j.at("train_seconds").get<double>();
    if (j.contains("batches_per_update")) s.batches_per_update = count("batches_per_update");
    require(s.step >= 0 && s.epoch >= 0 && s.epoch_position >= 0 && s.bad_validations >= 0 &&
                s.batches_per_update >= 0 &&
                s.best_step >= -1 && std::isfinite(s.best_bleu) && std::isfinite(s.train_seconds) &&
                s.train_seconds >= 0,
            "a count is negative or a number is not finite");
  } catch (const std::exception& e) {
    throw Error(source + ": unusable trainer state (" + e.what() + ")");
  }
  return s;
}

namespace {

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
  out.flush();
  require(out.good(), [&] {
    return "failed writing " + p.string() + ": " + std::strerror(errno) + " (is the disk full?)";
  });
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  require(in.good(), "cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void sync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Puts directory `tmp` at `dst`: a plain rename when dst is absent, else an atomic exchange
// followed by removal of the old contents.
void install_dir(const fs::path& tmp, const fs::path& dst) {
  for (const auto& e : fs::directory_iterator(tmp)) sync_path(e.path());
  sync_path(tmp);
  if (!fs::exists(dst)) {
    fs::rename(tmp, dst);
  } else {
    require(::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dst.c_str(), RENAME_EXCHANGE) == 0,
            "cannot replace checkpoint " + dst.string() + ": " + std::strerror(errno));
    fs::remove_all(tmp);  // now holds the previous checkpoint
  }
  sync_path(dst.parent_path());
}

fs::path temp_sibling(const fs::path& dst) {
  fs::path tmp = dst;
  tmp += ".tmp" + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  return tmp;
}

// optimizer.safetensors: Adam's moments, and the live weights when the model holds averages.
TensorRefs moments(const Adam& adam, const Transformer& model, const std::vector<Tensor>* live) {
  TensorRefs refs;
  const ParamList& ps = model.params();
  for (size_t k = 0; k < ps.size(); ++k) {
    refs.emplace_back("exp_avg." + ps[k]->name, &adam.first_moments()[k]);
    refs.emplace_back("exp_avg_sq." + ps[k]->name, &adam.second_moments()[k]);
    if (live != nullptr) refs.emplace_back("weights." + ps[k]->name, &(*live)[k]);
  }
  return refs;
}

}  // namespace

void save_checkpoint(const std::string& dir, const CheckpointContents& c) {
  const Transformer& model = c.model;
  const std::vector<Tensor>* live = c.live;
  require(live == nullptr || live->size() == model.params().size(),
          "save_checkpoint: one live weight tensor per parameter expected");
  const fs::path dst(dir);
  fs::create_directories(dst.parent_path().empty() ? fs::path(".") : dst.parent_path());
  const fs::path tmp = temp_sibling(dst);
  try {
    json cfg = c.config.to_json();
    // Informational (vocab.model decides): the vocabulary size and the fixed special ids.
    cfg["model"]["vocab_size"] = model.cfg.vocab_size;
    cfg["model"]["special_ids"] = {{"pad", model.cfg.pad_id},
                                   {"unk", model.cfg.unk_id},
                                   {"bos", model.cfg.bos_id},
                                   {"eos", model.cfg.eos_id}};
    write_text(tmp / "config.json", cfg.dump(2) + "\n");
    model.save_weights((tmp / "model.safetensors").string(), {{"format", "pt"}});
    fs::copy_file(c.vocab_path, tmp / "vocab.model");
    // The record of what the vocabulary was trained from, when it has one.
    if (const std::string record = find_vocab_record(c.vocab_path); !record.empty())
      fs::copy_file(record, tmp / "vocab.json");
    if (c.optimizer != nullptr)
      write_safetensors((tmp / "optimizer.safetensors").string(),
                        moments(*c.optimizer, model, live),
                        {{"step", std::to_string(c.optimizer->steps())}});
    if (c.state != nullptr)
      write_text(tmp / "trainer_state.json", c.state->to_json().dump(2) + "\n");
    install_dir(tmp, dst);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

namespace {

constexpr const char* kCheckpointFiles[] = {"config.json", "model.safetensors", "vocab.model"};

bool is_checkpoint_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const char* f : kCheckpointFiles)
    if (!fs::exists(dir / f, ec)) return false;
  return true;
}

// The checkpoints directly inside `dir`, as a user would pick them: best, last, then step_<N>
// by step, then any other name.
std::vector<std::string> checkpoints_in(const fs::path& dir) {
  std::vector<std::pair<std::pair<int, long>, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp") != std::string::npos || !is_checkpoint_dir(e.path())) continue;
    int rank = 3;
    long step = 0;
    if (name == "best")
      rank = 0;
    else if (name == "last")
      rank = 1;
    else if (name.rfind("step_", 0) == 0 && name.size() > 5 && name.size() < 20 &&
             std::all_of(name.begin() + 5, name.end(),
                         [](char c) { return c >= '0' && c <= '9'; })) {
      rank = 2;
      step = std::stol(name.substr(5));
    }
    found.push_back({{rank, step}, name});
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (const auto& f : found) names.push_back(f.second);
  return names;
}

// "a" or "{a,b,c}" (at most `limit` names, then ",…").
std::string brace_list(const std::vector<std::string>& names, size_t limit = 6) {
  if (names.size() == 1) return names.front();
  std::string out = "{";
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? "," : "") + names[i];
  if (names.size() > limit) out += ",…";
  return out + "}";
}

// The run directory's checkpoint a user most likely wants when there is no best yet: last,
// else the newest numbered one.
std::string suggestion(const std::vector<std::string>& names) {
  if (names.front() == "best" || names.front() == "last") return names.front();
  std::string pick = names.front();
  for (const auto& n : names)
    if (n.rfind("step_", 0) == 0) pick = n;
  return pick;
}

// Says once per path (per process) that a run directory stands for its checkpoints/best.
void announce(const std::string& path, const std::string& best) {
  static std::mutex mu;
  static std::set<std::string> said;
  const std::lock_guard<std::mutex> lock(mu);
  if (said.insert(path).second)
    spdlog::info("{} is a run directory: using its checkpoint {}", path, best);
}

Config read_checkpoint_config(const fs::path& dir) {
  json j = read_json_file((dir / "config.json").string());
  if (j.is_object() && j.contains("model") && j["model"].is_object()) {
    j["model"].erase("vocab_size");
    j["model"].erase("special_ids");
  }
  return Config::from_json(j, (dir / "config.json").string());
}

}  // namespace

std::string resolve_checkpoint(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  require(fs::exists(st), "checkpoint " + path + " is not a directory: it does not exist");
  require(fs::is_directory(st), "checkpoint " + path +
                                    " is not a directory (it is a file); give a checkpoint "
                                    "directory or a run directory (output_dir)");
  int present = 0;
  for (const char* f : kCheckpointFiles) present += fs::exists(p / f, ec) ? 1 : 0;
  if (present == 3) return path;
  for (const char* f : kCheckpointFiles)
    require(present == 0 || fs::exists(p / f, ec),
            "checkpoint " + path + " is incomplete: " + f + " is missing");
  const fs::path best = p / "checkpoints" / "best";
  if (is_checkpoint_dir(best)) {
    announce(path, best.string());
    return best.string();
  }
  std::string msg = path + ": not a checkpoint (no config.json/model.safetensors/vocab.model)";
  const fs::path ckpts = p / "checkpoints";
  if (fs::is_directory(ckpts, ec)) {
    const auto names = checkpoints_in(ckpts);
    if (names.empty())
      msg +=
          "; it is a run directory whose checkpoints/ holds no checkpoint yet (training "
          "saves the first at train.valid_interval, or when stopped)";
    else
      msg += "; it holds checkpoints/" + brace_list(names) + ": try -c " +
             (ckpts / suggestion(names)).string();
    require(false, msg);
  }
  if (const auto names = checkpoints_in(p); !names.empty())
    require(false, msg + "; it holds the checkpoints " + brace_list(names) + ": try -c " +
                       (p / suggestion(names)).string());
  std::vector<std::string> runs, entries;
  for (const auto& e : fs::directory_iterator(p, ec)) {
    const std::string name = e.path().filename().string();
    entries.push_back(name);
    if (is_checkpoint_dir(e.path() / "checkpoints" / "best")) runs.push_back(name);
  }
  std::sort(runs.begin(), runs.end());
  std::sort(entries.begin(), entries.end());
  if (!runs.empty())
    require(false, msg + "; it holds the run directories " + brace_list(runs) + ": try -c " +
                       (p / runs.front()).string());
  msg += " and not a run directory (no checkpoints/best); ";
  msg += entries.empty() ? std::string("it is empty") : "it holds " + brace_list(entries);
  require(false, msg);
  return path;
}

Config checkpoint_config(const std::string& dir) {
  return read_checkpoint_config(resolve_checkpoint(dir));
}

void load_checkpoint_weights(const std::string& dir, Transformer& model) {
  model.load_weights((fs::path(dir) / "model.safetensors").string());
}

void load_training_state(const std::string& dir, const Transformer& model,
                         const ResumeState& resume) {
  Adam& optimizer = resume.optimizer;
  TrainerState& state = resume.state;
  std::vector<Tensor>* live = resume.live;
  const fs::path opt = fs::path(dir) / "optimizer.safetensors";
  const fs::path st = fs::path(dir) / "trainer_state.json";
  require(fs::exists(opt) && fs::exists(st),
          "checkpoint " + dir + " has no optimizer/trainer state: it cannot be resumed from");
  std::map<std::string, std::string> meta;
  auto tensors = read_safetensors(opt.string(), &meta);
  state = TrainerState::from_json(parse_json(read_text(st), st.string()), st.string());
  // With train.ema_decay the live weights are there too ("weights.<name>"), and only then.
  const bool has_live =
      std::any_of(tensors.begin(), tensors.end(),
                  [](const auto& kv) { return kv.first.rfind("weights.", 0) == 0; });
  require(has_live == (live != nullptr),
          has_live ? dir + " was trained with train.ema_decay: resume it with the same setting"
                   : dir + " was trained without train.ema_decay: resume it with ema_decay 0");
  if (live != nullptr) {
    live->resize(model.params().size());
    for (size_t k = 0; k < live->size(); ++k) (*live)[k].resize_like(model.params()[k]->value);
  }
  // Moments are matched by parameter name; a missing name or another shape means another model.
  const TensorRefs want = moments(optimizer, model, live);
  require(tensors.size() == want.size(),
          opt.string() + ": holds " + std::to_string(tensors.size()) + " tensors, expected " +
              std::to_string(want.size()) + " — the checkpoint is for a different model shape");
  for (const auto& [name, dst] : want) {
    const auto it = tensors.find(name);
    require(it != tensors.end() && it->second.shape() == dst->shape(),
            opt.string() + ": '" + name + "' is missing or has another shape" +
                " — the checkpoint is for a different model shape");
    std::copy_n(it->second.data(), dst->size(), const_cast<Tensor*>(dst)->data());
  }
  const std::string steps = meta.count("step") > 0 ? meta["step"] : "";
  require(!steps.empty() && steps.size() < 18 &&
              std::all_of(steps.begin(), steps.end(), [](char ch) { return ch >= '0' && ch <= '9'; }),
          opt.string() + ": no valid step count in its metadata (corrupted checkpoint)");
  for (const auto& [name, dst] : want) {
    const float* v = dst->data();
    require(std::all_of(v, v + dst->size(), [](float x) { return std::isfinite(x); }),
            opt.string() + ": '" + name + "' holds values that are not finite (corrupted checkpoint)");
  }
  optimizer.set_steps(std::stol(steps));
}

OpenCheckpoint open_checkpoint(const std::string& path) {
  OpenCheckpoint c;
  c.dir = resolve_checkpoint(path);
  const std::string& dir = c.dir;
  c.config = read_checkpoint_config(dir);
  c.vocab = std::make_unique<Vocab>((fs::path(dir) / "vocab.model").string());
  set_vocabulary(c.config.model, *c.vocab);
  const ModelConfig& m = c.config.model;
  // Everything the model allocates is sized by the config, so a config that describes more
  // parameters than model.safetensors could hold is refused before anything is allocated.
  const fs::path weights = fs::path(dir) / "model.safetensors";
  std::error_code ec;
  const auto bytes = static_cast<double>(fs::file_size(weights, ec));
  require(!ec, "cannot read " + weights.string() + ": " + ec.message());
  const double D = static_cast<double>(m.d_model), F = static_cast<double>(m.ffn);
  const double at_least = static_cast<double>(m.vocab_size) * D +
                          static_cast<double>(m.encoder_layers) * (4 * D * D + 2 * D * F) +
                          static_cast<double>(m.decoder_layers) * (8 * D * D + 2 * D * F);
  require(at_least * sizeof(float) <= bytes, [&] {
    return dir + "/config.json describes a model of at least " +
           std::to_string(static_cast<long long>(at_least)) +
           " parameters, but model.safetensors holds only " +
           std::to_string(static_cast<long long>(bytes)) +
           " bytes: the config does not belong to these weights";
  });
  c.model = std::make_unique<Transformer>(m);
  load_checkpoint_weights(dir, *c.model);
  return c;
}

void average_checkpoints(const std::vector<std::string>& given, const std::string& out) {
  require(!given.empty(), "average: no checkpoints given");
  std::vector<std::string> inputs;  // run directories stand for their checkpoints/best
  for (const auto& in : given) inputs.push_back(resolve_checkpoint(in));
  const fs::path out_abs = fs::weakly_canonical(out);
  for (const auto& in : inputs) {
    const fs::path in_abs = fs::weakly_canonical(in);
    require(in_abs != out_abs,
            "average: the output " + out + " is also an input; choose another --out");
    const auto rel = in_abs.lexically_relative(out_abs);
    require(rel.empty() || *rel.begin() == "..",
            "average: the input " + in + " lies inside the output " + out +
                ", which would be replaced; choose another --out");
  }
  require(!fs::exists(out) || (fs::exists(fs::path(out) / "config.json") &&
                               fs::exists(fs::path(out) / "model.safetensors")),
          "average: " + out + " exists and is not a checkpoint; refusing to replace it");
  OpenCheckpoint first = open_checkpoint(inputs.front());
  const std::string vocab_bytes = read_text(fs::path(inputs.front()) / "vocab.model");
  const ParamList& ps = first.model->params();
  std::vector<std::vector<double>> sum(ps.size());
  for (size_t k = 0; k < ps.size(); ++k)
    sum[k].assign(ps[k]->value.data(), ps[k]->value.data() + ps[k]->value.size());
  Transformer other(first.model->cfg);
  for (size_t i = 1; i < inputs.size(); ++i) {
    require(read_text(fs::path(inputs[i]) / "vocab.model") == vocab_bytes,
            "average: " + inputs[i] + " has another vocabulary than " + inputs.front());
    load_checkpoint_weights(inputs[i], other);  // a shape mismatch is an error naming it
    require(other.output_ids() == first.model->output_ids(),
            "average: " + inputs[i] + " scores another output vocabulary than " + inputs.front());
    for (size_t k = 0; k < ps.size(); ++k)
      for (long j = 0; j < ps[k]->value.size(); ++j)
        sum[k][static_cast<size_t>(j)] += other.params()[k]->value[j];
  }
  const double inv = 1.0 / static_cast<double>(inputs.size());
  for (size_t k = 0; k < ps.size(); ++k)
    for (long j = 0; j < ps[k]->value.size(); ++j)
      ps[k]->value[j] = static_cast<float>(sum[k][static_cast<size_t>(j)] * inv);
  save_checkpoint(out, {.config = first.config,
                        .model = *first.model,
                        .vocab_path = (fs::path(inputs.front()) / "vocab.model").string()});
}

void publish_checkpoint(const std::string& src, const std::string& dst) {
  const fs::path tmp = temp_sibling(dst);
  for (const auto& e : fs::directory_iterator(src)) {
    std::error_code ec;
    fs::create_hard_link(e.path(), tmp / e.path().filename(), ec);  // files are never rewritten
    if (ec) fs::copy_file(e.path(), tmp / e.path().filename());
  }
  install_dir(tmp, dst);
}

void prune_checkpoints(const std::string& checkpoints_dir, long keep) {
  std::vector<std::pair<long, fs::path>> numbered;
  for (const auto& e : fs::directory_iterator(checkpoints_dir)) {
    const std::string name = e.path().filename().string();
    const std::string digits = name.rfind("step_", 0) == 0 ? name.substr(5) : "";
    if (e.is_directory() && !digits.empty() && digits.size() < 18 &&
        std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      numbered.emplace_back(std::stol(digits), e.path());
  }
  std::sort(numbered.begin(), numbered.end());
  // Renamed first, so that a kill mid-removal leaves a temporary name, never a partial step_N.
  for (size_t i = 0; i + static_cast<size_t>(std::max(keep, 0L)) < numbered.size(); ++i) {
    fs::path doomed = numbered[i].second;
    doomed += ".tmp" + std::to_string(::getpid());
    fs::rename(numbered[i].second, doomed);
    fs::remove_all(doomed);
  }
}

}  // namespace spotlight
