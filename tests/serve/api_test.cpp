// api_test.cpp — the server's request rules without a server: LibreTranslate's request shapes
// (q as a string or an array, JSON or form fields, source "auto", alternatives) parse as its
// clients mean them; each bad field is refused with its status and a message naming it; the
// answers have LibreTranslate's shape; the Prometheus text is well formed.
#include <doctest/doctest.h>

#include "spotlight/serve/api.h"
#include "spotlight/serve/metrics.h"

using namespace spotlight;
using nlohmann::json;

namespace {

const LanguagePair kPair{"en", "fr", "English", "French"};
const ApiLimits kLimits{};  // 64 texts, 10,000 characters, beam 16, 4 alternatives
const DecodeSettings kDefaults{5, 1, 2};  // the checkpoint's beam 5; alignment layer 2

// The status and message of the ApiError that f throws (0, "" when it throws none).
template <class F>
std::pair<int, std::string> refusal(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return {e.status, e.what()};
  }
  return {0, ""};
}

TranslateCall libre(const json& body) { return parse_libre(body, kPair, kLimits, kDefaults); }

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("LibreTranslate requests: q as a string or an array, JSON or form fields") {
  TranslateCall c = libre({{"q", "a dog"}, {"source", "en"}, {"target", "fr"}});
  CHECK(c.texts == std::vector<std::string>{"a dog"});
  CHECK_FALSE(c.array);
  CHECK(c.settings.beam == 5);  // the checkpoint's
  CHECK(c.settings.nbest == 1);
  CHECK(c.settings.alignment_layer == -1);
  CHECK_FALSE(c.detected);

  c = libre({{"q", {"a dog", "", "a cat"}}, {"source", "auto"}, {"target", "fr"},
             {"format", "text"}, {"api_key", "ignored"}, {"alternatives", 3}});
  CHECK(c.texts == std::vector<std::string>{"a dog", "", "a cat"});
  CHECK(c.array);
  CHECK(c.detected);
  CHECK(c.settings.nbest == 4);  // the best and 3 alternatives
  CHECK(c.settings.beam == 5);

  // Form fields arrive as strings: alternatives "2" is a number; a repeated q is an array.
  const json form = body_json("application/x-www-form-urlencoded", "q=a+dog&source=en",
                              {{"q", "a dog"}, {"source", "en"}, {"target", "fr"},
                               {"alternatives", "6"}});
  const auto [status, msg] = refusal([&] { libre(form); });
  CHECK(status == 400);  // 6 alternatives are above this server's 4
  CHECK(msg.find("'alternatives'") != std::string::npos);
  c = libre(body_json("multipart/form-data; boundary=x", "",
                      {{"q", "one"}, {"q", "two"}, {"source", "en"}, {"target", "fr"},
                       {"alternatives", "2"}}));
  CHECK(c.texts == std::vector<std::string>{"one", "two"});
  CHECK(c.array);
  CHECK(c.settings.nbest == 3);
  CHECK(c.settings.beam == 5);
  // A beam below the n-best asked for grows to it.
  c = parse_libre({{"q", "x"}, {"source", "en"}, {"target", "fr"}, {"alternatives", 3}}, kPair,
                  kLimits, DecodeSettings{1, 1, -1});
  CHECK(c.settings.beam == 4);
  // JSON whatever the Content-Type says, when the body is an object (curl -d sends a form type).
  CHECK(body_json("application/x-www-form-urlencoded", " {\"q\": \"x\"}", {{" {\"q\": \"x\"}", ""}}) ==
        json{{"q", "x"}});
  CHECK(body_json("", "", {}) == json::object());
}

TEST_CASE("LibreTranslate requests: each bad field is a 400 or 413 that names it") {
  const json ok = {{"q", "a dog"}, {"source", "en"}, {"target", "fr"}};
  auto with = [&](const std::string& key, const json& v) {
    json b = ok;
    if (v.is_null())
      b.erase(key);
    else
      b[key] = v;
    return refusal([&] { libre(b); });
  };
  struct Case {
    std::string key;
    json value;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"q", nullptr, 400, "missing field 'q'"},
      {"q", 5, 400, "field 'q' must be a string or an array of strings, not number"},
      {"q", {"a", 3}, 400, "field 'q[1]' must be a string"},
      {"q", std::string("caf\xC3", 4), 400, "field 'q' is not valid UTF-8"},
      {"q", json(std::vector<std::string>(65, "x")), 413, "at most 64 per request"},
      {"q", std::string(10001, 'a'), 413, "10001 characters; this server takes at most 10000"},
      {"source", nullptr, 400, "missing field 'source'"},
      {"source", "de", 400, "source language 'de' is not served: this server translates en to fr"},
      {"source", 7, 400, "field 'source' must be a string"},
      {"target", "es", 400, "target language 'es' is not served: this server translates en to fr"},
      {"format", "html", 400, "format 'html' is not supported"},
      {"alternatives", -1, 400, "field 'alternatives' is -1; it must be between 0 and 4"},
      {"alternatives", "two", 400, "field 'alternatives' must be a whole number"},
      {"alternatives", 1.5, 400, "field 'alternatives' must be a whole number"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.key);
    CAPTURE(c.value.dump().substr(0, 60));
    const std::pair<int, std::string> r = with(c.key, c.value);
    CHECK(r.first == c.status);
    CHECK_MESSAGE(r.second.find(c.says) != std::string::npos, r.second);
  }
  // 10,000 characters are fine even when they take 30,000 bytes.
  std::string wide;
  for (int i = 0; i < 10000; ++i) wide += "\xE2\x82\xAC";  // €
  CHECK(with("q", wide).first == 0);
  // Bodies that are not objects, or not JSON at all.
  CHECK(refusal([] { body_json("application/json", "{\"q\": ", {}); }).first == 400);
  CHECK(refusal([] { body_json("application/json", "[1, 2]", {}); }).second.find("JSON object") !=
        std::string::npos);
  CHECK(refusal([] { body_json("application/json", "\"q\"", {}); }).first == 400);
  CHECK(refusal([] {
          body_json("application/x-www-form-urlencoded", "", {{"q", std::string("\xFF")}});
        }).second.find("not valid UTF-8") != std::string::npos);
}

TEST_CASE("native requests: beam, n-best, alignment and attention are checked") {
  const TranslateCall c = parse_native(
      {{"text", {"a dog", "a cat"}}, {"beam", 4}, {"nbest", 3}, {"alignment", true}, {"attention", 1}},
      kLimits, kDefaults);
  CHECK(c.texts.size() == 2);
  CHECK(c.settings.beam == 4);
  CHECK(c.settings.nbest == 3);
  CHECK(c.settings.alignment_layer == 2);  // the default layer
  CHECK(c.attention == 1);
  CHECK(c.scores);
  const TranslateCall d = parse_native({{"text", "a dog"}}, kLimits, kDefaults);
  CHECK(d.settings.beam == 5);
  CHECK(d.settings.alignment_layer == -1);
  CHECK(d.attention == -1);
  auto refused = [&](const json& b) { return refusal([&] { parse_native(b, kLimits, kDefaults); }); };
  CHECK(refused({{"text", "x"}, {"beam", 17}}).second.find("'beam' is 17") != std::string::npos);
  CHECK(refused({{"text", "x"}, {"beam", 2}, {"nbest", 3}}).second.find("between 1 and 2") !=
        std::string::npos);
  CHECK(refused({{"text", "x"}, {"attention", 1}}).second.find("'attention' is 1") !=
        std::string::npos);
  CHECK(refused({{"text", "x"}, {"alignment", "maybe"}}).second.find("'alignment'") !=
        std::string::npos);
  CHECK(refused({{"q", "x"}}).second.find("missing field 'text'") != std::string::npos);
}

TEST_CASE("answers have LibreTranslate's shape: a string for a string, arrays for an array") {
  Translation a{"un chien", -1.0, -0.5, 2, {}, ""}, b{"le chien", -2.0, -1.0, 2, {}, ""};
  TranslateCall one = libre({{"q", "a dog"}, {"source", "en"}, {"target", "fr"}});
  CHECK(libre_answer(one, {{a}}, kPair) == json{{"translatedText", "un chien"}});
  TranslateCall alt = libre({{"q", "a dog"}, {"source", "auto"}, {"target", "fr"}, {"alternatives", 1}});
  CHECK(libre_answer(alt, {{a, b}}, kPair) ==
        json{{"translatedText", "un chien"},
             {"alternatives", {"le chien"}},
             {"detectedLanguage", {{"confidence", 100}, {"language", "en"}}}});
  TranslateCall many =
      libre({{"q", {"a dog", "a dog"}}, {"source", "en"}, {"target", "fr"}, {"alternatives", 1}});
  CHECK(libre_answer(many, {{a, b}, {b}}, kPair) ==
        json{{"translatedText", {"un chien", "le chien"}},
             {"alternatives", {{"le chien"}, json::array()}}});
  CHECK(languages_answer(kPair) ==
        json::parse(R"([{"code": "en", "name": "English", "targets": ["fr"]}])"));
  CHECK(language_name("fr") == "French");
  CHECK(language_name("en") == "English");
  CHECK(error_answer("no") == json{{"error", "no"}});
  const json native = native_answer(parse_native({{"text", "a dog"}, {"alignment", true}}, kLimits,
                                                 kDefaults),
                                    {{Translation{"un chien", -1.0, -0.5, 2, {5, 6}, "0-0 1-1"}}});
  CHECK(native["translations"][0]["text"] == "un chien");
  CHECK(native["translations"][0]["nbest"][0]["alignment"] == "0-0 1-1");
  CHECK(native["translations"][0]["nbest"][0]["score"] == -0.5);
}

TEST_CASE("metrics are Prometheus text: cumulative buckets, sums and counts") {
  ServerMetrics m;
  m.request("/translate", 200, 0.003);
  m.request("/translate", 200, 0.2);
  m.request("/translate", 400, 0.0001);
  BatchReport b;
  b.sentences = 3;
  b.output_tokens = 20;
  m.batch(b);
  const std::string t = m.text(7);
  CHECK(t.find("spotlight_requests_total{endpoint=\"/translate\",status=\"200\"} 2\n") !=
        std::string::npos);
  CHECK(t.find("spotlight_requests_total{endpoint=\"/translate\",status=\"400\"} 1\n") !=
        std::string::npos);
  CHECK(t.find("spotlight_request_duration_seconds_bucket{le=\"0.001\"} 1\n") != std::string::npos);
  CHECK(t.find("spotlight_request_duration_seconds_bucket{le=\"0.005\"} 2\n") != std::string::npos);
  CHECK(t.find("spotlight_request_duration_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(t.find("spotlight_request_duration_seconds_count 3\n") != std::string::npos);
  CHECK(t.find("spotlight_batch_sentences_bucket{le=\"2\"} 0\n") != std::string::npos);
  CHECK(t.find("spotlight_batch_sentences_bucket{le=\"4\"} 1\n") != std::string::npos);
  CHECK(t.find("spotlight_sentences_total 3\n") != std::string::npos);
  CHECK(t.find("spotlight_queue_sentences 7\n") != std::string::npos);
  // Every line is a comment or "name{labels} value".
  size_t start = 0;
  for (size_t end; (end = t.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = t.substr(start, end - start);
    CAPTURE(line);
    CHECK((line.starts_with("# HELP ") || line.starts_with("# TYPE ") ||
           line.find(' ') != std::string::npos));
  }
}

TEST_SUITE_END();
