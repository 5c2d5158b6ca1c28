// serve_test.cpp — `spotlight serve` as its clients meet it: the real binary on an ephemeral
// loopback port with a tiny trained model, driven by real HTTP clients (cpp-httplib's client
// and curl). LibreTranslate's request shapes from its documentation answer as `translate` does;
// the native API's n-best, alignment and attention match `translate --nbest` and `attend
// --json`; every bad request gets its status and a JSON error naming the field; a full queue is a
// 429; a client that sends too slowly is cut off while others are answered; SIGTERM finishes the
// requests in flight, answers a new one on an open connection with 503, and exits 0.
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>

#include "support/cli_run.h"
#include "support/pipe_child.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using nlohmann::json;
using testing::PipeChild;
using testing::slurp;
namespace fs = std::filesystem;

namespace {

constexpr double kTimeout = 60.0;  // generous for slow machines and sanitizers

struct Trained {
  testing::ToyRun toy{"serve"};
  fs::path best;
  Trained() { best = toy.train_quietly(60); }
};
Trained& trained() {
  static Trained t;
  return t;
}

// `spotlight serve -c <toy> --port 0 extra...`, its port read from its first line.
struct Server {
  std::unique_ptr<PipeChild> child;
  int port = -1;
  fs::path err;
  explicit Server(const std::vector<std::string>& extra = {}) {
    Trained& t = trained();
    err = t.toy.dir / ("serve_err_" + std::to_string(reinterpret_cast<uintptr_t>(this)) + ".txt");
    std::vector<std::string> args = {"serve", "-c", t.best.string(), "--port", "0", "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    child = std::make_unique<PipeChild>(args, err);
    const auto line = child->read_line(kTimeout);
    REQUIRE_MESSAGE(line.has_value(), "serve printed no address; stderr: " << slurp(err));
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_match(*line, m, std::regex(R"(listening on http://127\.0\.0\.1:(\d+))")),
                    *line);
    port = std::stoi(m[1].str());
  }
  ~Server() {
    if (child) {
      ::kill(child->pid(), SIGTERM);
      child->wait(kTimeout);
    }
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(static_cast<time_t>(kTimeout), 0);
    return c;
  }
  // POST path with a JSON body; the status and the parsed answer.
  std::pair<int, json> post(const std::string& path, const std::string& body,
                            const std::string& type = "application/json") const {
    auto r = client().Post(path.c_str(), body, type.c_str());
    REQUIRE_MESSAGE(r, "no answer from the server: " << httplib::to_string(r.error()));
    return {r->status, json::parse(r->body)};
  }
  std::string metrics() const {
    auto r = client().Get("/metrics");
    REQUIRE(r);
    return r->body;
  }
  // A metric's value ("name{labels}" as written), or -1.
  double metric(const std::string& name) const {
    const std::string t = metrics();
    const size_t at = t.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(t.substr(at + name.size() + 2));
  }
};

// `spotlight translate` of these lines with these flags (the reference).
std::vector<std::string> translate(const std::vector<std::string>& lines,
                                   const std::string& flags = "") {
  Trained& t = trained();
  const fs::path in = t.toy.dir / "ref_in.txt";
  {
    std::ofstream f(in);
    for (const auto& l : lines) f << l << "\n";
  }
  const testing::CliResult r =
      testing::run_cli("translate -c " + t.best.string() + " -i " + in.string() + " " + flags, t.toy.dir);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  std::vector<std::string> out;
  std::istringstream s(r.out);
  for (std::string l; std::getline(s, l);) out.push_back(l);
  return out;
}

// Runs a shell command, returning its stdout.
std::string shell(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

const std::vector<std::string> kTexts = {"the dog runs", "a red ball with the cat",
                                         "the man sits in the park"};

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("serve: LibreTranslate's request shapes answer as translate does") {
  Server s;
  const std::vector<std::string> want = translate(kTexts);
  // The documentation's fetch() example: JSON, source "auto", alternatives, an api_key. Two
  // alternatives are three translations, so the beam grows to 3 (the toy checkpoint's is 2).
  const std::vector<std::string> nbest = translate({kTexts[0]}, "--beam 3 --nbest 3");
  REQUIRE(nbest.size() == 3);
  auto text_of = [](const std::string& line) {  // "0 ||| text ||| F0= ... ||| score"
    const size_t p = line.find(" ||| ") + 5;
    return line.substr(p, line.find(" ||| ", p) - p);
  };
  auto [status, a] = s.post("/translate", json{{"q", kTexts[0]}, {"source", "auto"},
                                               {"target", "fr"}, {"format", "text"},
                                               {"alternatives", 2}, {"api_key", ""}}.dump());
  CHECK(status == 200);
  CHECK(a["translatedText"] == text_of(nbest[0]));
  REQUIRE(a["alternatives"].is_array());
  CHECK(a["alternatives"].size() == 2);
  CHECK(a["detectedLanguage"]["language"] == "en");
  // q as an array: arrays back.
  auto [st2, b] = s.post("/translate", json{{"q", kTexts}, {"source", "en"}, {"target", "fr"}}.dump());
  CHECK(st2 == 200);
  CHECK(b == json{{"translatedText", want}});
  // Form fields (application/x-www-form-urlencoded), as LibreTranslate's HTML clients send.
  httplib::Params form{{"q", kTexts[1]}, {"source", "en"}, {"target", "fr"}};
  auto r = s.client().Post("/translate", form);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body) == json{{"translatedText", translate({kTexts[1]})[0]}});  // alone
  // multipart/form-data, and a real command-line client.
  httplib::MultipartFormDataItems items = {
      {"q", kTexts[2], "", ""}, {"source", "en", "", ""}, {"target", "fr", "", ""}};
  r = s.client().Post("/translate", items);
  REQUIRE(r);
  CHECK(json::parse(r->body) == json{{"translatedText", translate({kTexts[2]})[0]}});
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port);
  CHECK(json::parse(shell("curl -s " + url + "/translate -d 'q=the dog runs' -d source=en "
                          "-d target=fr")) == json{{"translatedText", translate({kTexts[0]})[0]}});
  CHECK(json::parse(shell("curl -s " + url + "/languages")) ==
        json::parse(R"([{"code": "en", "name": "English", "targets": ["fr"]}])"));
  CHECK(json::parse(shell("curl -s " + url + "/health"))["status"] == "ready");
  // The alternatives are translate --nbest's 2nd and 3rd.
  for (size_t k = 0; k < 2; ++k) CHECK(a["alternatives"][k] == text_of(nbest[k + 1]));
  // Every request was counted.
  CHECK(s.metric("spotlight_texts_total") == 7.0);  // 1 + 3 + 1 + 1 + 1
  CHECK(s.metrics().find("spotlight_requests_total{endpoint=\"/metrics\",status=\"200\"}") !=
        std::string::npos);
  CHECK(s.metrics().find("spotlight_requests_total{endpoint=\"/translate\",status=\"200\"} 5\n") !=
        std::string::npos);
}

TEST_CASE("serve: the native API's n-best, alignments and attention match translate and attend") {
  Server s;
  auto [status, a] = s.post("/v1/translate", json{{"text", kTexts}, {"beam", 4}, {"nbest", 2},
                                                  {"alignment", true}, {"attention", 1}}.dump());
  REQUIRE(status == 200);
  const std::vector<std::string> want = translate(kTexts, "--beam 4 --nbest 2 --alignment");
  REQUIRE(want.size() == 6);
  REQUIRE(a["translations"].size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const json& t = a["translations"][i];
    CHECK(t["source"] == kTexts[i]);
    REQUIRE(t["nbest"].size() == 2);
    CHECK(t["text"] == t["nbest"][0]["text"]);
    for (size_t k = 0; k < 2; ++k) {
      const json& h = t["nbest"][k];
      // translate's n-best line: "i ||| text ||| F0= log_prob ||| score ||| alignment"
      const std::string expect = std::to_string(i) + " ||| " + h["text"].get<std::string>() + " ||| ";
      CHECK_MESSAGE(want[2 * i + k].starts_with(expect), want[2 * i + k]);
      CHECK(want[2 * i + k].ends_with(" ||| " + h["alignment"].get<std::string>()));
    }
    CHECK(t["nbest"][0]["score"].get<double>() >= t["nbest"][1]["score"].get<double>());
  }
  // The attention maps are attend --json's for that sentence and its translation.
  Trained& tr = trained();
  const testing::CliResult att = testing::run_cli(
      "attend -c " + tr.best.string() + " --beam 4 --json --src '" + kTexts[1] + "' --tgt '" +
          a["translations"][1]["text"].get<std::string>() + "'",
      tr.toy.dir);
  REQUIRE_MESSAGE(att.code == 0, att.err);
  CHECK(a["attention"] == json::parse(att.out));
}

TEST_CASE("serve: each bad request gets its status and a JSON error that names the problem") {
  Server s({"--max-body", "4000", "--max-texts", "3"});
  struct Case {
    std::string path, body, type;
    int status;
    std::string says;
  };
  const std::string ok = R"("source": "en", "target": "fr")";
  const std::vector<Case> cases = {
      {"/translate", "{\"q\": ", "application/json", 400, "not valid JSON"},
      {"/translate", "{\"q\": 3, " + ok + "}", "application/json", 400, "field 'q' must be"},
      {"/translate", "{\"q\": \"caf\xC3\", " + ok + "}", "application/json", 400, "UTF-8"},
      {"/translate", R"({"q": "a", "source": "de", "target": "fr"})", "application/json", 400,
       "translates en to fr"},
      {"/translate", R"({"q": "a", "source": "en", "target": "fr", "format": "html"})",
       "application/json", 400, "format 'html'"},
      {"/translate", "{\"q\": [\"a\", \"b\", \"c\", \"d\"], " + ok + "}", "application/json", 413,
       "at most 3"},
      {"/translate", "{\"q\": \"" + std::string(5000, 'a') + "\", " + ok + "}", "application/json",
       413, "larger than this server's limit of 4000 bytes"},
      {"/v1/translate", R"({"text": "a", "beam": 99})", "application/json", 400, "'beam' is 99"},
      {"/v1/translate", R"({"text": "a", "beam": 2, "nbest": 3})", "application/json", 400,
       "'nbest'"},
      {"/nowhere", "{}", "application/json", 404, "no such endpoint: POST /nowhere"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body.substr(0, 80));
    auto r = s.client().Post(c.path.c_str(), c.body, c.type.c_str());
    REQUIRE(r);
    CHECK(r->status == c.status);
    const json j = json::parse(r->body, nullptr, false);
    REQUIRE(j.is_object());
    CHECK_MESSAGE(j.value("error", "").find(c.says) != std::string::npos, r->body);
  }
  // The server is unharmed.
  auto [status, a] = s.post("/translate", "{\"q\": \"the dog runs\", " + ok + "}");
  CHECK(status == 200);
}

TEST_CASE("serve: a full queue answers 429 at once, and the queued request is still answered") {
  // Batches wait up to 3 s for company, so the first request stays queued meanwhile.
  Server s({"--max-queue", "4", "--max-wait-ms", "3000", "--max-batch-tokens", "100000"});
  auto first = std::async(std::launch::async, [&] {
    return s.post("/translate", json{{"q", kTexts}, {"source", "en"}, {"target", "fr"}}.dump());
  });
  REQUIRE(testing::wait_until([&] { return s.metric("spotlight_queue_sentences") == 3.0; }, kTimeout));
  auto r = s.client().Post("/translate",
                           json{{"q", {"a", "b"}}, {"source", "en"}, {"target", "fr"}}.dump(),
                           "application/json");
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->get_header_value("Retry-After") == "1");
  CHECK(json::parse(r->body)["error"].get<std::string>().find("queue is full") != std::string::npos);
  const auto [status, a] = first.get();
  CHECK(status == 200);
  CHECK(a["translatedText"] == translate(kTexts));
}

TEST_CASE("serve: a client that sends too slowly is cut off while others are answered") {
  Server s({"--request-timeout", "1", "--idle-timeout", "1"});
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(s.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string head =
      "POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000\r\n\r\n{";
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 60 && !closed; ++i) {  // a byte every 0.25 s: never a read timeout
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (i == 2) {  // meanwhile another client is answered
      auto [status, a] = s.post("/translate", json{{"q", "the dog runs"}, {"source", "en"},
                                                   {"target", "fr"}}.dump());
      CHECK(status == 200);
    }
    char buf[256];
    closed = ::send(fd, " ", 1, MSG_NOSIGNAL) < 0 || ::recv(fd, buf, sizeof buf, MSG_DONTWAIT) == 0;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(fd);
  CHECK(closed);
  CHECK(seconds < 10.0);  // request + idle timeouts (2 s) and the watchdog's tick
  CHECK(slurp(s.err).find("no complete request within 2.0 s") != std::string::npos);
}

TEST_CASE("serve: SIGTERM finishes the requests in flight, then exits 0") {
  auto s = std::make_unique<Server>(std::vector<std::string>{"--max-wait-ms", "1500",
                                                             "--max-batch-tokens", "100000"});
  // A client with a keep-alive connection open before the signal: its next request, sent while
  // the server drains, is answered 503.
  httplib::Client idle("127.0.0.1", s->port);
  idle.set_keep_alive(true);
  idle.set_read_timeout(static_cast<time_t>(kTimeout), 0);
  auto hello = idle.Get("/health");
  REQUIRE(hello);
  CHECK(hello->status == 200);
  auto inflight = std::async(std::launch::async, [&] {
    return s->post("/translate", json{{"q", kTexts}, {"source", "en"}, {"target", "fr"}}.dump());
  });
  REQUIRE(testing::wait_until([&] { return s->metric("spotlight_queue_sentences") == 3.0; }, kTimeout));
  ::kill(s->child->pid(), SIGTERM);
  REQUIRE(testing::wait_until(
      [&] { return slurp(s->err).find("SIGTERM: not accepting") != std::string::npos; }, kTimeout));
  auto late_on_open = idle.Post("/translate",
                                json{{"q", "a dog"}, {"source", "en"}, {"target", "fr"}}.dump(),
                                "application/json");
  REQUIRE(late_on_open);
  CHECK(late_on_open->status == 503);
  CHECK(json::parse(late_on_open->body)["error"] == "the server is shutting down");
  const auto [status, a] = inflight.get();
  CHECK(status == 200);
  CHECK(a["translatedText"] == translate(kTexts));
  CHECK(s->child->wait(kTimeout) == 0);
  const std::string err = slurp(s->err);
  CHECK(err.find("SIGTERM: not accepting new requests") != std::string::npos);
  CHECK(err.find("stopped") != std::string::npos);
  httplib::Client late("127.0.0.1", s->port);
  CHECK_FALSE(late.Get("/health"));  // nobody listens any more
}

TEST_CASE("serve: the page translates and shows the attention maps in a real browser") {
  // tests/browser/page_test.py drives Debian's chromium over the DevTools protocol: it types a
  // sentence, presses Translate, checks the translation, the n-best list and every kind of map,
  // Ctrl+Enter and Tab from the keyboard, and a phone's width.
  Server s;
  const std::vector<std::string> want = translate({"the dog runs"});
  Trained& t = trained();
  const testing::CliResult r = [&] {
    const fs::path out = t.toy.dir / "browser.txt";
    const std::string cmd = "/usr/bin/python3 " + std::string(SPOTLIGHT_SOURCE_DIR) +
                            "/tests/browser/page_test.py http://127.0.0.1:" +
                            std::to_string(s.port) + "/ '" + want[0] + "' > " + out.string() +
                            " 2>&1";
    const int status = std::system(cmd.c_str());
    return testing::CliResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), ""};
  }();
  if (r.code == 77 || r.code == 127) {  // chromium or python3-websocket missing
    MESSAGE((r.out.find("SKIPPED: ") != std::string::npos
                 ? r.out.substr(r.out.find("SKIPPED: "))
                 : std::string("SKIPPED: python3 is not installed")));
    return;
  }
  CHECK_MESSAGE(r.code == 0, r.out);
  CHECK(r.out.find("ok    the translation is shown") != std::string::npos);
}

TEST_CASE("serve: flags are checked before the model loads, and a busy port is a usage error") {
  Trained& t = trained();
  testing::CliResult r = testing::run_cli("serve -c " + t.best.string() + " --port 70000", t.toy.dir);
  CHECK(r.code == 2);
  Server s;
  r = testing::run_cli("serve -c " + t.best.string() + " --port " + std::to_string(s.port), t.toy.dir);
  CHECK(r.code == 2);
  CHECK(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(s.port)) != std::string::npos);
  r = testing::run_cli("serve -c " + t.best.string() + " --max-beam 1 --beam 4", t.toy.dir);
  CHECK(r.code == 2);
  CHECK(r.err.find("--max-beam 1") != std::string::npos);
  r = testing::run_cli("serve --help", t.toy.dir);
  CHECK(r.code == 0);
  CHECK(r.out.find("curl -s localhost:8080/translate") != std::string::npos);
}

TEST_SUITE_END();
