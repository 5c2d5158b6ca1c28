// Usage mistakes, as getopt-style tools and get_data.sh treat them: exit status 2 and one line
// that names the mistake and suggests the fix; --help and --version are no mistakes (status 0);
// errors from user input never show the build's source paths.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli/usage.h"
#include "support/cli_run.h"

using namespace spotlight;
using testing::CliResult;
using testing::run_cli;
namespace fs = std::filesystem;

namespace {
fs::path scratch(const char* name) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}
long lines_of(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }
bool shows_source_path(const std::string& s) {
  return s.find(".cpp") != std::string::npos || s.find(".h:") != std::string::npos ||
         s.find(SPOTLIGHT_SOURCE_DIR) != std::string::npos;
}
}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("closest_match suggests only near words") {
  const std::vector<std::string> commands = {"train", "translate", "eval", "score", "bleu"};
  CHECK(closest_match("translat", commands) == "translate");
  CHECK(closest_match("tarin", commands) == "train");
  CHECK(closest_match("evl", commands) == "eval");
  CHECK(closest_match("xyzzy", commands).empty());
  CHECK(closest_match("serve", commands).empty());  // 3 edits from "score" in 5 letters: no
  CHECK(closest_match("--bem", {"--beam", "--batch-size"}) == "--beam");
}

TEST_CASE("usage errors exit 2 with one line naming the mistake and the fix") {
  const fs::path dir = scratch("spotlight_usage_test");
  struct Case {
    std::string args, says;
  };
  const std::vector<Case> cases = {
      {"translat", "unknown command 'translat'; did you mean 'translate'?"},
      {"xyzzy", "unknown command 'xyzzy'"},
      {"", "no command given"},
      {"translate -c ckpt --bem 3", "unknown option '--bem'; did you mean '--beam'?"},
      {"translate -c ckpt --beam 0", "--beam: expected a number above 0, got 0"},
      {"translate -c ckpt --patience 0", "--patience: expected a value in [0.01, 1000], got 0"},
      {"translate --beam 3", "--checkpoint"},  // the required option, named
      {"eval -c ckpt --src a.en --ref a.fr --tokenize intl", "--tokenize"},
      {"train --config no_such.json", "no_such.json"},
      {"translate -c ckpt --gemm mkl", "--gemm: unknown GEMM backend 'mkl' (openblas or onednn)"},
      {"translate -c ckpt --compute-type int4", "--compute-type"},
      {"bench --gemm cublas", "--gemm: unknown GEMM backend 'cublas'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const CliResult r = run_cli(c.args, dir);
    CHECK(r.code == 2);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(lines_of(r.err) == 1);
    CHECK(r.out.empty());
  }
  {  // a bad SPOTLIGHT_GEMM is a usage error before any work, naming the variable
    const char* saved = std::getenv("SPOTLIGHT_GEMM");
    const std::string keep = saved != nullptr ? saved : "";
    setenv("SPOTLIGHT_GEMM", "blis", 1);
    const CliResult r = run_cli("translate -c ckpt", dir);
    if (saved != nullptr) setenv("SPOTLIGHT_GEMM", keep.c_str(), 1); else unsetenv("SPOTLIGHT_GEMM");
    CHECK(r.code == 2);
    CHECK(r.err.find("SPOTLIGHT_GEMM (environment): unknown GEMM backend 'blis'") != std::string::npos);
    CHECK(lines_of(r.err) == 1);
  }
  for (const char* ok : {"--help", "--version", "translate --help"}) {
    CAPTURE(ok);
    CHECK(run_cli(ok, dir).code == 0);
  }
}

TEST_CASE("errors from user input show no source paths of the build") {
  const fs::path dir = scratch("spotlight_usage_paths_test");
  std::ofstream(dir / "bad.json") << R"({"train": {"lr": "fast"}})";
  CliResult r = run_cli("train --config " + (dir / "bad.json").string(), dir);
  CHECK(r.code == 1);
  CHECK(r.err.find("train.lr: expected a number") != std::string::npos);
  CHECK_FALSE(shows_source_path(r.err));
  r = run_cli("info -c " + (dir / "no_such_checkpoint").string(), dir);
  CHECK(r.code != 0);
  CHECK(r.err.find("no_such_checkpoint") != std::string::npos);
  CHECK_FALSE(shows_source_path(r.err));
}

TEST_SUITE_END();
