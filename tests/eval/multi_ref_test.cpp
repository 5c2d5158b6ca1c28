// BLEU and chrF with several references per sentence, as sacreBLEU 2 computes them: n-gram
// counts clipped by the maximum over the references, the closest reference length (ties to the
// shorter), chrF against each sentence's best reference. Hand-computed values and sacreBLEU's
// own multi-reference vectors (README and test/test_bleu.py of mjpost/sacrebleu).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <regex>

#include "spotlight/check.h"
#include "spotlight/eval/bleu.h"
#include "spotlight/eval/chrf.h"

using namespace spotlight;

namespace {

// |a − b| <= atol + rtol·|b|
bool near(double a, double b, double atol = 1e-9, double rtol = 1e-9) {
  return std::fabs(a - b) <= atol + rtol * std::fabs(b);
}

BleuResult bleu(const std::vector<std::string>& hyps, const ReferenceSets& refs,
                const std::string& tokenize = "13a") {
  return corpus_bleu(hyps, refs, BleuOptions{tokenize, false});
}

double chrf(const std::vector<std::string>& hyps, const ReferenceSets& refs) {
  return corpus_chrf(hyps, refs, ChrfOptions{}).score;
}

// sacreBLEU's README example: three sentences, two reference sets.
const std::vector<std::string> kHyps = {"The dog bit the man.", "It wasn't surprising.",
                                        "The man had just bitten him."};
const ReferenceSets kRefs = {
    {"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
    {"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."}};

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("multi-reference BLEU: counts clipped by the maximum over the references") {
  // hyp "the the the the"; ref 1 "a the b" (one "the"), ref 2 "the c the" (two). The unigram
  // "the" is clipped at max(1, 2) = 2 — not the sum 3, nor ref 1's 1. No bigram matches.
  // p = 2/4, then exp smoothing: 100/(2·3), 100/(4·2), 100/(8·1). Lengths 4 vs 3 and 3: BP = 1.
  const BleuResult r = bleu({"the the the the"}, {{"a the b"}, {"the c the"}}, "none");
  CHECK(r.matches == std::array<long, 4>{2, 0, 0, 0});
  CHECK(r.totals == std::array<long, 4>{4, 3, 2, 1});
  CHECK(r.hyp_len == 4);
  CHECK(r.ref_len == 3);
  CHECK(r.bp == 1.0);
  const double expected = std::pow(50.0 * (100.0 / 6) * 12.5 * 12.5, 0.25);
  CHECK(near(r.score, expected));
  // The order of the reference sets does not matter.
  const BleuResult swapped = bleu({"the the the the"}, {{"the c the"}, {"a the b"}}, "none");
  CHECK(swapped.matches == r.matches);
  CHECK(near(swapped.score, r.score));
  // Higher orders merge the same way: each bigram from whichever reference has it.
  const BleuResult split = bleu({"a b c d"}, {{"a b x x"}, {"x x c d"}}, "none");
  CHECK(split.matches == std::array<long, 4>{4, 2, 0, 0});
}

TEST_CASE("multi-reference BLEU: the closest reference length, ties to the shorter") {
  // Sentence 1: hyp 4 tokens, references of 5 and 3 tokens — both 1 away: the shorter, 3.
  // Sentence 2: hyp 4 tokens, references of 2 and 5 tokens — 5 is closer.
  // Every hypothesis n-gram is in a reference, so BLEU = 100·BP with ref_len 3 + 5 = 8 = hyp_len.
  const BleuResult r =
      bleu({"a b c d", "w x y z"}, {{"a b c d e", "w x"}, {"a b c", "w x y z q"}}, "none");
  CHECK(r.hyp_len == 8);
  CHECK(r.ref_len == 8);
  CHECK(r.bp == 1.0);
  CHECK(near(r.score, 100.0));
  // The tie the other way round (shorter reference first): still the shorter.
  CHECK(bleu({"a b c d"}, {{"a b c"}, {"a b c d e"}}, "none").ref_len == 3);
  // One reference: its length, however far.
  const BleuResult one = bleu({"a b c d"}, {{"a b c d e f g h"}}, "none");
  CHECK(one.ref_len == 8);
  CHECK(near(one.bp, std::exp(1.0 - 8.0 / 4.0)));
  // An empty reference line is a reference of length 0 (sacreBLEU's command line keeps it).
  CHECK(bleu({"a"}, {{""}, {"a b c"}}, "none").ref_len == 0);
  CHECK(bleu({"a b"}, {{""}, {"a b c"}}, "none").ref_len == 3);
}

TEST_CASE("multi-reference BLEU: sacreBLEU's README and test_bleu.py vectors") {
  // README: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
  const BleuResult r = bleu(kHyps, kRefs);
  CHECK(near(r.score, 48.530827, 1e-6));  // test_bleu.py's value, given to 1e-6
  CHECK(r.hyp_len == 17);
  CHECK(r.ref_len == 18);
  CHECK(r.matches == std::array<long, 4>{14, 7, 5, 3});
  CHECK(r.totals == std::array<long, 4>{17, 14, 11, 8});
  CHECK(r.signature.rfind("nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:", 0) == 0);
  // test_bleu.py: tokenize none 49.1919566; empty hypotheses 0.
  CHECK(near(bleu(kHyps, kRefs, "none").score, 49.1919566, 1e-6));
  CHECK(bleu({"", "", ""}, kRefs).score == 0.0);
  // README, "variable number of references": the first sentence's first reference empty.
  // BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)
  ReferenceSets var = kRefs;
  var[0][0] = "";
  const BleuResult v = bleu(kHyps, var);
  CHECK(std::round(v.score * 100) == 2944);
  CHECK(v.ref_len == 19);
  CHECK(std::round(v.precisions[1] * 10) == 429);
  CHECK(std::round(v.precisions[2] * 10) == 273);
  CHECK(std::round(v.precisions[3] * 10) == 125);
}

TEST_CASE("multi-reference chrF: each sentence scored against its best reference") {
  // "abc" against "ab" scores 87.5 alone (chrf_test.cpp), against "abc" 100: the best is kept,
  // whichever set it is in.
  CHECK(near(chrf({"abc"}, {{"ab"}, {"abc"}}), 100.0));
  CHECK(near(chrf({"abc"}, {{"abc"}, {"ab"}}), 100.0));
  // Two sentences whose best references are in different sets; their counts are summed:
  // "abc" vs "ab": order 1 hyp 3 ref 2 match 2, order 2 hyp 2 ref 1 match 1, no trigram ref;
  // "xyz" vs "xyz": 3/3/3, 2/2/2, 1/1/1. Sums: 6/5/5, 4/3/3, 1/1/1 → P = (5/6 + 3/4 + 1)/3 = 31/36,
  // R = 1, F = 5·P·R/(4P + R) = 155/160.
  CHECK(near(chrf({"abc", "xyz"}, {{"ab", "ab"}, {"xyz", "xyz"}}), 100.0 * 155.0 / 160.0));
  // A per-sentence choice, not a per-corpus one: no single set gives this.
  CHECK(!near(chrf({"abc", "xyz"}, {{"ab", "ab"}}), 96.875));
  // sacreBLEU's README: chrF2 = 59.73 for the two-reference example.
  CHECK(std::round(chrf(kHyps, kRefs) * 100) == 5973);
  const ChrfResult c = corpus_chrf(kHyps, kRefs, ChrfOptions{});
  CHECK(c.signature.rfind("nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:", 0) == 0);
}

TEST_CASE("multi-reference scores: one set equals the single-reference call") {
  const std::vector<std::string> hyps = {"The cat sat on the mat.", "A dog barked loudly."};
  const std::vector<std::string> refs = {"The cat is on the mat.", "The dog barked."};
  const BleuResult one = corpus_bleu(hyps, refs, BleuOptions{});
  const BleuResult set = corpus_bleu(hyps, ReferenceSets{refs}, BleuOptions{});
  CHECK(one.score == set.score);  // the same code path
  CHECK(one.signature == set.signature);
  CHECK(corpus_chrf(hyps, refs, ChrfOptions{}).score ==
        corpus_chrf(hyps, ReferenceSets{refs}, ChrfOptions{}).score);
  // The same reference twice changes nothing but nrefs.
  const BleuResult twice = corpus_bleu(hyps, ReferenceSets{refs, refs}, BleuOptions{});
  CHECK(twice.score == one.score);
  CHECK(twice.signature.rfind("nrefs:2|", 0) == 0);
}

TEST_CASE("multi-reference scores: a set of another length names the set and both counts") {
  const ReferenceSets refs = {{"a", "b"}, {"a"}};
  CHECK_THROWS_WITH_AS(
      bleu({"a", "b"}, refs),
      doctest::Contains("2 hypothesis lines but 1 reference lines in reference 2 of 2"), Error);
  CHECK_THROWS_WITH_AS(chrf({"a", "b"}, refs),
                       doctest::Contains("2 hypothesis lines but 1 reference lines in reference 2"),
                       Error);
  CHECK_THROWS_WITH_AS(bleu({"a"}, ReferenceSets{}), doctest::Contains("no references"), Error);
  // Invalid UTF-8 in the second set names it.
  CHECK_THROWS_WITH_AS(bleu({"a"}, {{"a"}, {"caf\xe9"}}), doctest::Contains("reference 2 line 1"),
                       Error);
}

TEST_CASE("signatures carry CMake's project version") {
  std::ifstream in(std::string(SPOTLIGHT_SOURCE_DIR) + "/CMakeLists.txt");
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex(R"(project\(spotlight[^)]*VERSION ([0-9.]+)\))")));
  const std::string version = "spotlight-" + m[1].str();
  CHECK(signature_version() == version);
  CHECK(corpus_bleu({"a"}, std::vector<std::string>{"a"}, BleuOptions{})
            .signature.ends_with("|version:" + version));
  CHECK(corpus_chrf({"a"}, std::vector<std::string>{"a"}, ChrfOptions{})
            .signature.ends_with("|version:" + version));
}

TEST_SUITE_END();
