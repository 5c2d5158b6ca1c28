// Corpus BLEU against hand-computed values (sacreBLEU 2.x semantics), sacreBLEU's own test
// vectors (test/test_bleu.py in mjpost/sacrebleu, the single-reference cases), and the 13a
// tokenizer rule by rule.
#include "spotlight/eval/bleu.h"

#include <doctest/doctest.h>

#include <cmath>

#include "spotlight/check.h"

using namespace spotlight;

namespace {

BleuResult bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs,
                const std::string& tokenize = "13a", bool lowercase = false) {
  return corpus_bleu(hyps, refs, BleuOptions{tokenize, lowercase});
}

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("BLEU: identical hypothesis and reference score 100") {
  // 13a: "The cat sat on the mat ." — 7 tokens, so 7/6/5/4 n-grams, all matched.
  const BleuResult r = bleu({"The cat sat on the mat."}, {"The cat sat on the mat."});
  CHECK(r.score == doctest::Approx(100.0));
  CHECK(r.bp == 1.0);
  CHECK(r.hyp_len == 7);
  CHECK(r.ref_len == 7);
  CHECK(r.matches == std::array<long, 4>{7, 6, 5, 4});
  CHECK(r.totals == std::array<long, 4>{7, 6, 5, 4});
  for (const double p : r.precisions) CHECK(p == doctest::Approx(100.0));
  CHECK(r.ratio == 1.0);
  CHECK(r.signature ==
        "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" + signature_version());
}

TEST_CASE("BLEU: brevity penalty for a short hypothesis") {
  // hyp 6 tokens, ref 7 tokens; every hyp n-gram occurs in the ref ("the" twice in both), so
  // p = 6/6, 5/5, 4/4, 3/3 = 100 % and BLEU = BP·100 with BP = exp(1 − 7/6) = exp(−1/6).
  const BleuResult r = bleu({"the cat sat on the mat"}, {"the cat sat on the mat today"});
  CHECK(r.matches == std::array<long, 4>{6, 5, 4, 3});
  CHECK(r.totals == std::array<long, 4>{6, 5, 4, 3});
  CHECK(r.bp == doctest::Approx(std::exp(-1.0 / 6.0)));
  CHECK(r.score == doctest::Approx(100.0 * std::exp(-1.0 / 6.0)));  // 84.648…
  CHECK(r.ratio == doctest::Approx(6.0 / 7.0));
  // A longer hypothesis is not penalised: BP = 1.
  CHECK(bleu({"the cat sat on the mat today"}, {"the cat sat on the mat"}).bp == 1.0);
}

TEST_CASE("BLEU: exp smoothing when higher orders have no match") {
  // "this is a fest" vs "this is a test": 1-grams 3/4, 2-grams 2/3, 3-grams 1/2, 4-grams 0/1.
  // exp smoothing: the first zero order gets 100/(2·1) = 50 %.
  // BLEU = (75 · 66.67 · 50 · 50)^(1/4) = 100·(3/4 · 2/3 · 1/2 · 1/2)^(1/4) = 100·2^(−3/4).
  const BleuResult one = bleu({"this is a fest"}, {"this is a test"});
  CHECK(one.matches == std::array<long, 4>{3, 2, 1, 0});
  CHECK(one.totals == std::array<long, 4>{4, 3, 2, 1});
  CHECK(one.precisions[3] == doctest::Approx(50.0));
  CHECK(one.score == doctest::Approx(100.0 * std::pow(2.0, -0.75)));  // 59.460…

  // "a b c d" vs "a c b d": 1-grams 4/4; no 2-, 3- or 4-gram matches. Successive zero orders
  // get k = 2, 4, 8: p2 = 100/(2·3), p3 = 100/(4·2), p4 = 100/(8·1), i.e. 1, 1/6, 1/8, 1/8 →
  // BLEU = 100·(1/384)^(1/4) ≈ 22.59.
  const BleuResult three = bleu({"a b c d"}, {"a c b d"});
  CHECK(three.matches == std::array<long, 4>{4, 0, 0, 0});
  CHECK(three.precisions[1] == doctest::Approx(100.0 / 6.0));
  CHECK(three.precisions[2] == doctest::Approx(12.5));
  CHECK(three.precisions[3] == doctest::Approx(12.5));
  CHECK(three.score == doctest::Approx(100.0 * std::pow(1.0 / 384.0, 0.25)));
}

TEST_CASE("BLEU: sacreBLEU test vectors (test_bleu.py)") {
  // test_case_statistics: counts [4, 2, 1, 0], totals [6, 5, 4, 3].
  const BleuResult r =
      bleu({"am I am a character sequence"}, {"I am a symbol string sequence a a"});
  CHECK(r.matches == std::array<long, 4>{4, 2, 1, 0});
  CHECK(r.totals == std::array<long, 4>{6, 5, 4, 3});
  CHECK(r.hyp_len == 6);
  CHECK(r.ref_len == 8);
  // By hand with exp smoothing: p = 4/6, 2/5, 1/4, 1/(2·3) → product 4/15 · 1/4 · 1/6 = 1/90;
  // BP = exp(1 − 8/6) = exp(−1/3) → BLEU ≈ 23.26.
  CHECK(r.score == doctest::Approx(100.0 * std::exp(-1.0 / 3.0) * std::pow(1.0 / 90.0, 0.25)));
  // test_case_scoring: compute_bleu([9,7,5,3], [10,8,6,4], 11, 11) = 0.8375922397 (×100).
  CHECK(bleu_from_counts({9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11).score ==
        doctest::Approx(83.75922397).epsilon(1e-9));
  // test_raw_bleu_cases: identical 4-token sentence → 1.0 (×100); and ("", "", "") → 0.
  CHECK(bleu({"this is a test"}, {"this is a test"}).score == doctest::Approx(100.0));
  CHECK(bleu({"", "", ""},
             {"The dog bit the man.", "It was not unexpected.", "The man bit him first."})
            .score == 0.0);
  // test_degenerate_statistics: no matches at all → 0.
  CHECK(bleu_from_counts({0, 0, 0, 0}, {4, 4, 2, 1}, 0, 1).score == 0.0);
  CHECK(bleu_from_counts({0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0).score == 0.0);
  CHECK(bleu_from_counts({6, 5, 4, 0}, {6, 5, 4, 3}, 6, 6).score > 0.0);  // exp, not floor: > 0
}

TEST_CASE("BLEU: empty hypotheses score 0 and count as length 0") {
  const BleuResult empty = bleu({""}, {"the cat"});
  CHECK(empty.score == 0.0);
  CHECK(empty.bp == 0.0);
  CHECK(empty.hyp_len == 0);
  CHECK(empty.ref_len == 2);
  CHECK(bleu({}, {}).score == 0.0);
  // An empty line among non-empty ones adds reference length only: hyp 6 tokens, all n-grams
  // matched (p = 100 %), ref 6 + 3 = 9 tokens → BLEU = 100·exp(1 − 9/6) = 100·exp(−0.5).
  const BleuResult mixed =
      bleu({"the cat sat on the mat", ""}, {"the cat sat on the mat", "a dog barked"});
  CHECK(mixed.hyp_len == 6);
  CHECK(mixed.ref_len == 9);
  CHECK(mixed.score == doctest::Approx(100.0 * std::exp(-0.5)));  // 60.653…
}

TEST_CASE("BLEU: a corpus without 4-grams scores 0, as sacreBLEU's corpus BLEU") {
  // totals[3] = 0 stops the precision loop, p4 stays 0 and log(0) sends the score to 0.
  const BleuResult r = bleu({"a b c"}, {"a b c"});
  CHECK(r.totals == std::array<long, 4>{3, 2, 1, 0});
  CHECK(r.score == 0.0);
}

TEST_CASE("BLEU: 13a tokenization, rule by rule") {
  CHECK(tokenize_13a("Hello, world!") == "Hello , world !");
  // Period and comma stay inside numbers, split elsewhere.
  CHECK(tokenize_13a("It costs 3.5 dollars.") == "It costs 3.5 dollars .");
  CHECK(tokenize_13a("1,000.00 and 3.") == "1,000.00 and 3 .");
  CHECK(tokenize_13a("e.g. Mr.Smith") == "e . g . Mr . Smith");
  CHECK(tokenize_13a(".5") == ". 5");  // (space)(.) matches ([^0-9])([\.,]) first
  // Matches do not overlap: "a.," → "a . ,b" after rule 2; rule 3 then splits ",b".
  CHECK(tokenize_13a("a.,b") == "a . , b");
  // Dash: split only after a digit.
  CHECK(tokenize_13a("a-b") == "a-b");
  CHECK(tokenize_13a("x-1") == "x-1");
  CHECK(tokenize_13a("1-2") == "1 - 2");
  CHECK(tokenize_13a("2-a") == "2 - a");
  // The symbol class: { | } ~ [ \ ] ^ _ ` ! " # $ % & ( ) * + : ; < = > ? @ / — not the apostrophe.
  CHECK(tokenize_13a("(a)[b]{c} $5 50% x@y a/b a_b a~b a*b a;b") ==
        "( a ) [ b ] { c } $ 5 50 % x @ y a / b a _ b a ~ b a * b a ; b");
  CHECK(tokenize_13a("don't") == "don't");
  // Entity unescaping, in sacreBLEU's order (&amp;quot; becomes &quot;, not ").
  CHECK(tokenize_13a("&quot;Hi&quot; &amp; bye &lt;b&gt;") == "\" Hi \" & bye < b >");
  CHECK(tokenize_13a("&amp;quot;") == "& quot ;");
  // <skipped> removal, "-\n" join, "\n" → space, whitespace collapse.
  CHECK(tokenize_13a("a <skipped> b") == "a b");
  CHECK(tokenize_13a("hyphen-\nated two\nlines") == "hyphenated two lines");
  CHECK(tokenize_13a("  many \t spaces  ") == "many spaces");
  // Code points: accents, CJK and emoji pass through whole; "、" is not a comma.
  CHECK(tokenize_13a("L'élève a réussi.") == "L'élève a réussi .");
  CHECK(tokenize_13a("価格は3.5ドル、😀!") == "価格は3.5ドル、😀 !");
}

TEST_CASE("BLEU: tokenize none differs from 13a on punctuation") {
  // 13a makes both sides "Hello , world !" → 100. With none, hyp tokens "Hello," "world!" share
  // nothing with "Hello" "," "world" "!" → no match → 0.
  CHECK(bleu({"Hello, world!"}, {"Hello , world !"}, "13a").score == doctest::Approx(100.0));
  const BleuResult none = bleu({"Hello, world!"}, {"Hello , world !"}, "none");
  CHECK(none.score == 0.0);
  CHECK(none.hyp_len == 2);
  CHECK(none.ref_len == 4);
  CHECK(none.signature ==
        "nrefs:1|case:mixed|eff:no|tok:none|smooth:exp|version:" + signature_version());
  CHECK_THROWS_WITH_AS(bleu({"a"}, {"a"}, "intl"), doctest::Contains("unknown tokenizer"), Error);
}

TEST_CASE("BLEU: unicode and the lowercase option") {
  // 13a tokens: "L'élève" "a" "réussi" "l'examen" "." — identical after lowercasing.
  const std::vector<std::string> hyp = {"L'ÉLÈVE A RÉUSSI L'EXAMEN."};
  const std::vector<std::string> ref = {"L'élève a réussi l'examen."};
  const BleuResult lc = bleu(hyp, ref, "13a", true);
  CHECK(lc.score == doctest::Approx(100.0));
  CHECK(lc.signature == "nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:" + signature_version());
  // Mixed case: only "." matches. p = 1/5, then k = 2, 4, 8: 1/(2·4), 1/(4·3), 1/(8·2)
  // → product 1/7680 → BLEU = 100·7680^(−1/4) ≈ 10.68.
  const BleuResult mixed = bleu(hyp, ref);
  CHECK(mixed.matches == std::array<long, 4>{1, 0, 0, 0});
  CHECK(mixed.score == doctest::Approx(100.0 * std::pow(1.0 / 7680.0, 0.25)));
  // CJK and emoji: whole code points are tokens' characters; 13a splits only "!".
  const BleuResult cjk = bleu({"我爱你 😀 !"}, {"我爱你 😀!"});
  CHECK(cjk.score == 0.0);  // 3 tokens, no 4-gram: corpus BLEU is 0 (see above)
  CHECK(cjk.matches == std::array<long, 4>{3, 2, 1, 0});
  const BleuResult emoji = bleu({"我 爱 你 😀!"}, {"我 爱 你 😀 !"});
  CHECK(emoji.score == doctest::Approx(100.0));
}

TEST_CASE("BLEU: Python lowercase and whitespace on code points") {
  CHECK(python_lower(U"ÀÉÎÕÜ ÇŒŸ ĀĹŁŃŽ Ё Я ß ×") == U"àéîõü çœÿ āĺłńž ё я ß ×");
  CHECK(python_lower(U"İ") == U"i\u0307");  // two code points, as Python
  CHECK(python_lower(U"ΣΑΣ") == U"ΣΑΣ");    // Greek deliberately not covered
  CHECK(is_python_space(U'\u00A0'));
  CHECK(is_python_space(U'\u3000'));
  CHECK(!is_python_space(U'\u200B'));  // zero-width space is not whitespace in Python
  // Trailing whitespace of any kind is stripped, and NBSP separates tokens.
  CHECK(bleu({"a b c d\u00A0\t"}, {"a b c\u00A0d"}).score == doctest::Approx(100.0));
  CHECK(decode_utf8("é😀") == U"é😀");
  CHECK(encode_utf8(U"é😀") == "é😀");
  CHECK_THROWS_WITH_AS(decode_utf8("\xC3"), doctest::Contains("invalid UTF-8 at byte 0"), Error);
  CHECK_THROWS_AS(decode_utf8("\xC0\xAF"), Error);      // overlong '/'
  CHECK_THROWS_AS(decode_utf8("\xED\xA0\x80"), Error);  // surrogate
  CHECK_THROWS_WITH_AS(bleu({"ok", "bad \xFF"}, {"ok", "ok"}),
                       doctest::Contains("hypothesis line 2"), Error);
}

TEST_CASE("BLEU: mismatched line counts are an error naming both counts") {
  CHECK_THROWS_WITH_AS(bleu({"a", "b", "c"}, {"a", "b"}),
                       doctest::Contains("3 hypothesis lines but 2 reference lines"), Error);
}

TEST_SUITE_END();
