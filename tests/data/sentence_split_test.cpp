// SentenceSplitter: paragraphs cut into sentences by ICU's rules, abbreviations kept whole, a
// single sentence returned unchanged, white space at the cuts dropped, non-Latin scripts.
#include "spotlight/data/sentence_split.h"

#include <doctest/doctest.h>

using spotlight::SentenceSplitter;
using Pieces = std::vector<std::string>;

TEST_SUITE_BEGIN("unit");

TEST_CASE("SentenceSplitter: a paragraph of three sentences gives three pieces") {
  SentenceSplitter s;
  CHECK(s.split("The dog runs. A cat sits on the mat! Is it raining?") ==
        Pieces{"The dog runs.", "A cat sits on the mat!", "Is it raining?"});
  // Quotes and brackets closing a sentence stay with it.
  CHECK(s.split("(He left.) \"She stayed.\" They waited.") ==
        Pieces{"(He left.)", "\"She stayed.\"", "They waited."});
}

TEST_CASE("SentenceSplitter: abbreviations and numbers do not end a sentence") {
  SentenceSplitter s;
  CHECK(s.split("Mr. Smith went to Washington. He took the train.") ==
        Pieces{"Mr. Smith went to Washington.", "He took the train."});
  CHECK(s.split("It costs 3.50 euros, e.g. a coffee.") == Pieces{"It costs 3.50 euros, e.g. a coffee."});
  CHECK(s.split("Dr. Jones and Prof. Brown are here. St. Louis is far.") ==
        Pieces{"Dr. Jones and Prof. Brown are here.", "St. Louis is far."});
}

TEST_CASE("SentenceSplitter: one sentence, empty and blank lines come back unchanged") {
  SentenceSplitter s;
  CHECK(s.split("A man is riding a bike.") == Pieces{"A man is riding a bike."});
  CHECK(s.split("no final stop") == Pieces{"no final stop"});
  CHECK(s.split("  spaced out.  ") == Pieces{"  spaced out.  "});  // untouched: one sentence
  CHECK(s.split("") == Pieces{""});
  CHECK(s.split("   ") == Pieces{"   "});
  // Lowercased, tokenized text (what tok models read) is one sentence to ICU: no capital follows.
  CHECK(s.split("a man rides a bike . a dog runs .") == Pieces{"a man rides a bike . a dog runs ."});
}

TEST_CASE("SentenceSplitter: white space around the cuts is dropped") {
  SentenceSplitter s;
  CHECK(s.split("  One.   Two.   ") == Pieces{"One.", "Two."});
  CHECK(s.split("One.\tTwo.\xC2\xA0\xE3\x80\x80") == Pieces{"One.", "Two."});  // tab, NBSP, ideographic space
  CHECK(s.split("Wait...  What?!  Yes.") == Pieces{"Wait...", "What?!", "Yes."});
}

TEST_CASE("SentenceSplitter: non-Latin scripts") {
  SentenceSplitter s;
  // Chinese: full-width terminators and no spaces between sentences.
  CHECK(s.split("这是第一句。这是第二句！第三句？") ==
        Pieces{"这是第一句。", "这是第二句！", "第三句？"});
  CHECK(s.split("Он пришёл. Она ушла.") == Pieces{"Он пришёл.", "Она ушла."});
  CHECK(s.split("هل أنت بخير؟ نعم.") == Pieces{"هل أنت بخير؟", "نعم."});
  CHECK(s.split("Γεια σου. Τι κάνεις\u037E") == Pieces{"Γεια σου.", "Τι κάνεις\u037E"});  // Greek question mark
}

TEST_CASE("SentenceSplitter: one splitter serves many lines") {
  SentenceSplitter s;
  for (int i = 0; i < 100; ++i) {
    CHECK(s.split("First one. Second one.").size() == 2);
    CHECK(s.split("Only one.").size() == 1);
  }
  SentenceSplitter moved = std::move(s);
  CHECK(moved.split("It rains. We stay.").size() == 2);
}

TEST_SUITE_END();
