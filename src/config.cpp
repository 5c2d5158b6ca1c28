#include "spotlight/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "spotlight/check.h"

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
  } else if constexpr (std::is_same_v<T, TrainConfig>) {
    f("lr", c.lr);
    f("warmup", c.warmup);
    f("lr_schedule", c.lr_schedule);
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
    f("max_len_a", c.max_len_a);
    f("max_len_b", c.max_len_b);
    f("batch_size", c.batch_size);
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
template <class T>
json write_value(const T& v) {
  return v;
}
json write_value(const std::array<std::string, 2>& v) {
  return json::array({v[0], v[1]});
}
json write_value(const Norm& v) {
  return v == Norm::pre ? "pre" : "post";
}
json write_value(const Activation& v) {
  return v == Activation::relu ? "relu" : "gelu";
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

}  // namespace

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
  const std::string text = ss.str();
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann reports a byte offset: turn it into line and column.
    const size_t at = std::min(static_cast<size_t>(e.byte), text.size());
    long line = 1, col = 1;
    for (size_t i = 0; i + 1 < at; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string what = e.what();
    const auto cut = what.find("parse error");
    throw Error(path + ":" + std::to_string(line) + ":" + std::to_string(col) +
                ": invalid JSON: " + (cut == std::string::npos ? what : what.substr(cut)));
  }
}

void apply_override(json& j, const std::string& assignment) {
  const auto eq = assignment.find('=');
  require(eq != std::string::npos && eq > 0,
          "--set " + assignment + ": expected key.path=value, e.g. --set train.lr=3e-4");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error&) {
    value = text;  // a bare word is a string: --set output_dir=runs/x
  }
  json* node = &j;
  size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? dot : dot - start);
    require(!key.empty(), "--set " + assignment + ": empty key in '" + path + "'");
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    if (!node->contains(key)) (*node)[key] = json::object();
    node = &(*node)[key];
    require(node->is_object(), "--set " + assignment + ": '" + key + "' is not a section");
    start = dot + 1;
  }
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  json j = read_json_file(path);
  for (const auto& o : overrides) apply_override(j, o);
  return Config::from_json(j, path);
}

}  // namespace spotlight
