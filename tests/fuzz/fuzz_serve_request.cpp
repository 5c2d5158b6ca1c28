// fuzz_serve_request.cpp — the server's request rules (serve/api.h) on arbitrary bytes, as
// `spotlight serve` meets them: the body parsed by its Content-Type, then checked as a
// LibreTranslate /translate and a native /v1/translate request, and what is accepted answered.
// Input: the first byte picks the Content-Type (JSON, form, multipart, none); for the form
// kinds the rest is "name=value" lines, else the body itself. The contract: every input is
// either accepted or refused with ApiError (400 or 413, a message that JSON can carry), never
// another exception or a crash; an accepted request stays within the limits.
#include <cstdlib>
#include <map>
#include <string>

#include "fuzz_support.h"
#include "spotlight/serve/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spotlight;
  if (size == 0) return 0;
  static const char* kTypes[] = {"application/json", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", ""};
  const std::string type = kTypes[data[0] % 4];
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::multimap<std::string, std::string> fields;
  if (data[0] % 4 == 1 || data[0] % 4 == 2) {
    size_t start = 0;
    while (start < body.size()) {
      size_t end = body.find('\n', start);
      if (end == std::string::npos) end = body.size();
      const std::string line = body.substr(start, end - start);
      const size_t eq = line.find('=');
      fields.emplace(line.substr(0, eq), eq == std::string::npos ? "" : line.substr(eq + 1));
      start = end + 1;
    }
  }
  const LanguagePair pair{"en", "fr", "English", "French"};
  ApiLimits limits;
  limits.max_texts = 8;
  limits.max_chars = 200;
  const DecodeSettings defaults{4, 1, 3};
  auto check = [&](const TranslateCall& c) {
    long chars = 0;
    for (const std::string& t : c.texts) chars += static_cast<long>(t.size());
    const bool ok = static_cast<long>(c.texts.size()) <= limits.max_texts &&
                    c.settings.beam >= 1 && c.settings.beam <= limits.max_beam &&
                    c.settings.nbest >= 1 && c.settings.nbest <= c.settings.beam &&
                    c.attention < static_cast<long>(c.texts.size());
    if (!ok || chars > 4 * limits.max_chars) {
      std::fprintf(stderr, "an accepted request breaks the limits\n");
      std::abort();
    }
    // The answer to it can be written (invalid UTF-8 cannot reach it: the texts were checked).
    std::vector<std::vector<Translation>> tr(c.texts.size(), {Translation{"x", 0, 0, 1, {}, ""}});
    (void)libre_answer(c, tr, pair).dump();
    (void)native_answer(c, tr).dump();
  };
  auto refusal_is_sound = [](const ApiError& e) {
    if (e.status != 400 && e.status != 413) {
      std::fprintf(stderr, "unexpected status %d\n", e.status);
      std::abort();
    }
    (void)error_answer(e.what()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  fuzz::expect_clean([&] {
    nlohmann::json j;
    try {
      j = body_json(type, body, fields);
    } catch (const ApiError& e) {
      refusal_is_sound(e);
      return;
    }
    try {
      check(parse_libre(j, pair, limits, defaults));
    } catch (const ApiError& e) {
      refusal_is_sound(e);
    }
    try {
      check(parse_native(j, limits, defaults));
    } catch (const ApiError& e) {
      refusal_is_sound(e);
    }
  });
  return 0;
}
