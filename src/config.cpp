#include "spotlight/config.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "spotlight/check.h"
#include "spotlight/json.h"
#include "spotlight/utf8.h"

namespace spotlight {

using json = nlohmann::json;

namespace {

// One list of fields per section, walked by both the reader and the writer.
template <class C, class F>
void fields(C& c, F&& f) {
  using T = std::remove_const_t<C>;
  if constexpr (std::is_same_v<T, DataConfig>) {
    f("train", c.train);
    f("valid", c.valid);
    f("max_len", c.max_len);
    f("store", c.store);
  } else if constexpr (std::is_same_v<T, VocabConfig>) {
    f("path", c.path);
    f("size", c.size);
    f("model_type", c.model_type);
    f("character_coverage", c.character_coverage);
    f("input_sentence_size", c.input_sentence_size);
  } else if constexpr (std::is_same_v<T, ModelConfig>) {
    f("d_model", c.d_model);
    f("heads", c.heads);
    f("ffn", c.ffn);
    f("encoder_layers", c.encoder_layers);
    f("decoder_layers", c.decoder_layers);
    f("norm", c.norm);
    f("activation", c.activation);
    f("dropout", c.dropout);
    f("attention_dropout", c.attention_dropout);
    f("activation_dropout", c.activation_dropout);
    f("max_positions", c.max_positions);
    f("output_vocab", c.output_vocab);
  } else if constexpr (std::is_same_v<T, TrainConfig>) {
    f("lr", c.lr);
    f("warmup", c.warmup);
    f("lr_schedule", c.lr_schedule);
    f("lr_cooldown", c.lr_cooldown);
    f("max_steps", c.max_steps);
    f("max_epochs", c.max_epochs);
    f("max_minutes", c.max_minutes);
    f("max_tokens", c.max_tokens);
    f("update_freq", c.update_freq);
    f("clip_norm", c.clip_norm);
    f("label_smoothing", c.label_smoothing);
    f("adam_beta1", c.adam_beta1);
    f("adam_beta2", c.adam_beta2);
    f("adam_eps", c.adam_eps);
    f("weight_decay", c.weight_decay);
    f("ema_decay", c.ema_decay);
    f("seed", c.seed);
    f("log_interval", c.log_interval);
    f("valid_interval", c.valid_interval);
    f("patience", c.patience);
    f("keep_last", c.keep_last);
    f("threads", c.threads);
    f("bleu_tokenize", c.bleu_tokenize);
  } else {
    static_assert(std::is_same_v<T, DecodeConfig>);
    f("beam", c.beam);
    f("alpha", c.alpha);
    f("patience", c.patience);
    f("max_len_a", c.max_len_a);
    f("max_len_b", c.max_len_b);
    f("batch_size", c.batch_size);
    f("compute_type", c.compute_type);
  }
}

// Values to and from JSON, each type with the message its mistakes get.
[[noreturn]] void type_error(const std::string& key, const char* expected, const json& v) {
  throw Error(key + ": expected " + expected + ", got " + v.dump());
}
void read_value(const std::string& key, const json& v, double& out) {
  if (!v.is_number()) type_error(key, "a number", v);
  out = v.get<double>();
}
void read_value(const std::string& key, const json& v, float& out) {
  double d = 0;
  read_value(key, v, d);
  out = static_cast<float>(d);
}
void read_value(const std::string& key, const json& v, long& out) {
  if (!v.is_number_integer()) type_error(key, "an integer", v);
  out = v.get<long>();
}
void read_value(const std::string& key, const json& v, std::string& out) {
  if (!v.is_string()) type_error(key, "a string", v);
  out = v.get<std::string>();
}
void read_value(const std::string& key, const json& v, std::array<std::string, 2>& out) {
  if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_string())
    type_error(key, "a [source_file, target_file] pair of strings", v);
  out = {v[0].get<std::string>(), v[1].get<std::string>()};
}
void read_value(const std::string& key, const json& v, std::vector<TrainCorpus>& out) {
  const char* expected =
      "a [source_file, target_file] pair of strings, or a list of corpora each a pair or "
      "{\"src\": F, \"tgt\": F, \"weight\": W}";
  if (!v.is_array()) type_error(key, expected, v);
  out.clear();
  if (v.empty()) return;  // none (training refuses that: Config::validate_for_training)
  if (v[0].is_string()) {  // one corpus
    std::array<std::string, 2> pair;
    read_value(key, v, pair);
    out.push_back({pair[0], pair[1], 1.0});
    return;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string k = key + "[" + std::to_string(i) + "]";
    const json& c = v[i];
    TrainCorpus t;
    if (c.is_array()) {
      std::array<std::string, 2> pair;
      read_value(k, c, pair);
      t.src = pair[0];
      t.tgt = pair[1];
    } else if (c.is_object()) {
      for (const auto& [name, value] : c.items())
        if (name != "src" && name != "tgt" && name != "weight")
          throw Error(k + "." + name + ": unknown key (a corpus has src, tgt and weight)");
      if (!c.contains("src") || !c.contains("tgt")) type_error(k, "an object with src and tgt", c);
      read_value(k + ".src", c.at("src"), t.src);
      read_value(k + ".tgt", c.at("tgt"), t.tgt);
      if (c.contains("weight")) read_value(k + ".weight", c.at("weight"), t.weight);
    } else {
      type_error(k, "a [source_file, target_file] pair or a {src, tgt, weight} object", c);
    }
    out.push_back(std::move(t));
  }
}
void read_value(const std::string& key, const json& v, Norm& out) {
  if (v == "pre")
    out = Norm::pre;
  else if (v == "post")
    out = Norm::post;
  else
    type_error(key, "\"pre\" or \"post\"", v);
}
void read_value(const std::string& key, const json& v, Activation& out) {
  if (v == "relu")
    out = Activation::relu;
  else if (v == "gelu")
    out = Activation::gelu;
  else
    type_error(key, "\"relu\" or \"gelu\"", v);
}
void read_value(const std::string& key, const json& v, OutputVocab& out) {
  if (v == "all")
    out = OutputVocab::all;
  else if (v == "target")
    out = OutputVocab::target;
  else
    type_error(key, "\"all\" or \"target\"", v);
}
template <class T>
json write_value(const T& v) {
  return v;
}
json write_value(const std::array<std::string, 2>& v) {
  return json::array({v[0], v[1]});
}
json write_value(const std::vector<TrainCorpus>& v) {
  if (v.size() == 1 && v[0].weight == 1.0) return json::array({v[0].src, v[0].tgt});
  json out = json::array();
  for (const TrainCorpus& c : v) out.push_back({{"src", c.src}, {"tgt", c.tgt}, {"weight", c.weight}});
  return out;
}
json write_value(const Norm& v) {
  return v == Norm::pre ? "pre" : "post";
}
json write_value(const Activation& v) {
  return v == Activation::relu ? "relu" : "gelu";
}
json write_value(const OutputVocab& v) {
  return v == OutputVocab::all ? "all" : "target";
}

template <class C>
void read_section(const json& j, const std::string& name, C& c) {
  if (!j.contains(name)) return;
  const json& s = j.at(name);
  if (!s.is_object()) type_error(name, "an object", s);
  std::set<std::string> known;
  fields(c, [&](const char* key, auto& value) {
    known.insert(key);
    if (s.contains(key)) read_value(name + "." + key, s.at(key), value);
  });
  for (const auto& [key, v] : s.items())
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(name + "." + key + ": unknown key (known keys of '" + name + "': " + list + ")");
    }
}

template <class C>
json write_section(const C& c) {
  json s = json::object();
  fields(c, [&](const char* key, const auto& value) { s[key] = write_value(value); });
  return s;
}

// Range checks, naming the key. They bound every size a config can ask for, so that a hostile
// config (or a checkpoint's) is refused before anything is allocated from it.
template <class T>
void in_range(const char* key, T v, T lo, T hi, const char* what = nullptr) {
  if (!(v >= lo && v <= hi))  // also refuses NaN
    throw Error(std::string(key) + ": expected " +
                (what != nullptr ? std::string(what)
                                 : "a value in [" + json(lo).dump() + ", " + json(hi).dump() + "]") +
                ", got " + json(v).dump());
}

void validate_config(const Config& c) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  in_range("data.max_len", c.data.max_len, 1L, 65534L);
  for (size_t i = 0; i < c.data.train.size(); ++i) {
    const std::string k = "data.train[" + std::to_string(i) + "]";
    require(!c.data.train[i].src.empty() && !c.data.train[i].tgt.empty(),
            k + ": a corpus needs both a source and a target file");
    in_range((k + ".weight").c_str(), c.data.train[i].weight, 0.0, 1e6);
  }
  in_range("vocab.size", c.vocab.size, 5L, 1000000L, "5..1000000 pieces (ids 0-3 are special)");
  require(c.vocab.model_type == "unigram" || c.vocab.model_type == "bpe" ||
              c.vocab.model_type == "char" || c.vocab.model_type == "word",
          "vocab.model_type: expected unigram, bpe, char or word, got '" + c.vocab.model_type + "'");
  in_range("vocab.character_coverage", c.vocab.character_coverage, 1e-9, 1.0, "a value in (0, 1]");
  in_range("vocab.input_sentence_size", c.vocab.input_sentence_size, 0L, 1000000000L);
  const ModelConfig& m = c.model;
  in_range("model.d_model", m.d_model, 2L, 65536L);
  require(m.d_model % 2 == 0, "model.d_model: must be even (sinusoidal positions), got " +
                                  std::to_string(m.d_model));
  in_range("model.heads", m.heads, 1L, m.d_model, "1..d_model");
  require(m.d_model % m.heads == 0, "model.heads: d_model (" + std::to_string(m.d_model) +
                                        ") must divide by heads (" + std::to_string(m.heads) + ")");
  in_range("model.ffn", m.ffn, 1L, 1L << 20);
  in_range("model.encoder_layers", m.encoder_layers, 1L, 256L);
  in_range("model.decoder_layers", m.decoder_layers, 1L, 256L);
  in_range("model.dropout", m.dropout, 0.0f, 0.99f);
  in_range("model.attention_dropout", m.attention_dropout, 0.0f, 0.99f);
  in_range("model.activation_dropout", m.activation_dropout, 0.0f, 0.99f);
  in_range("model.max_positions", m.max_positions, 2L, 65536L);
  const TrainConfig& t = c.train;
  in_range("train.lr", t.lr, 1e-12, 1e15, "a positive learning rate");
  in_range("train.warmup", t.warmup, 0L, 1L << 40);
  require(t.lr_schedule == "inverse_sqrt" || t.lr_schedule == "cosine",
          "train.lr_schedule: expected \"inverse_sqrt\" or \"cosine\", got '" + t.lr_schedule + "'");
  in_range("train.lr_cooldown", t.lr_cooldown, 0L, 1L << 40);
  require(t.lr_cooldown == 0 || (t.max_steps > 0 && t.lr_cooldown <= t.max_steps),
          "train.lr_cooldown: needs train.max_steps, and at most that many updates (got " +
              std::to_string(t.lr_cooldown) + " with max_steps " + std::to_string(t.max_steps) +
              ")");
  in_range("train.max_steps", t.max_steps, 0L, 1L << 40);
  in_range("train.max_epochs", t.max_epochs, 0L, 1L << 40);
  in_range("train.max_minutes", t.max_minutes, 0.0, 1e9);
  in_range("train.max_tokens", t.max_tokens, 1L, 1L << 26);
  in_range("train.update_freq", t.update_freq, 1L, 1L << 20);
  in_range("train.clip_norm", t.clip_norm, 0.0, inf, "a value >= 0 (0: off)");
  in_range("train.label_smoothing", t.label_smoothing, 0.0, 0.99);
  in_range("train.adam_beta1", t.adam_beta1, 0.0, 0.999999);
  in_range("train.adam_beta2", t.adam_beta2, 0.0, 0.999999999);
  in_range("train.adam_eps", t.adam_eps, 1e-30, 1.0, "a small positive value, e.g. 1e-9");
  in_range("train.weight_decay", t.weight_decay, 0.0, 1.0);
  in_range("train.ema_decay", t.ema_decay, 0.0, 0.999999999, "a value in [0, 1) (0: off; e.g. 0.999)");
  in_range("train.log_interval", t.log_interval, 1L, 1L << 40);
  in_range("train.valid_interval", t.valid_interval, 1L, 1L << 40);
  in_range("train.patience", t.patience, 0L, 1L << 40);
  in_range("train.keep_last", t.keep_last, 0L, 1000000L);
  in_range("train.threads", t.threads, 1L, 1024L);
  require(t.bleu_tokenize == "13a" || t.bleu_tokenize == "none",
          "train.bleu_tokenize: expected \"13a\" or \"none\", got '" + t.bleu_tokenize + "'");
  const DecodeConfig& d = c.decode;
  in_range("decode.beam", d.beam, 1L, 64L);
  in_range("decode.alpha", d.alpha, 0.0, 100.0);
  in_range("decode.patience", d.patience, 0.01, 1000.0);
  in_range("decode.max_len_a", d.max_len_a, 0.0, 1000.0);
  in_range("decode.max_len_b", d.max_len_b, 0L, 65535L);
  in_range("decode.batch_size", d.batch_size, 1L, 4096L);
  require(d.compute_type == "float" || d.compute_type == "int8",
          "decode.compute_type: expected \"float\" or \"int8\", got '" + d.compute_type + "'");
  require(!c.output_dir.empty(), "output_dir: empty; name the run directory");
}

}  // namespace

void Config::validate() const { validate_config(*this); }

std::vector<std::string> DataConfig::train_files() const {
  std::vector<std::string> files;
  for (const TrainCorpus& c : train) {
    files.push_back(c.src);
    files.push_back(c.tgt);
  }
  return files;
}

std::string DataConfig::store_dir(const std::string& output_dir) const {
  return store.empty() ? output_dir + "/data" : store;
}

void Config::validate_for_training() const {
  validate();
  const TrainConfig& t = train;
  require(t.max_steps > 0 || t.max_epochs > 0 || t.max_minutes > 0,
          "no stopping condition: set train.max_steps, train.max_epochs or train.max_minutes");
  require(t.lr_schedule != "cosine" || t.max_steps > t.warmup,
          "train.lr_schedule: cosine decays to zero at train.max_steps, which must exceed "
          "train.warmup");
  require(!vocab.path.empty(), "vocab.path: empty; name the SentencePiece model file");
  require(!data.train.empty(), "data.train: no training corpus; give [source_file, target_file]");
  double weight = 0.0;
  for (const TrainCorpus& c : data.train) weight += c.weight;
  require(weight > 0.0, "data.train: every corpus has weight 0, so no pair would be drawn");
  require(data.max_len + 1 <= model.max_positions,
          "data.max_len (" + std::to_string(data.max_len) + ") + 1 exceeds model.max_positions (" +
              std::to_string(model.max_positions) +
              "): raise model.max_positions or lower data.max_len");
}

nlohmann::ordered_json Config::to_json() const {
  nlohmann::ordered_json j;
  j["data"] = write_section(data);
  j["vocab"] = write_section(vocab);
  j["model"] = write_section(model);
  j["train"] = write_section(train);
  j["decode"] = write_section(decode);
  j["output_dir"] = output_dir;
  return j;
}

Config Config::from_json(const json& j, const std::string& source) {
  require(j.is_object(), source +
                             ": a config is a JSON object with sections data, vocab, model, "
                             "train, decode and output_dir");
  static const std::set<std::string> sections = {"data",  "vocab",  "model",
                                                 "train", "decode", "output_dir"};
  for (const auto& [key, v] : j.items())
    require(sections.count(key) > 0,
            source + ": " + key +
                ": unknown key (sections are data, vocab, model, train, decode, output_dir)");
  Config c;
  try {
    read_section(j, "data", c.data);
    read_section(j, "vocab", c.vocab);
    read_section(j, "model", c.model);
    read_section(j, "train", c.train);
    read_section(j, "decode", c.decode);
    if (j.contains("output_dir")) read_value("output_dir", j.at("output_dir"), c.output_dir);
    c.validate();
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  return c;
}

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot open config " + path + " (does it exist?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_json(ss.str(), path);
}

void apply_override(json& j, const std::string& assignment) {
  const auto eq = assignment.find('=');
  require(eq != std::string::npos && eq > 0,
          "--set " + assignment + ": expected key.path=value, e.g. --set train.lr=3e-4");
  require(valid_utf8(assignment), "--set: the assignment is not valid UTF-8");
  require(j.is_object(), "--set " + assignment + ": the config is not a JSON object");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = parse_json(text, "--set " + path);
  } catch (const Error&) {
    value = text;  // a bare word is a string: --set output_dir=runs/x
  }
  require(std::count(path.begin(), path.end(), '.') < 8,
          "--set " + path + ": a key path has at most 8 parts (section.key)");
  json* node = &j;
  size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    require(!key.empty(), "--set " + assignment + ": empty key in '" + path + "'");
    if (dot == std::string::npos) {
      (*node)[key] = std::move(value);
      return;
    }
    if (!node->contains(key)) (*node)[key] = json::object();
    node = &(*node)[key];
    require(node->is_object(), "--set " + assignment + ": '" + key + "' is not a section");
    start = dot + 1;
  }
}

bool may_change_on_resume(const std::string& key) {
  static const std::set<std::string> keys = {
      "train.max_steps", "train.max_epochs",   "train.max_minutes",
      "train.patience",  "train.log_interval", "train.valid_interval",
      "train.keep_last", "train.threads",      "output_dir",
      "data.store"};
  return keys.count(key) > 0 || key.rfind("decode.", 0) == 0;
}

namespace {

// `--set key=value` as a shell word: the value as JSON, or bare for a plain string.
std::string set_argument(const std::string& key, const nlohmann::ordered_json& v) {
  std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  if (v.is_string()) {  // a string that would parse as JSON (e.g. "1e3") stays a string
    const json parsed = json::parse(text, nullptr, false);
    if (!parsed.is_discarded()) text = v.dump();
  }
  std::string word = key + "=" + text;
  const bool plain = std::all_of(word.begin(), word.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("_./:=+-,", ch) != nullptr;
  });
  if (!plain) {
    std::string quoted = "'";
    for (char ch : word) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    word = quoted + "'";
  }
  return "--set " + word;
}

// Keys whose change gives the model parameters of other shapes.
bool shapes_model(const std::string& key) {
  static const std::set<std::string> keys = {"model.d_model",        "model.ffn",
                                             "model.encoder_layers", "model.decoder_layers",
                                             "model.max_positions",  "model.output_vocab"};
  return keys.count(key) > 0;
}

}  // namespace

Config resume_config(const Config& run, const Config& given, const std::string& run_source,
                     std::vector<std::string>& changes) {
  const nlohmann::ordered_json a = run.to_json(), b = given.to_json();
  nlohmann::ordered_json merged = a;
  std::string refused, fixes;
  for (const auto& [section, fields] : a.items()) {
    const bool leaf = !fields.is_object();
    const auto keys = leaf ? nlohmann::ordered_json{{section, fields}} : fields;
    for (const auto& [name, old_value] : keys.items()) {
      const std::string key = leaf ? section : section + "." + name;
      const auto& new_value = leaf ? b.at(section) : b.at(section).at(name);
      if (old_value == new_value) continue;
      if (may_change_on_resume(key)) {
        (leaf ? merged[section] : merged[section][name]) = new_value;
        changes.push_back(key + ": " + old_value.dump() + " → " + new_value.dump());
        continue;
      }
      refused += "\n  " + key + ": the run has " + old_value.dump() + ", the config now gives " +
                 new_value.dump() +
                 (shapes_model(key) ? " (a different model shape than the checkpoint's)" : "");
      fixes += " " + set_argument(key, old_value);
    }
  }
  require(refused.empty(), [&] {
    return "--resume: the config differs from the run's (" + run_source +
           ") in keys that cannot change mid-run:" + refused +
           "\nOnly the stopping conditions (train.max_steps, max_epochs, max_minutes, patience), "
           "intervals (train.log_interval, valid_interval, keep_last), train.threads and "
           "decode.* may change when resuming. To continue this run, give these keys the run's "
           "values (" +
           fixes.substr(1) +
           "), or start a new run in another output_dir (--set output_dir=" + given.output_dir +
           "_2)";
  });
  return Config::from_json(json::parse(merged.dump()), run_source);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  json j = read_json_file(path);
  for (const auto& o : overrides) apply_override(j, o);
  return Config::from_json(j, path);
}

}  // namespace spotlight
