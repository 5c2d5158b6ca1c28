// Corpus: strict line reading (UTF-8, "\r", a BOM, missing files). Encoding parallel files
// into stores is tested in store_test.cpp.
#include "spotlight/data/corpus.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/rng.h"
#include "support/text_files.h"

using namespace spotlight;
namespace fs = std::filesystem;
using namespace spotlight::testing;

TEST_SUITE_BEGIN("unit");

TEST_CASE("read_lines strips \\r and a BOM, keeps empty lines and a last line without newline") {
  TempDir dir("read");
  write_raw(dir.file("a.txt"), "\xEF\xBB\xBFone\r\n\ntwo \r\nthree");
  const auto lines = read_lines(dir.file("a.txt"));
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "one");
  CHECK(lines[1] == "");
  CHECK(lines[2] == "two ");
  CHECK(lines[3] == "three");
  write_raw(dir.file("empty.txt"), "");
  CHECK(read_lines(dir.file("empty.txt")).empty());
}

TEST_CASE("read_lines refuses a missing file and invalid UTF-8, naming file and line") {
  TempDir dir("strict");
  CHECK_THROWS_WITH_AS(read_lines(dir.file("missing.txt")), doctest::Contains("missing.txt"),
                       Error);
  CHECK_THROWS_WITH_AS(read_lines(dir.path.string()), doctest::Contains("directory"), Error);
  write_raw(dir.file("latin1.txt"), "ok\nstill ok\ncaf\xe9\n");
  CHECK_THROWS_WITH_AS(read_lines(dir.file("latin1.txt")),
                       doctest::Contains("latin1.txt:3: invalid UTF-8"), Error);
}

TEST_CASE("valid_utf8 accepts well-formed text and rejects malformed sequences") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("déjà vu — ≠ 𝄞"));
  CHECK(!valid_utf8("\xe9t\xe9"));         // Latin-1
  CHECK(!valid_utf8("\xc3"));              // truncated
  CHECK(!valid_utf8("\x80"));              // lone continuation
  CHECK(!valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK(!valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  CHECK(!valid_utf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
  CHECK(!valid_utf8("\xff"));
}

TEST_SUITE_END();
