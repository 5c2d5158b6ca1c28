// hostile_test.cpp — what the `spotlight` binary does with hostile input, end to end: garbage,
// invalid UTF-8, a 1 MB line, 100k empty lines and Windows line endings given to translate;
// truncated, lying, NaN-holding, mismatched and oversized checkpoints; a training run whose
// checkpoint write fails for lack of space (RLIMIT_FSIZE, as `ulimit -f` sets). Each gets its
// documented result (README, "Guarantees"): a correct translation or a clear error and a
// non-zero exit, with memory bounded and nothing already saved lost.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "spotlight/check.h"
#include "spotlight/rng.h"
#include "spotlight/safetensors.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/trainer.h"
#include "support/cli_run.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using testing::slurp;
namespace fs = std::filesystem;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
  long max_rss_mb = 0;
};


// Runs `spotlight args...` with stdin from `in` (a file; "" for /dev/null), capturing stdout and
// stderr, and its peak RSS. `fsize` > 0 limits the size of files it writes (RLIMIT_FSIZE).
Result run(const std::vector<std::string>& args, const fs::path& tmp, const std::string& in = "",
           long fsize = 0) {
  const fs::path out = tmp / "stdout.txt", err = tmp / "stderr.txt";
  std::vector<char*> argv{const_cast<char*>(SPOTLIGHT_BINARY)};  // built before fork()
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int i = ::open(in.empty() ? "/dev/null" : in.c_str(), O_RDONLY);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (i < 0 || o < 0 || e < 0) _exit(126);
    ::dup2(i, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (fsize > 0) {
      const rlimit lim{static_cast<rlim_t>(fsize), static_cast<rlim_t>(fsize)};
      ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    ::execv(SPOTLIGHT_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  r.max_rss_mb = ru.ru_maxrss / 1024;
  return r;
}

long count(const std::string& s, char c) { return std::count(s.begin(), s.end(), c); }

// A small trained checkpoint, shared by the cases below.
struct Trained {
  testing::ToyRun toy{"hostile"};
  fs::path best;
  Trained() {
    best = toy.train_quietly(40);
  }
  // A copy of the checkpoint to damage.
  fs::path copy(const std::string& name) const {
    const fs::path dst = toy.dir / name;
    fs::remove_all(dst);
    fs::copy(best, dst);
    return dst;
  }
};

Trained& trained() {
  static Trained t;
  return t;
}

// GCC defines __SANITIZE_ADDRESS__ under ASan; clang 14 only answers __has_feature.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPOTLIGHT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(SPOTLIGHT_ASAN)
constexpr long kRssLimitMb = 1500;  // ASan's shadow memory and quarantine
#else
constexpr long kRssLimitMb = 400;
#endif

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("hostile translate input: garbage, invalid UTF-8, a 1 MB line, 100k empty lines, CRLF" * doctest::test_suite("slow")) {
  Trained& t = trained();
  const fs::path& d = t.toy.dir;
  const std::string ck = t.best.string();

  // Reference: a normal line.
  std::ofstream(d / "ok.en") << "the dog runs\n";
  Result ok = run({"translate", "-c", ck, "-i", (d / "ok.en").string()}, d);
  REQUIRE(ok.code == 0);
  REQUIRE(count(ok.out, '\n') == 1);

  SUBCASE("Windows line endings translate as if they were not there") {
    std::ofstream(d / "crlf.en", std::ios::binary) << "the dog runs\r\n\r\nthe dog runs";
    const Result r = run({"translate", "-c", ck, "-i", (d / "crlf.en").string()}, d);
    REQUIRE(r.code == 0);
    CHECK(r.out == ok.out + "\n" + ok.out);  // a last line without "\n" is still a line
  }
  SUBCASE("invalid UTF-8: an error naming the file and line; no output file written") {
    std::ofstream(d / "bad.en", std::ios::binary) << "the dog runs\nthe caf\xe9 runs\n";
    const fs::path out = d / "bad.fr";
    const Result r = run({"translate", "-c", ck, "-i", (d / "bad.en").string(), "-o", out.string()}, d);
    CHECK(r.code == 1);
    CHECK(r.err.find("bad.en:2") != std::string::npos);
    CHECK(r.err.find("UTF-8") != std::string::npos);
    CHECK(!fs::exists(out));
    // The same from stdin names <stdin>.
    const Result s = run({"translate", "-c", ck}, d, (d / "bad.en").string());
    CHECK(s.code == 1);
    CHECK(s.err.find("<stdin>:2") != std::string::npos);
  }
  SUBCASE("binary garbage: refused as invalid UTF-8, or translated when it is valid UTF-8") {
    Rng rng(5);
    std::string bin;
    for (int i = 0; i < 100000; ++i) bin += static_cast<char>(rng.below(256));
    std::ofstream(d / "garbage.bin", std::ios::binary) << bin;
    Result r = run({"translate", "-c", ck, "-i", (d / "garbage.bin").string()}, d);
    CHECK(r.code == 1);
    CHECK(r.err.find("invalid UTF-8") != std::string::npos);
    // Valid UTF-8 noise: control characters, NUL bytes, emoji, combining marks, lone CRs.
    std::string noise;
    const std::string pieces[] = {"\x01", std::string("\0", 1), "\xf0\x9f\x98\x80", "e\xcc\x81",
                                  "\r",   "\t",                 "  ",           "\x7f",
                                  "\xef\xbf\xbf", "dog"};
    long lines = 0;
    for (int i = 0; i < 3000; ++i) {
      noise += pieces[rng.below(10)];
      if (rng.below(20) == 0) {
        noise += "\n";
        ++lines;
      }
    }
    noise += "\n";
    ++lines;
    std::ofstream(d / "noise.en", std::ios::binary) << noise;
    r = run({"translate", "-c", ck, "-i", (d / "noise.en").string()}, d);
    CHECK(r.code == 0);
    CHECK(count(r.out, '\n') == lines);
  }
  SUBCASE("a 1 MB line is truncated to the model's positions with a warning; memory stays bounded") {
    std::string big;
    while (big.size() < (1 << 20)) big += "the red dog runs in the park with a ball ";
    std::ofstream(d / "big.en") << "the dog runs\n" << big << "\nthe dog runs\n";
    const Result r = run({"translate", "-c", ck, "-i", (d / "big.en").string()}, d);
    REQUIRE(r.code == 0);
    CHECK(count(r.out, '\n') == 3);
    CHECK(r.out.rfind(ok.out, 0) == 0);  // the lines around it are unaffected
    CHECK(r.out.substr(r.out.size() - ok.out.size()) == ok.out);
    CHECK(r.err.find("input line 2 is longer than") != std::string::npos);
    MESSAGE("1 MB line: peak RSS " << r.max_rss_mb << " MB");
    CHECK(r.max_rss_mb < kRssLimitMb);
  }
  SUBCASE("100k empty lines give 100k empty lines, quickly and in little memory") {
    std::ofstream(d / "empty.en") << std::string(100000, '\n');
    const Result r = run({"translate", "-c", ck, "-i", (d / "empty.en").string()}, d);
    REQUIRE(r.code == 0);
    CHECK(r.out == std::string(100000, '\n'));
    MESSAGE("100k empty lines: peak RSS " << r.max_rss_mb << " MB");
    CHECK(r.max_rss_mb < kRssLimitMb);
  }
  SUBCASE("empty input gives empty output") {
    const Result r = run({"translate", "-c", ck}, d);
    CHECK(r.code == 0);
    CHECK(r.out.empty());
  }
}

TEST_CASE("hostile checkpoints are refused with a message saying what is wrong") {
  Trained& t = trained();
  const fs::path& d = t.toy.dir;
  std::ofstream(d / "one.en") << "the dog runs\n";
  auto translate = [&](const fs::path& ck) {
    return run({"translate", "-c", ck.string(), "-i", (d / "one.en").string()}, d);
  };
  REQUIRE(translate(t.best).code == 0);
  const std::string weights = slurp(t.best / "model.safetensors");
  uint64_t header_len = 0;
  std::memcpy(&header_len, weights.data(), 8);
  const std::string header = weights.substr(8, header_len);
  auto with_header = [&](const std::string& name, const std::string& new_header) {
    const fs::path ck = t.copy(name);
    std::string h = new_header;
    h.append((8 - h.size() % 8) % 8, ' ');
    const uint64_t n = h.size();
    std::string bytes(reinterpret_cast<const char*>(&n), 8);
    bytes += h + weights.substr(8 + header_len);
    std::ofstream(ck / "model.safetensors", std::ios::binary | std::ios::trunc) << bytes;
    return ck;
  };
  auto expect_refused = [&](const fs::path& ck, const std::string& says) {
    const Result r = translate(ck);
    CAPTURE(ck.string());
    CAPTURE(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find(says) != std::string::npos);
    CHECK(r.max_rss_mb < kRssLimitMb);
  };

  SUBCASE("truncated weights") {
    for (size_t keep : {size_t{0}, size_t{5}, size_t{8} + header_len / 2, weights.size() - 3}) {
      const fs::path ck = t.copy("truncated");
      std::ofstream(ck / "model.safetensors", std::ios::binary | std::ios::trunc)
          << weights.substr(0, keep);
      expect_refused(ck, "model.safetensors");
    }
  }
  SUBCASE("a header whose offsets point outside the file") {
    nlohmann::json h = nlohmann::json::parse(header);
    for (auto& [name, info] : h.items())
      if (name != "__metadata__") info["data_offsets"][1] = info["data_offsets"][1].get<uint64_t>() + (1ULL << 40);
    expect_refused(with_header("offsets", h.dump()), "outside");
  }
  SUBCASE("a header whose shape would overflow the element count") {
    nlohmann::json h = nlohmann::json::parse(header);
    for (auto& [name, info] : h.items())
      if (name != "__metadata__") {
        info["shape"] = {1ULL << 33, 1ULL << 33, 1ULL << 33, 1ULL << 33};
        break;
      }
    expect_refused(with_header("overflow", h.dump()), "shape");
  }
  SUBCASE("a header that is not what safetensors allows") {
    expect_refused(with_header("notjson", "{\"a\": [1, 2"), "header");
    expect_refused(with_header("strings", R"({"x": {"dtype": "F32", "shape": ["1"], "data_offsets": ["0", "4"]}})"),
                   "malformed");
    expect_refused(with_header("metadata", R"({"__metadata__": 5})"), "__metadata__");
  }
  SUBCASE("NaN or infinite weights") {
    for (float bad : {std::nanf(""), INFINITY}) {
      const fs::path ck = t.copy("nan");
      std::string w = weights;
      std::memcpy(w.data() + w.size() - 4 * 7, &bad, 4);
      std::ofstream(ck / "model.safetensors", std::ios::binary | std::ios::trunc) << w;
      expect_refused(ck, "not finite");
    }
  }
  SUBCASE("a vocabulary that does not match the embeddings") {
    const fs::path ck = t.copy("vocab");
    VocabOptions o;
    o.size = 32;  // the checkpoint's has 40 (tiny.json)
    Vocab::train({t.toy.path("train.en")}, (ck / "vocab.model").string(), o);
    expect_refused(ck, "vocabulary");
  }
  SUBCASE("a config describing a far larger model than the weights: refused before allocating it") {
    const fs::path ck = t.copy("huge");
    nlohmann::json c = nlohmann::json::parse(slurp(ck / "config.json"));
    c["model"]["d_model"] = 1 << 16;
    c["model"]["ffn"] = 1 << 20;
    c["model"]["encoder_layers"] = 64;
    std::ofstream(ck / "config.json", std::ios::trunc) << c.dump(2);
    expect_refused(ck, "model.safetensors holds");
    c["model"]["d_model"] = 64;
    c["model"]["ffn"] = 128;
    c["model"]["encoder_layers"] = 2;
    c["model"]["max_positions"] = 1L << 40;
    std::ofstream(ck / "config.json", std::ios::trunc) << c.dump(2);
    expect_refused(ck, "model.max_positions");
  }
  SUBCASE("damaged resume state: a clear error naming the file") {
    const fs::path ck = t.copy("state");
    nlohmann::json st = nlohmann::json::parse(slurp(ck / "trainer_state.json"));
    st["step"] = -4;
    std::ofstream(ck / "trainer_state.json", std::ios::trunc) << st.dump();
    OpenCheckpoint c = open_checkpoint(ck.string());
    Adam adam(c.model->params(), AdamConfig{});
    TrainerState state;
    CHECK_THROWS_WITH_AS(load_training_state(ck.string(), *c.model, {adam, state}),
                         doctest::Contains("trainer_state.json"), Error);
    st["step"] = 1e300;  // a float where a count belongs
    std::ofstream(ck / "trainer_state.json", std::ios::trunc) << st.dump();
    CHECK_THROWS_WITH_AS(load_training_state(ck.string(), *c.model, {adam, state}),
                         doctest::Contains("must be an integer"), Error);
  }
}

TEST_CASE("disk full while writing a checkpoint: a clear error, the previous checkpoint intact") {
  testing::ToyRun toy("diskfull");
  toy.config.train.max_steps = 20;
  toy.config.train.valid_interval = 10;
  toy.config.train.threads = 1;
  std::ofstream(toy.path("cfg.json")) << toy.config.to_json().dump(2);
  const fs::path last = fs::path(toy.config.output_dir) / "checkpoints/last";
  Result r = run({"train", "--config", toy.path("cfg.json")}, toy.dir);
  REQUIRE(r.code == 0);
  const std::string before = slurp(last / "model.safetensors");
  REQUIRE(before.size() > 100000);

  // Files may not grow beyond 64 KB: model.safetensors of the next checkpoint cannot be written.
  r = run({"train", "--config", toy.path("cfg.json"), "--resume", "--set", "train.max_steps=40"},
          toy.dir, "", 64 * 1024);
  CAPTURE(r.err);
  CHECK(r.code == 1);  // an error, not a death by SIGXFSZ
  CHECK(r.err.find("File too large") != std::string::npos);
  CHECK(slurp(last / "model.safetensors") == before);
  for (const auto& e : fs::directory_iterator(last.parent_path()))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  OpenCheckpoint c = open_checkpoint(last.string());
  Adam adam(c.model->params(), AdamConfig{});
  TrainerState st;
  load_training_state(last.string(), *c.model, {adam, st});
  CHECK(st.step == 20);
  // With space again, the run continues from there.
  r = run({"train", "--config", toy.path("cfg.json"), "--resume", "--set", "train.max_steps=40"},
          toy.dir);
  CHECK(r.code == 0);
}

TEST_SUITE_END();
