#include "spotlight/serve/api.h"

#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "spotlight/utf8.h"

namespace spotlight {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& msg) { throw ApiError(400, msg); }

bool has_prefix_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// The texts of field `name` (a string or an array of strings), checked: valid UTF-8, within the
// limits of count and characters.
std::vector<std::string> texts_of(const json& body, const std::string& name, bool& array,
                                  const ApiLimits& limits) {
  const auto it = body.find(name);
  if (it == body.end()) bad("missing field '" + name + "': the text to translate");
  std::vector<std::string> texts;
  array = it->is_array();
  if (it->is_string()) {
    texts.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string())
        bad("field '" + name + "[" + std::to_string(i) + "]' must be a string, not " +
            std::string((*it)[i].type_name()));
      texts.push_back((*it)[i].get<std::string>());
    }
  } else {
    bad("field '" + name + "' must be a string or an array of strings, not " +
        std::string(it->type_name()));
  }
  if (static_cast<long>(texts.size()) > limits.max_texts)
    throw ApiError(413, "field '" + name + "' holds " + std::to_string(texts.size()) +
                            " texts; this server takes at most " +
                            std::to_string(limits.max_texts) + " per request");
  long chars = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string where = array ? name + "[" + std::to_string(i) + "]" : name;
    if (!valid_utf8(texts[i])) bad("field '" + where + "' is not valid UTF-8");
    chars += std::count_if(texts[i].begin(), texts[i].end(),  // lead bytes: code points
                           [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; });
  }
  if (chars > limits.max_chars)
    throw ApiError(413, "the request holds " + std::to_string(chars) +
                            " characters; this server takes at most " +
                            std::to_string(limits.max_chars) + " per request");
  return texts;
}

// An optional whole number in [lo, hi]: a JSON integer, or a string of digits (form fields).
long integer_of(const json& body, const std::string& name, long fallback, long lo, long hi) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  long v = 0;
  if (it->is_number_integer()) {
    v = it->get<long>();
  } else if (const double x = it->is_number_float() ? it->get<double>() : 0.5;
             std::abs(x) < 1e9 && x == std::floor(x)) {  // 3.0 is 3; bounded before the cast
    v = static_cast<long>(x);
  } else if (it->is_string()) {
    const std::string s = it->get<std::string>();
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) {
          return c >= '0' && c <= '9';
        }))
      bad("field '" + name + "' must be a whole number, not \"" + s.substr(0, 40) + "\"");
    v = std::stol(s);
  } else {
    bad("field '" + name + "' must be a whole number, not " + std::string(it->type_name()));
  }
  if (v < lo || v > hi)
    bad("field '" + name + "' is " + std::to_string(v) + "; it must be between " +
        std::to_string(lo) + " and " + std::to_string(hi));
  return v;
}

std::string string_of(const json& body, const std::string& name, const std::string& fallback) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_string()) bad("field '" + name + "' must be a string, not " + std::string(it->type_name()));
  return it->get<std::string>();
}

bool bool_of(const json& body, const std::string& name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) {
    const std::string s = it->get<std::string>();
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0" || s.empty()) return false;
  }
  bad("field '" + name + "' must be true or false");
}

}  // namespace

std::string language_name(const std::string& code) {
  icu::UnicodeString name;
  icu::Locale(code.c_str()).getDisplayLanguage(icu::Locale::getEnglish(), name);
  std::string out;
  name.toUTF8String(out);
  return out.empty() ? code : out;
}

json body_json(const std::string& content_type, const std::string& body,
               const std::multimap<std::string, std::string>& form_fields) {
  // A body that opens with "{" is JSON whatever its Content-Type says (curl -d sends JSON as a
  // form by default, and no form body starts with "{").
  const size_t first = body.find_first_not_of(" \t\r\n");
  const bool is_json = content_type.find("json") != std::string::npos ||
                       (first != std::string::npos && body[first] == '{');
  const bool is_form = has_prefix_ci(content_type, "application/x-www-form-urlencoded") ||
                       has_prefix_ci(content_type, "multipart/form-data");
  if (is_json || (!is_form && form_fields.empty() && !body.empty())) {
    json j;
    try {
      j = json::parse(body);
    } catch (const json::exception& e) {
      bad(std::string("the body is not valid JSON (") + e.what() +
          "); send a JSON object with Content-Type: application/json, or form fields");
    }
    if (!j.is_object()) bad("the body must be a JSON object, not " + std::string(j.type_name()));
    return j;
  }
  json j = json::object();
  for (const auto& [name, value] : form_fields) {
    if (!valid_utf8(name) || !valid_utf8(value))
      bad("form field '" + (valid_utf8(name) ? name : std::string("?")) + "' is not valid UTF-8");
    auto it = j.find(name);
    if (it == j.end()) {
      j[name] = value;
    } else {
      if (!it->is_array()) *it = json::array({*it});
      it->push_back(value);
    }
  }
  return j;
}

TranslateCall parse_libre(const json& body, const LanguagePair& pair, const ApiLimits& limits,
                          const DecodeSettings& defaults) {
  if (!body.is_object()) bad("the body must be a JSON object");
  TranslateCall c;
  const std::string source = string_of(body, "source", "");
  const std::string target = string_of(body, "target", "");
  const std::string served = "this server translates " + pair.source + " to " + pair.target;
  if (source.empty()) bad("missing field 'source' (\"" + pair.source + "\" or \"auto\"); " + served);
  if (target.empty()) bad("missing field 'target' (\"" + pair.target + "\"); " + served);
  if (source != pair.source && source != "auto")
    bad("source language '" + source.substr(0, 40) + "' is not served: " + served + " only");
  if (target != pair.target)
    bad("target language '" + target.substr(0, 40) + "' is not served: " + served + " only");
  c.detected = source == "auto";
  const std::string format = string_of(body, "format", "text");
  if (format != "text")
    bad("format '" + format.substr(0, 40) + "' is not supported: this server translates plain text "
        "(format \"text\")");
  c.texts = texts_of(body, "q", c.array, limits);
  const long alternatives = integer_of(body, "alternatives", 0, 0, limits.max_alternatives);
  c.settings = defaults;
  c.settings.nbest = alternatives + 1;
  c.settings.beam = std::max(defaults.beam, c.settings.nbest);
  c.settings.alignment_layer = -1;
  return c;
}

TranslateCall parse_native(const json& body, const ApiLimits& limits,
                           const DecodeSettings& defaults) {
  if (!body.is_object()) bad("the body must be a JSON object");
  TranslateCall c;
  c.texts = texts_of(body, "text", c.array, limits);
  c.scores = true;
  c.settings.beam = integer_of(body, "beam", defaults.beam, 1, limits.max_beam);
  c.settings.nbest = integer_of(body, "nbest", 1, 1, c.settings.beam);
  c.settings.alignment_layer = bool_of(body, "alignment") ? defaults.alignment_layer : -1;
  const long n = static_cast<long>(c.texts.size());
  if (body.contains("attention") && n == 0) bad("field 'attention' needs a text to show");
  c.attention = integer_of(body, "attention", -1, 0, std::max(0L, n - 1));
  return c;
}

json libre_answer(const TranslateCall& call, const std::vector<std::vector<Translation>>& tr,
                  const LanguagePair& pair) {
  json texts = json::array(), alternatives = json::array();
  for (const auto& ts : tr) {
    texts.push_back(ts.empty() ? std::string() : ts.front().text);
    json alt = json::array();
    for (size_t k = 1; k < ts.size(); ++k) alt.push_back(ts[k].text);
    alternatives.push_back(std::move(alt));
  }
  json out;
  if (call.array) {
    out["translatedText"] = std::move(texts);
    if (call.settings.nbest > 1) out["alternatives"] = std::move(alternatives);
  } else {
    out["translatedText"] = texts.empty() ? json("") : texts[0];
    if (call.settings.nbest > 1)
      out["alternatives"] = alternatives.empty() ? json::array() : alternatives[0];
  }
  if (call.detected) {
    json d = {{"confidence", 100}, {"language", pair.source}};
    out["detectedLanguage"] = call.array ? json(json::array()) : d;
    if (call.array)
      for (size_t i = 0; i < tr.size(); ++i) out["detectedLanguage"].push_back(d);
  }
  return out;
}

json native_answer(const TranslateCall& call, const std::vector<std::vector<Translation>>& tr) {
  json list = json::array();
  for (size_t i = 0; i < tr.size(); ++i) {
    json nbest = json::array();
    for (const Translation& t : tr[i]) {
      json h = {{"text", t.text}, {"score", t.score}, {"log_prob", t.log_prob}, {"tokens", t.tokens}};
      if (call.settings.alignment_layer >= 0) h["alignment"] = t.alignment;
      nbest.push_back(std::move(h));
    }
    list.push_back({{"source", call.texts[i]},
                    {"text", tr[i].empty() ? std::string() : tr[i].front().text},
                    {"nbest", std::move(nbest)}});
  }
  return {{"translations", std::move(list)}};
}

json languages_answer(const LanguagePair& pair) {
  return json::array(
      {{{"code", pair.source}, {"name", pair.source_name}, {"targets", json::array({pair.target})}}});
}

json error_answer(const std::string& message) { return {{"error", message}}; }

}  // namespace spotlight
