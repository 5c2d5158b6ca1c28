// `spotlight bleu` as a sacreBLEU user runs it: the hypothesis from stdin or --hyp/-i, several
// references (-r R1 R2, repeated -r, or positional), sacreBLEU 2's `-f text` layout with
// Spotlight's version in the signatures, and clear errors for missing or mismatched files.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "spotlight/eval/bleu.h"
#include "support/cli_run.h"
#include "support/text_files.h"

using namespace spotlight;
using namespace spotlight::testing;

namespace {

struct BleuFiles {
  TempDir tmp{"bleu_cli"};
  BleuFiles() {
    // sacreBLEU's README example: three sentences, two references each.
    write("hyp.txt", "The dog bit the man.\nIt wasn't surprising.\nThe man had just bitten him.\n");
    write("ref1.txt", "The dog bit the man.\nIt was not unexpected.\nThe man bit him first.\n");
    write("ref2.txt",
          "The dog had bit the man.\nNo one was surprised.\nThe man had bitten the dog.\n");
    write("short.txt", "one line\n");
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(tmp.file(name)) << text;
  }
  std::string f(const std::string& name) const { return tmp.file(name); }
  CliResult run(const std::string& args) const { return run_cli("bleu " + args, tmp.path); }
};

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("spotlight bleu: stdin, several references, sacreBLEU's text layout") {
  BleuFiles t;
  const std::string v = signature_version();
  // One reference, the hypothesis on stdin.
  CliResult r = t.run("-r " + t.f("ref1.txt") + " < " + t.f("hyp.txt"));
  REQUIRE(r.code == 0);
  const std::regex bleu_line(
      R"(BLEU\|nrefs:1\|case:mixed\|eff:no\|tok:13a\|smooth:exp\|version:)" + v +
      R"( = [0-9]+\.[0-9]{2} [0-9]+\.[0-9]/[0-9]+\.[0-9]/[0-9]+\.[0-9]/[0-9]+\.[0-9] \(BP = [0-9]\.[0-9]{3} ratio = [0-9]\.[0-9]{3} hyp_len = [0-9]+ ref_len = [0-9]+\))");
  const std::regex chrf_line(
      R"(chrF2\|nrefs:1\|case:mixed\|eff:yes\|nc:6\|nw:0\|space:no\|version:)" + v +
      R"( = [0-9]+\.[0-9]{2})");
  const auto nl = r.out.find('\n');
  REQUIRE(nl != std::string::npos);
  CAPTURE(r.out);
  CHECK(std::regex_match(r.out.substr(0, nl), bleu_line));
  CHECK(std::regex_match(r.out.substr(nl + 1, r.out.size() - nl - 2), chrf_line));
  CHECK(r.out.back() == '\n');
  // --hyp and -i give the same as stdin.
  CHECK(t.run("-r " + t.f("ref1.txt") + " --hyp " + t.f("hyp.txt")).out == r.out);
  CHECK(t.run("-r " + t.f("ref1.txt") + " -i " + t.f("hyp.txt")).out == r.out);
  CHECK(t.run("-r " + t.f("ref1.txt") + " --hyp - < " + t.f("hyp.txt")).out == r.out);

  // Two references: sacreBLEU's README numbers, whichever way they are given.
  r = t.run("-r " + t.f("ref1.txt") + " " + t.f("ref2.txt") + " < " + t.f("hyp.txt"));
  REQUIRE(r.code == 0);
  CHECK(r.out ==
        "BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:" + v +
            " = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)\n"
            "chrF2|nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" +
            v + " = 59.73\n");
  CHECK(t.run("-r " + t.f("ref1.txt") + " -r " + t.f("ref2.txt") + " < " + t.f("hyp.txt")).out ==
        r.out);
  CHECK(t.run(t.f("ref1.txt") + " " + t.f("ref2.txt") + " -i " + t.f("hyp.txt")).out == r.out);
  CHECK(t.run("--ref " + t.f("ref1.txt") + " " + t.f("ref2.txt") + " < " + t.f("hyp.txt")).out ==
        r.out);

  // --json: sacreBLEU's fields per metric.
  r = t.run("-r " + t.f("ref1.txt") + " " + t.f("ref2.txt") + " --json < " + t.f("hyp.txt"));
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["bleu"]["name"] == "BLEU");
  CHECK(j["bleu"]["signature"] == "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:" + v);
  CHECK(j["bleu"]["verbose_score"] ==
        "82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
  CHECK(j["bleu"]["ref_len"] == 18);
  CHECK(j["chrf"]["name"] == "chrF2");
  CHECK(std::round(j["chrf"]["score"].get<double>() * 100) == 5973);
}

TEST_CASE("spotlight bleu: missing and mismatched files are named, with their line counts") {
  BleuFiles t;
  // A line count that differs: both files and both counts, exit 1.
  CliResult r = t.run("-r " + t.f("ref1.txt") + " " + t.f("short.txt") + " < " + t.f("hyp.txt"));
  CHECK(r.code == 1);
  CHECK(r.err.find("<stdin> has 3 lines but " + t.f("short.txt") + " has 1") != std::string::npos);
  r = t.run("-r " + t.f("short.txt") + " --hyp " + t.f("hyp.txt"));
  CHECK(r.code == 1);
  CHECK(r.err.find(t.f("hyp.txt") + " has 3 lines but " + t.f("short.txt") + " has 1") !=
        std::string::npos);
  // Missing files, a directory, no reference at all: usage errors (exit 2) naming the flag.
  r = t.run("-r " + t.f("nope.txt") + " < " + t.f("hyp.txt"));
  CHECK(r.code == 2);
  CHECK(r.err.find("--ref " + t.f("nope.txt") + ": no such file") != std::string::npos);
  r = t.run("-r " + t.f("ref1.txt") + " --hyp " + t.f("nope.txt"));
  CHECK(r.code == 2);
  CHECK(r.err.find("--hyp " + t.f("nope.txt") + ": no such file") != std::string::npos);
  r = t.run("-r " + t.tmp.path.string() + " < " + t.f("hyp.txt"));
  CHECK(r.code == 2);
  CHECK(r.err.find("is a directory") != std::string::npos);
  r = t.run("< " + t.f("hyp.txt"));
  CHECK(r.code == 2);
  CHECK(r.err.find("no reference file") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_SUITE_END();
