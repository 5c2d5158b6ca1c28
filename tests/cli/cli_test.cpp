// The `spotlight` binary end to end on generated data: train, translate (order kept, empty lines
// kept, n-best), eval, score, bleu, average, info, bench; --help everywhere; bad input exits
// non-zero with a message naming the problem.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "support/cli_run.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using testing::CliResult;
using testing::run_cli;
namespace fs = std::filesystem;

namespace {
long count_lines(const std::string& s) {
  return static_cast<long>(std::count(s.begin(), s.end(), '\n'));
}
}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("spotlight CLI: train, translate, eval, score, bleu, average, info" * doctest::test_suite("slow")) {
  testing::ToyRun toy("cli");
  Config c = toy.config;
  c.train.max_steps = 120;
  c.train.valid_interval = 60;
  std::ofstream(toy.path("cfg.json")) << c.to_json().dump(2);
  const fs::path& t = toy.dir;

  CliResult r = run_cli("train --config " + toy.path("cfg.json") + " --set train.log_interval=20", t);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("valid | step 120") != std::string::npos);
  const std::string best = (fs::path(c.output_dir) / "checkpoints/best").string();

  // translate: one line out per line in, order kept, empty lines stay empty.
  std::ofstream(toy.path("in.en")) << "the dog runs\n\na red ball\nthe cat sits on the street\n";
  r = run_cli("translate -c " + best + " -i " + toy.path("in.en") + " -o " + toy.path("out.fr"), t);
  REQUIRE(r.code == 0);
  std::ifstream f(toy.path("out.fr"));
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  REQUIRE(lines.size() == 4);
  CHECK(!lines[0].empty());
  CHECK(lines[1].empty());
  // Sorting by length internally must not reorder: each line alone gives the same output.
  r = run_cli("translate -c " + best + " < " + toy.path("in.en"), t);
  CHECK(r.out == lines[0] + "\n\n" + lines[2] + "\n" + lines[3] + "\n");
  r = run_cli("translate -c " + best + " -i " + toy.path("in.en") + " --nbest 2 --beam 3", t);
  CHECK(count_lines(r.out) == 8);
  CHECK(r.out.rfind("3 ||| ", std::string::npos) != std::string::npos);

  // eval and bleu agree on the same translations.
  r = run_cli("eval -c " + best + " --src " + c.data.valid[0] + " --ref " + c.data.valid[1] +
              " --greedy --json --hyp-out " + toy.path("valid.hyp"),
          t);
  REQUIRE(r.code == 0);
  const auto ev = nlohmann::json::parse(r.out);
  CHECK(ev["bleu"]["score"].get<double>() > 5.0);
  r = run_cli("bleu --ref " + c.data.valid[1] + " --hyp " + toy.path("valid.hyp") + " --json", t);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["bleu"]["score"] == ev["bleu"]["score"]);
  // --patience reaches the search and the report; n-best beyond patience·beam is refused.
  r = run_cli("eval -c " + best + " --src " + c.data.valid[0] + " --ref " + c.data.valid[1] +
              " --beam 3 --patience 2 --json",
          t);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["decode"]["patience"] == 2.0);
  r = run_cli("translate -c " + best + " -i " + toy.path("in.en") + " --nbest 3 --beam 3 --patience 0.5", t);
  CHECK(r.code != 0);
  CHECK(r.err.find("needs patience") != std::string::npos);

  // score: one line per pair.
  r = run_cli("score -c " + best + " --src " + c.data.valid[0] + " --tgt " + c.data.valid[1], t);
  REQUIRE(r.code == 0);
  CHECK(count_lines(r.out) == 40);

  // average and info.
  const fs::path ck = fs::path(c.output_dir) / "checkpoints";
  r = run_cli("average --out " + (ck / "avg").string() + " " + (ck / "step_60").string() + " " +
              (ck / "step_120").string(),
          t);
  CHECK(r.code == 0);
  r = run_cli("info -c " + (ck / "avg").string(), t);
  CHECK(r.code == 0);
  CHECK(r.out.find("no trainer state") != std::string::npos);
  r = run_cli("info -c " + best + " --json", t);
  CHECK(nlohmann::json::parse(r.out)["trainer_state"]["step"] == 120);

  // bench: the JSON schema scripts/bench.sh and the speed issue rely on.
  r = run_cli("bench -c " + best + " --src " + c.data.valid[0] +
              " --threads 2 --runs 2 --steps 2 --warmup 1 --sentences 5 --no-sgemm --json",
          t);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["train"]["threads"] == 2);
  CHECK(j["train"]["tgt_tokens_per_s"].get<double>() > 0);
  CHECK(j["train"]["ms_per_step"].get<double>() > 0);
  CHECK(j["train"]["tgt_tokens_per_s_stat"]["runs"].size() == 2);
  for (const char* m : {"greedy", "beam5"}) {
    CAPTURE(m);
    CHECK(j["decode"][m]["sentences_per_s"].get<double>() > 0);
    CHECK(j["decode"][m]["tgt_tokens_per_s"].get<double>() > 0);
    CHECK(j["decode"][m]["sentences"] == 5);
  }
  CHECK(j["peak_rss_mb"].get<double>() > 0);
}

TEST_CASE("spotlight CLI: every command has --help with examples and bad input exits non-zero") {
  testing::ToyRun toy("cli_help", 10, 5);
  for (const char* cmd :
       {"train", "prepare", "translate", "eval", "score", "bleu", "average", "info", "bench", "attend",
        "plot"}) {
    CAPTURE(cmd);
    const CliResult r = run_cli(std::string(cmd) + " --help", toy.dir);
    CHECK(r.code == 0);
    CHECK(r.out.find("Examples:") != std::string::npos);
  }
  std::ofstream(toy.path("bad.json")) << R"({"train": {"lr": "fast"}})";
  CliResult r = run_cli("train --config " + toy.path("bad.json"), toy.dir);
  CHECK(r.code == 1);
  CHECK(r.err.find("train.lr: expected a number") != std::string::npos);
  r = run_cli("train --config " + toy.path("nope.json"), toy.dir);
  CHECK(r.code != 0);
  r = run_cli("translate -c " + toy.path("no_such_checkpoint") + " -i " + toy.path("train.en"),
          toy.dir);
  CHECK(r.code == 1);
  CHECK(r.err.find("no_such_checkpoint") != std::string::npos);
  r = run_cli("bleu --ref " + toy.path("train.en") + " --hyp " + toy.path("valid.en"), toy.dir);
  CHECK(r.code == 1);
  CHECK(r.err.find("has 10") != std::string::npos);
}

TEST_CASE("spotlight prepare encodes every corpus once, then train starts from the stores") {
  testing::ToyRun toy("cli_prepare", 300, 20);
  Config c = toy.config;
  c.data.store = toy.path("stores");
  c.data.train.push_back({c.data.valid[0], c.data.valid[1], 2.0});  // a second, weighted corpus
  c.train.max_steps = 3;
  std::ofstream(toy.path("cfg.json")) << c.to_json().dump(2);
  CliResult r = run_cli("prepare --config " + toy.path("cfg.json") + " --json", toy.dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(count_lines(r.out) == 3);  // two training corpora and the validation corpus
  CHECK(r.out.find("\"encoded\":true") != std::string::npos);
  CHECK(r.out.find("\"pairs\":300") != std::string::npos);
  long stores = 0;
  for (const auto& e : fs::directory_iterator(toy.path("stores"))) stores += e.path().extension() == ".store";
  CHECK(stores == 2);  // the validation pair is also the second corpus: one store
  r = run_cli("prepare --config " + toy.path("cfg.json"), toy.dir);
  CHECK(r.code == 0);
  CHECK(r.out.find("current, kept") != std::string::npos);
  CHECK(r.err.find("encoding") == std::string::npos);
  // Training uses them as they are, with the weights.
  r = run_cli("train --config " + toy.path("cfg.json"), toy.dir);
  CHECK(r.code == 0);
  CHECK(r.err.find("encoding") == std::string::npos);
  CHECK(r.err.find("340 pairs drawn per epoch") != std::string::npos);  // 300 + 2·20
  // A corpus whose sides differ in length: refused with both counts, nothing written.
  std::ofstream(toy.path("short.fr")) << "un\n";
  r = run_cli("prepare --config " + toy.path("cfg.json") + " --set 'data.train=[\"" +
                  c.data.train[0].src + "\",\"" + toy.path("short.fr") + "\"]' --set vocab.path=" + toy.path("v2.model"),
              toy.dir);
  CHECK(r.code == 1);
  CHECK(r.err.find("has 300 lines but " + toy.path("short.fr") + " has 1") != std::string::npos);
}

TEST_SUITE_END();
