// api.h — the translation server's requests and answers as values: what a client sent, parsed
// and checked field by field, and the JSON sent back. Two request kinds:
//   LibreTranslate's POST /translate: q (a string or an array of strings), source, target,
//     format ("text"), alternatives (extra translations per text), api_key (ignored), as JSON or
//     as form fields; answered {"translatedText": …, "alternatives": […]} in the shape of q.
//   The native POST /v1/translate: {"text": [...] or "...", "beam": B, "nbest": N,
//     "alignment": bool, "attention": index}; answered with scores, alignments and, for the
//     text at `attention`, every attention map (attend --json's object).
// No HTTP here (src/cli/serve.cpp has it), so the rules are unit-tested and fuzzed alone. Every
// refusal is an ApiError with the HTTP status and a message naming the field.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "spotlight/check.h"
#include "spotlight/decode/translator.h"
#include "spotlight/serve/batcher.h"

namespace spotlight {

struct ApiError : Error {
  ApiError(int code, const std::string& msg) : Error(msg), status(code) {}
  int status;  // 400, 413, 429, 500, 503
};

// What the server accepts from one request.
struct ApiLimits {
  long max_texts = 64;      // texts (q entries) per request
  long max_chars = 10000;   // characters (code points) over all texts of a request
  long max_beam = 16;       // beam a request may ask for
  long max_alternatives = 4;  // LibreTranslate alternatives (n-best − 1)
};

// The language pair the model translates, and the language names for /languages.
struct LanguagePair {
  std::string source, target;            // codes, e.g. "en", "fr"
  std::string source_name, target_name;  // e.g. "English", "French"
};

// The English name of a language code ("fr" → "French", from ICU's locale data; the code itself
// when ICU does not know it).
std::string language_name(const std::string& code);

// A request's body as JSON: the parsed object for application/json, or for form fields
// (application/x-www-form-urlencoded, multipart/form-data) an object of their strings, a
// repeated field as an array. Throws ApiError 400 for invalid JSON or a body that is not an
// object.
nlohmann::json body_json(const std::string& content_type, const std::string& body,
                         const std::multimap<std::string, std::string>& form_fields);

// One parsed translation request.
struct TranslateCall {
  std::vector<std::string> texts;
  bool array = false;      // q / text was an array: answer in the same shape
  DecodeSettings settings;
  bool scores = false;     // native: answer with scores, tokens and alignments
  long attention = -1;     // native: the text whose attention maps to add (-1: none)
  bool detected = false;   // LibreTranslate source "auto": answer with detectedLanguage
};

// POST /translate. defaults: the checkpoint's decode settings (its beam).
TranslateCall parse_libre(const nlohmann::json& body, const LanguagePair& pair,
                          const ApiLimits& limits, const DecodeSettings& defaults);
// POST /v1/translate. defaults.alignment_layer is the layer used when "alignment" is true.
TranslateCall parse_native(const nlohmann::json& body, const ApiLimits& limits,
                           const DecodeSettings& defaults);

// The answers; translations[i] holds texts[i]'s, best first.
nlohmann::json libre_answer(const TranslateCall& call,
                            const std::vector<std::vector<Translation>>& translations,
                            const LanguagePair& pair);
nlohmann::json native_answer(const TranslateCall& call,
                             const std::vector<std::vector<Translation>>& translations);
// GET /languages: the source language with its one target.
nlohmann::json languages_answer(const LanguagePair& pair);
// {"error": message}.
nlohmann::json error_answer(const std::string& message);

}  // namespace spotlight
