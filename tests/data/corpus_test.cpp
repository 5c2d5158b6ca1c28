// Corpus: strict line reading (UTF-8, "\r", missing files), parallel loading with filtering by
// reason, line-count mismatches, and the encoded-corpus cache (reused, rebuilt when stale or
// corrupt).
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

namespace {

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

void write_file(const std::string& path, const std::vector<std::string>& lines) {
  std::string bytes;
  for (const auto& l : lines) bytes += l + "\n";
  write_raw(path, bytes);
}

// A directory with a tiny joint vocabulary trained on generated English/French lines.
struct Fixture {
  TempDir dir;
  std::vector<std::string> en, fr;
  std::string model;
  explicit Fixture(const std::string& name)
      : dir(name), en(generated_lines(kEnglish, 200, 11)), fr(generated_lines(kFrench, 200, 12)) {
    write_file(dir.file("train.en"), en);
    write_file(dir.file("train.fr"), fr);
    model = dir.file("vocab.model");
    VocabOptions o;
    o.size = 60;
    Vocab::train({dir.file("train.en"), dir.file("train.fr")}, model, o);
  }
};

}  // namespace

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

TEST_CASE("load_parallel encodes pairs and filters empty and over-long ones by reason") {
  Fixture fx("load");
  const Vocab vocab(fx.model);
  std::vector<std::string> src = {"the cat sat",
                                  "",
                                  "dog",
                                  "   ",
                                  "green house",
                                  "the big yellow window on the small green garden mat by the "
                                  "river where the small dog walks quickly on the green mat"};
  std::vector<std::string> tgt = {"le chat est assis", "le chien", "", "chat",
                                  "maison verte",      "petit"};
  write_file(fx.dir.file("p.en"), src);
  write_file(fx.dir.file("p.fr"), tgt);
  const long max_len = 16;
  REQUIRE(static_cast<long>(vocab.encode(src[5]).size()) > max_len);
  for (size_t i : {0, 4}) {
    REQUIRE(static_cast<long>(vocab.encode(src[i]).size()) <= max_len);
    REQUIRE(static_cast<long>(vocab.encode(tgt[i]).size()) <= max_len);
  }
  const ParallelCorpus c = load_parallel(fx.dir.file("p.en"), fx.dir.file("p.fr"), vocab, max_len);
  CHECK(c.lines_read == 6);
  CHECK(c.skipped_empty == 3);  // an empty source, an empty target, a whitespace-only source
  CHECK(c.skipped_long == 1);
  CHECK(!c.from_cache);
  REQUIRE(c.size() == 2);
  CHECK(c.lines == std::vector<long>{0, 4});
  CHECK(c.offsets.size() == 5);
  for (long p = 0; p < c.size(); ++p) {
    const auto line = static_cast<size_t>(c.lines[static_cast<size_t>(p)]);
    const auto s = c.src(p), t = c.tgt(p);
    CHECK(std::vector<int>(s.begin(), s.end()) == vocab.encode(src[line]));
    CHECK(std::vector<int>(t.begin(), t.end()) == vocab.encode(tgt[line]));
    CHECK(vocab.decode(s) == src[line]);
    CHECK(vocab.decode(t) == tgt[line]);
  }
  // Several encoding threads give the same corpus.
  const ParallelCorpus threaded =
      load_parallel(fx.dir.file("train.en"), fx.dir.file("train.fr"), vocab, 100, "", 3);
  const ParallelCorpus single =
      load_parallel(fx.dir.file("train.en"), fx.dir.file("train.fr"), vocab, 100, "", 1);
  CHECK(threaded.size() == 200);
  CHECK(threaded.tokens == single.tokens);
  CHECK(threaded.offsets == single.offsets);
  CHECK(threaded.lines == single.lines);
}

TEST_CASE("load_parallel refuses files of different lengths, reporting both counts and names") {
  Fixture fx("mismatch");
  const Vocab vocab(fx.model);
  write_file(fx.dir.file("a.en"), {"the cat", "the dog", "green"});
  write_file(fx.dir.file("a.fr"), {"le chat", "le chien"});
  const std::string forward = "a.en has 3 lines but " + fx.dir.file("a.fr") + " has 2";
  CHECK_THROWS_WITH_AS(load_parallel(fx.dir.file("a.en"), fx.dir.file("a.fr"), vocab, 50),
                       doctest::Contains(forward.c_str()), Error);
  const std::string backward = "a.fr has 2 lines but " + fx.dir.file("a.en") + " has 3";
  CHECK_THROWS_WITH_AS(load_parallel(fx.dir.file("a.fr"), fx.dir.file("a.en"), vocab, 50),
                       doctest::Contains(backward.c_str()), Error);
  CHECK_THROWS_WITH_AS(load_parallel(fx.dir.file("nope.en"), fx.dir.file("a.fr"), vocab, 50),
                       doctest::Contains("nope.en"), Error);
  write_raw(fx.dir.file("bad.fr"), "le chat\nle chien\n\xff\n");
  CHECK_THROWS_WITH_AS(load_parallel(fx.dir.file("a.en"), fx.dir.file("bad.fr"), vocab, 50),
                       doctest::Contains("bad.fr:3"), Error);
}

TEST_CASE("the corpus cache is reused, and rebuilt when a file, max_len or the cache changes") {
  Fixture fx("cache");
  const Vocab vocab(fx.model);
  const std::string en = fx.dir.file("train.en"), fr = fx.dir.file("train.fr");
  const std::string cache = fx.dir.file("cache/train.bin");

  const ParallelCorpus first = load_parallel(en, fr, vocab, 100, cache);
  CHECK(!first.from_cache);
  CHECK(fs::exists(cache));
  const ParallelCorpus second = load_parallel(en, fr, vocab, 100, cache);
  CHECK(second.from_cache);
  CHECK(second.tokens == first.tokens);
  CHECK(second.offsets == first.offsets);
  CHECK(second.lines == first.lines);
  CHECK(second.lines_read == first.lines_read);
  CHECK(second.skipped_empty == first.skipped_empty);
  CHECK(second.skipped_long == first.skipped_long);

  // Another max_len: rebuilt (and re-cached for that max_len).
  const ParallelCorpus shorter = load_parallel(en, fr, vocab, 3, cache);
  CHECK(!shorter.from_cache);
  CHECK(shorter.skipped_long > 0);
  CHECK(load_parallel(en, fr, vocab, 3, cache).from_cache);

  // The source file changes: rebuilt with the new text.
  std::vector<std::string> changed = fx.en;
  changed[0] = "water water water";
  write_file(en, changed);
  const ParallelCorpus rebuilt = load_parallel(en, fr, vocab, 100, cache);
  CHECK(!rebuilt.from_cache);
  const auto s0 = rebuilt.src(0);
  CHECK(std::vector<int>(s0.begin(), s0.end()) == vocab.encode("water water water"));
  CHECK(load_parallel(en, fr, vocab, 100, cache).from_cache);

  // A corrupt cache (truncated, or one flipped byte) is silently rebuilt.
  fs::resize_file(cache, fs::file_size(cache) - 5);
  const ParallelCorpus after_truncation = load_parallel(en, fr, vocab, 100, cache);
  CHECK(!after_truncation.from_cache);
  CHECK(after_truncation.tokens == rebuilt.tokens);
  {
    std::fstream f(cache, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(cache) / 2));
    f.put('\x7f');
  }
  const ParallelCorpus after_flip = load_parallel(en, fr, vocab, 100, cache);
  CHECK(!after_flip.from_cache);
  CHECK(after_flip.tokens == rebuilt.tokens);
  write_raw(cache, "garbage");
  CHECK(!load_parallel(en, fr, vocab, 100, cache).from_cache);
  CHECK(load_parallel(en, fr, vocab, 100, cache).from_cache);

  // No temporary files are left next to the cache.
  long files = 0;
  for (const auto& e : fs::directory_iterator(fx.dir.path / "cache")) files += e.is_regular_file();
  CHECK(files == 1);
}

TEST_SUITE_END();
