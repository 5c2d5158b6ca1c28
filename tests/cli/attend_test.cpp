// `spotlight attend`, `translate --alignment` and `spotlight plot` end to end on a toy model: the
// page is well-formed and self-contained and holds the same weights as --json; the weights are
// distributions with causal zeros; alignment lines have the Moses format and indices in range;
// the plot is well-formed SVG with every curve; bad input is a clear error.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/cli_run.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using testing::CliResult;
using testing::run_cli;
using testing::slurp;
namespace fs = std::filesystem;

namespace {
// True when every element opened is closed in order (HTML void elements and "/>" need no
// closing tag; script and style bodies are skipped whole). Sets `problem` otherwise.
bool well_formed(const std::string& doc, std::string& problem) {
  static const std::vector<std::string> void_tags = {"meta", "br", "input", "img", "link",
                                                     "hr",   "col", "source", "wbr"};
  std::vector<std::string> open;
  size_t i = 0;
  while ((i = doc.find('<', i)) != std::string::npos) {
    if (doc.compare(i, 4, "<!--") == 0) {
      i = doc.find("-->", i);
      if (i == std::string::npos) return problem = "unclosed comment", false;
      continue;
    }
    const size_t end = doc.find('>', i);
    if (end == std::string::npos) return problem = "unclosed tag at " + std::to_string(i), false;
    std::string tag = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '!' || tag[0] == '?') continue;  // doctype, xml declaration
    const bool closing = tag[0] == '/';
    const bool self_closing = tag.back() == '/';
    std::string name;
    for (char ch : tag.substr(closing ? 1 : 0))
      if (std::isalnum(static_cast<unsigned char>(ch))) name += ch;
      else break;
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (closing) {
      if (open.empty() || open.back() != name)
        return problem = "</" + name + "> closes " + (open.empty() ? "nothing" : open.back()),
               false;
      open.pop_back();
    } else if (!self_closing &&
               std::find(void_tags.begin(), void_tags.end(), name) == void_tags.end()) {
      if (name == "script" || name == "style") {  // raw text up to the closing tag
        i = doc.find("</" + name + ">", i);
        if (i == std::string::npos) return problem = "unclosed " + name, false;
        i += name.size() + 3;
        continue;
      }
      open.push_back(name);
    }
  }
  if (!open.empty()) return problem = "<" + open.back() + "> never closed", false;
  return true;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}
long words(const std::string& s) {
  std::istringstream in(s);
  long n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

// Checks [layer][head][query][key] weights: shape, rows summing to 1 (to the 4 decimals
// written), zeros above the diagonal when causal.
void check_weights(const nlohmann::json& w, size_t layers, size_t heads, size_t q, size_t k,
                   bool causal) {
  REQUIRE(w.size() == layers);
  for (const auto& l : w) {
    REQUIRE(l.size() == heads);
    for (const auto& h : l) {
      REQUIRE(h.size() == q);
      for (size_t i = 0; i < q; ++i) {
        REQUIRE(h[i].size() == k);
        double sum = 0;
        for (size_t j = 0; j < k; ++j) {
          const double x = h[i][j].get<double>();
          CHECK(x >= 0.0);
          if (causal && j > i) CHECK(x == 0.0);
          sum += x;
        }
        CHECK(std::abs(sum - 1.0) <= 5e-5 * static_cast<double>(k));
      }
    }
  }
}
}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("spotlight attend, translate --alignment and plot on a toy model" * doctest::test_suite("slow")) {
  testing::ToyRun toy("attend");
  Config c = toy.config;
  c.train.max_steps = 200;
  c.train.valid_interval = 100;
  std::ofstream(toy.path("cfg.json")) << c.to_json().dump(2);
  const fs::path& t = toy.dir;
  CliResult r = run_cli("train --config " + toy.path("cfg.json"), t);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string ck = (fs::path(c.output_dir) / "checkpoints/best").string();
  const size_t L = 2, H = 4;  // configs/tiny.json

  {  // attend: the page and the raw weights
    r = run_cli("attend -c " + ck + " --src 'the dog runs on the street' -o " + toy.path("v.html"), t);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::string html = slurp(t / "v.html");
    CHECK(html.starts_with("<!DOCTYPE html>"));
    std::string problem;
    CHECK_MESSAGE(well_formed(html, problem), problem);
    CHECK(lower(html).find("http") == std::string::npos);  // no network reference of any kind
    CHECK(html.find(" src=") == std::string::npos);
    CHECK(html.find("<link") == std::string::npos);
    for (const char* part : {"showAttention(D, ", "select(\"layer\"", "select(\"head\"",
                             "cross-attention", "encoder self-attention",
                             "decoder masked self-attention"})
      CHECK(html.find(part) != std::string::npos);
    // The embedded data equals what --json writes.
    const size_t at = html.find("const D = ") + 10;
    const size_t end = html.find(";\nshowAttention(D, ");
    REQUIRE(end != std::string::npos);
    const std::string embedded = html.substr(at, end - at);
    CHECK(embedded.find('<') == std::string::npos);  // escaped as \u003c: cannot end the script
    const auto page = nlohmann::json::parse(embedded);

    r = run_cli("attend -c " + ck + " --src 'the dog runs on the street' --json -o -", t);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j == page);
    const size_t S = j["source_pieces"].size(), T = j["target_pieces"].size();
    CHECK(j["source_pieces"].back() == "</s>");
    CHECK(j["target_pieces"].back() == "</s>");
    CHECK(j["decoder_input_pieces"].front() == "<s>");
    CHECK(j["alignment"]["source_words"].size() == 6);
    check_weights(j["encoder"], L, H, S, S, false);
    check_weights(j["decoder"], L, H, T, T, true);
    check_weights(j["cross"], L, H, T, S, false);
    CHECK(j["alignment"]["pairs"].size() == j["alignment"]["target_words"].size());

    // A given target is force-decoded as given.
    r = run_cli("attend -c " + ck + " --src 'the dog runs' --tgt 'le chien court' --json", t);
    REQUIRE(r.code == 0);
    const auto g = nlohmann::json::parse(r.out);
    CHECK(g["target"] == "le chien court");
    CHECK(g["alignment"]["target_words"] == nlohmann::json({"le", "chien", "court"}));
    check_weights(g["cross"], L, H, g["target_pieces"].size(), g["source_pieces"].size(), false);

    r = run_cli("attend -c " + ck + " --src 'the dog runs' -o " + toy.path("m.svg"), t);
    REQUIRE(r.code == 0);
    const std::string svg = slurp(t / "m.svg");
    CHECK(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK_MESSAGE(well_formed(svg, problem), problem);
    CHECK(svg.find("<rect") != std::string::npos);

    r = run_cli("attend -c " + ck + " --src ''", t);
    CHECK(r.code != 0);
    CHECK(r.err.find("--src") != std::string::npos);
    r = run_cli("attend -c " + ck + " --src 'the dog' --alignment-layer 3", t);
    CHECK(r.code != 0);
    CHECK(r.err.find("2 decoder layers") != std::string::npos);
  }

  {  // translate --alignment: Moses pairs, one per target word, indices in range
    std::ofstream(toy.path("in.en")) << "the dog runs\n\na big red ball with the cat\nthe man\n";
    r = run_cli("translate -c " + ck + " -i " + toy.path("in.en") + " --alignment", t);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::vector<std::string> src = {"the dog runs", "", "a big red ball with the cat",
                                          "the man"};
    std::istringstream out(r.out);
    const std::regex line_re(R"(^(.*) \|\|\| ((\d+-\d+)( \d+-\d+)*)?$)");
    size_t n = 0, diagonal = 0, pairs = 0;
    for (std::string line; std::getline(out, line); ++n) {
      std::smatch m;
      REQUIRE_MESSAGE(std::regex_match(line, m, line_re), line);
      REQUIRE(n < src.size());
      const long sw = words(src[n]), tw = words(m[1].str());
      std::istringstream al(m[2].str());
      long count = 0, last_tgt = -1;
      for (std::string p; al >> p; ++count) {
        const long i = std::stol(p.substr(0, p.find('-'))), jj = std::stol(p.substr(p.find('-') + 1));
        CHECK(i >= 0);
        CHECK(i < sw);
        CHECK(jj == last_tgt + 1);  // target order, every target word once
        last_tgt = jj;
        diagonal += i == jj;
        ++pairs;
      }
      CHECK(count == tw);
    }
    CHECK(n == src.size());
    MESSAGE(diagonal << " of " << pairs << " toy alignments are word k to word k");

    r = run_cli("translate -c " + ck + " -i " + toy.path("in.en") + " --alignment --beam 2 --nbest 2",
            t);
    REQUIRE(r.code == 0);
    std::istringstream nb(r.out);
    const std::regex nbest_re(R"(^\d+ \|\|\| .* \|\|\| -?[0-9.]+ \|\|\| ((\d+-\d+)( \d+-\d+)*)?$)");
    n = 0;
    for (std::string line; std::getline(nb, line); ++n)
      CHECK_MESSAGE(std::regex_match(line, nbest_re), line);
    CHECK(n == 8);
    r = run_cli("translate -c " + ck + " -i " + toy.path("in.en") + " --alignment --alignment-layer 5",
            t);
    CHECK(r.code != 0);
    CHECK(r.err.find("decoder layers") != std::string::npos);
  }

  {  // plot: curves of one and of two runs, and bad metrics files
    const fs::path run_dir = c.output_dir;
    r = run_cli("plot --run " + run_dir.string() + " -o " + toy.path("c.svg"), t);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::string svg = slurp(t / "c.svg");
    std::string problem;
    CHECK(svg.starts_with("<svg "));
    CHECK_MESSAGE(well_formed(svg, problem), problem);
    for (const char* part : {"loss (training solid, validation dashed)", "validation BLEU",
                             "learning rate", "updates", ">run<"})
      CHECK_MESSAGE(svg.find(part) != std::string::npos, part);
    long lines = 0;
    for (size_t k = svg.find("<polyline"); k != std::string::npos; k = svg.find("<polyline", k + 1))
      ++lines;
    CHECK(lines == 4);  // training loss, validation loss, BLEU, learning rate

    // A second run (the same metrics, cut short by a kill mid-line) overlaid, as HTML.
    fs::create_directories(t / "second");
    std::string metrics = slurp(run_dir / "metrics.jsonl");
    std::ofstream(t / "second/metrics.jsonl") << metrics.substr(0, metrics.size() / 2);
    r = run_cli("plot --run " + run_dir.string() + " --run " + (t / "second").string() + " -o " +
                toy.path("c.html"),
            t);
    REQUIRE(r.code == 0);
    const std::string html = slurp(t / "c.html");
    CHECK_MESSAGE(well_formed(html, problem), problem);
    CHECK(lower(html).find("http") == std::string::npos);
    CHECK(html.find(">second<") != std::string::npos);
    CHECK(html.find(">run<") != std::string::npos);

    r = run_cli("plot --run " + (t / "missing").string(), t);
    CHECK(r.code != 0);
    CHECK(r.err.find("missing (give a run directory holding metrics.jsonl") != std::string::npos);
    std::ofstream(t / "second/metrics.jsonl") << "{\"type\":\"train\",\"step\":1,\"loss\":3}\nnot json\n{}\n";
    r = run_cli("plot --run " + (t / "second").string() + " -o " + toy.path("x.svg"), t);
    CHECK(r.code != 0);
    CHECK(r.err.find("metrics.jsonl:2") != std::string::npos);
  }
}

TEST_SUITE_END();
