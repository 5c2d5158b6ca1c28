// Corpus chrF against hand-computed values (sacreBLEU 2.x CHRF defaults: orders 1..6, β = 2,
// whitespace removed, effective order), sacreBLEU's own test vectors, and published sacreBLEU
// outputs.
#include "spotlight/eval/chrf.h"

#include <doctest/doctest.h>

#include "spotlight/check.h"

using namespace spotlight;

namespace {

double chrf(const std::vector<std::string>& hyps, const std::vector<std::string>& refs,
            bool lowercase = false) {
  return corpus_chrf(hyps, refs, ChrfOptions{lowercase}).score;
}

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("chrF: identical lines score 100, with sacreBLEU's signature") {
  const ChrfResult r = corpus_chrf({"Le chat dort."}, {"Le chat dort."}, ChrfOptions{});
  CHECK(r.score == doctest::Approx(100.0));
  CHECK(r.signature ==
        "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" + signature_version());
  CHECK(corpus_chrf({"a"}, {"a"}, ChrfOptions{true}).signature ==
        "nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:no|version:" + signature_version());
}

TEST_CASE("chrF: sacreBLEU test vectors (test_chrf.py, eps_smoothing=False)") {
  // These cases have P = R at every order, so the F-score is the same for their β = 3 and our 2.
  CHECK(chrf({"a"}, {"a"}) == doctest::Approx(100.0));
  CHECK(chrf({""}, {"reference"}) == 0.0);
  CHECK(chrf({"a b c"}, {"a b c"}) == doctest::Approx(100.0));
  CHECK(chrf({"a b c"}, {"abc"}) == doctest::Approx(100.0));  // whitespace is removed
  CHECK(chrf({""}, {"c"}) == 0.0);
  // Two sentences, order 1 summed: hyp 2, ref 2, match 1 → P = R = 1/2 → 50.
  CHECK(chrf({"a", "b"}, {"a", "c"}) == doctest::Approx(50.0));
  // Order 1: "a","a" vs "a","b" → 1/2; order 2: "aa" vs "ab" → 0. P = R = (1/2 + 0)/2 → 25.
  CHECK(chrf({"aa"}, {"ab"}) == doctest::Approx(25.0));
}

TEST_CASE("chrF: published sacreBLEU outputs (Hugging Face chrf metric card, defaults)") {
  // Values printed by sacreBLEU's CHRF (char_order 6, word_order 0, β 2) in the examples of the
  // Hugging Face datasets metric card metrics/chrf/README.md.
  CHECK(chrf({"The relationship between Obama and Netanyahu is not exactly friendly."},
             {"The ties between Obama and Netanyahu are not particularly friendly."}) ==
        doctest::Approx(61.576379378113785).epsilon(1e-9));
  CHECK(chrf({"The relationship between cats and dogs is not exactly friendly.",
              "a good bookshop is just a genteel black hole that knows how to read."},
             {"The relationship between dogs and cats is not exactly friendly.",
              "A good bookshop is just a genteel Black Hole that knows how to read."}) ==
        doctest::Approx(84.64214891738334).epsilon(1e-9));
}

TEST_CASE("chrF: corpus sums and hypothesis n-grams count only where the reference has some") {
  // Sentence 1 "abc" vs "ab": order 1 hyp 3 ref 2 match 2; order 2 hyp 2 (ab, bc) ref 1 match 1;
  // order 3: the reference has no trigram, so the hypothesis trigram is not counted.
  // Alone: P = (2/3 + 1/2)/2 = 7/12, R = (1 + 1)/2 = 1 → F = 5·(7/12)/(4·7/12 + 1) = 35/40.
  CHECK(chrf({"abc"}, {"ab"}) == doctest::Approx(87.5));
  // Add sentence 2 "xyz" vs "xyz" (3/3/3, 2/2/2, 1/1/1). Sums: order 1 hyp 6 ref 5 match 5;
  // order 2 hyp 4 ref 3 match 3; order 3 hyp 0 + 1 = 1 ref 1 match 1.
  // P = (5/6 + 3/4 + 1)/3 = 31/36, R = 1 → F = 5·(31/36)/(4·31/36 + 1) = 155/160 = 96.875.
  // (Counting the unmatched trigram of sentence 1 would give 125/136 = 91.91 instead.)
  CHECK(chrf({"abc", "xyz"}, {"ab", "xyz"}) == doctest::Approx(96.875));
}

TEST_CASE("chrF: β = 2 weighs recall over precision") {
  // "ab" vs "abcd": order 1 P = 2/2, R = 2/4; order 2 P = 1/1, R = 1/3; order 3: the hypothesis
  // has no trigram, so orders 3..6 are not effective. P = 1, R = (1/2 + 1/3)/2 = 5/12.
  // F = 5·1·(5/12) / (4·1 + 5/12) = (25/12)/(53/12) = 25/53.
  CHECK(chrf({"ab"}, {"abcd"}) == doctest::Approx(100.0 * 25.0 / 53.0));
  // Swapped, "abcd" vs "ab": order 1 P = 2/4, R = 2/2; order 2 P = 1/3, R = 1/1; orders 3, 4
  // drop out (the reference has no trigram, so the hypothesis ones are not counted).
  // P = 5/12, R = 1 → F = 5·(5/12)/(4·5/12 + 1) = (25/12)/(32/12) = 25/32.
  CHECK(chrf({"abcd"}, {"ab"}) == doctest::Approx(100.0 * 25.0 / 32.0));
}

TEST_CASE("chrF: characters are code points (accents, CJK, emoji)") {
  // "été" vs "ete": order 1 matches only "t" → 1/3 both ways; orders 2 and 3 match nothing;
  // orders 4..6 are empty. P = R = (1/3 + 0 + 0)/3 = 1/9.
  CHECK(chrf({"été"}, {"ete"}) == doctest::Approx(100.0 / 9.0));
  // "我爱你😀" vs "我爱他😀": order 1: 3 of 4; order 2: "我爱" only, 1 of 3; orders 3 and 4: 0;
  // orders 5, 6 empty. P = R = (3/4 + 1/3 + 0 + 0)/4 = 13/48.
  CHECK(chrf({"我爱你😀"}, {"我爱他😀"}) == doctest::Approx(100.0 * 13.0 / 48.0));
  // Any Python whitespace goes, NBSP and ideographic space included.
  CHECK(chrf({"a\u00A0b\u3000c\t"}, {"abc"}) == doctest::Approx(100.0));
}

TEST_CASE("chrF: lowercase option, empty lines, errors") {
  CHECK(chrf({"ÉTÉ À PARIS"}, {"été à Paris"}, true) == doctest::Approx(100.0));
  // Mixed case, "ÉTÉÀPARIS" vs "étéàParis" (9 code points each): only "P" matches, so order 1
  // has P = R = 1/9 and orders 2..6 match nothing; P = R = (1/9)/6 = 1/54 over six orders.
  CHECK(chrf({"ÉTÉ À PARIS"}, {"été à Paris"}) == doctest::Approx(100.0 / 54.0));
  CHECK(chrf({""}, {""}) == 0.0);
  CHECK(chrf({}, {}) == 0.0);
  // An empty hypothesis among others only adds reference n-grams (lowers recall):
  // "ab" vs "ab" plus "" vs "cd": order 1 hyp 2 ref 4 match 2; order 2 hyp 1 ref 2 match 1.
  // P = 1, R = 1/2 → F = 5·(1/2)/(4 + 1/2) = 5/9.
  CHECK(chrf({"ab", ""}, {"ab", "cd"}) == doctest::Approx(500.0 / 9.0));
  CHECK_THROWS_WITH_AS(chrf({"a"}, {"a", "b"}),
                       doctest::Contains("1 hypothesis lines but 2 reference lines"), Error);
  CHECK_THROWS_WITH_AS(chrf({"a"}, {"\xE2\x82"}), doctest::Contains("reference line 1"), Error);
}

TEST_SUITE_END();
