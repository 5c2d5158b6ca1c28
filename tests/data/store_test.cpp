// Corpus stores (data/store.h): encoding parallel files round-trips every pair exactly (read()
// and scan(), on any number of threads, 2- and 4-byte ids); pairs are filtered by reason; files
// of different lengths and invalid UTF-8 are refused naming file and line, leaving nothing; a
// stale, truncated or damaged store is detected and rebuilt; killed encodes leave only
// temporaries, which are removed.
#include "spotlight/data/store.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "spotlight/check.h"
#include "spotlight/data/mix.h"
#include "support/text_files.h"

using namespace spotlight;
namespace fs = std::filesystem;
using namespace spotlight::testing;

namespace {

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

long files_in(const fs::path& dir) {
  long n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("a store round-trips every pair and filters empty and over-long ones by reason") {
  Fixture fx("store_load");
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
  const std::string path = fx.dir.file("s/p.store");
  build_store(path, fx.dir.file("p.en"), fx.dir.file("p.fr"), vocab, 1);
  const CorpusStore store(path);
  CHECK(store.lines() == 6);
  CHECK(store.info().empty == 3);  // an empty source, an empty target, a whitespace-only source
  CHECK(store.info().src.sha256 == sha256_file(fx.dir.file("p.en")));
  const PairMix mix({{&store, 1.0}}, max_len);
  CHECK(mix.counts(0).kept == 2);
  CHECK(mix.counts(0).empty == 3);
  CHECK(mix.counts(0).too_long == 1);
  CHECK(mix.epoch_pairs(nullptr) == std::vector<uint32_t>{0, 4});
  std::vector<int> s, t;
  for (long i = 0; i < 6; ++i) {  // every line, kept or not, reads back as encoded
    store.read(i, s, t);
    CHECK(s == vocab.encode(src[static_cast<size_t>(i)]));
    CHECK(t == vocab.encode(tgt[static_cast<size_t>(i)]));
  }
  CHECK(vocab.decode(vocab.encode(src[4])) == src[4]);

  // Every pair of a larger corpus, through read() and scan(), on 1 and 3 threads alike.
  const std::string one = fx.dir.file("s/one.store"), three = fx.dir.file("s/three.store");
  build_store(one, fx.dir.file("train.en"), fx.dir.file("train.fr"), vocab, 1);
  build_store(three, fx.dir.file("train.en"), fx.dir.file("train.fr"), vocab, 3);
  const CorpusStore a(one), b(three);
  REQUIRE(a.lines() == 200);
  CHECK(a.info().tokens == b.info().tokens);
  long scanned = 0;
  b.scan(0, b.lines(), [&](long i, std::span<const int> ss, std::span<const int> tt) {
    CHECK(i == scanned++);
    CHECK(std::vector<int>(ss.begin(), ss.end()) == vocab.encode(fx.en[static_cast<size_t>(i)]));
    CHECK(std::vector<int>(tt.begin(), tt.end()) == vocab.encode(fx.fr[static_cast<size_t>(i)]));
  });
  CHECK(scanned == 200);
  for (long i = 199; i >= 0; i -= 7) {  // random access, backwards
    a.read(i, s, t);
    CHECK(s == vocab.encode(fx.en[static_cast<size_t>(i)]));
    CHECK(t == vocab.encode(fx.fr[static_cast<size_t>(i)]));
  }
  CHECK(files_in(fx.dir.path / "s") == 3);  // no temporaries left
}

TEST_CASE("a store keeps 4-byte ids for a large vocabulary and records an over-long side") {
  TempDir dir("store_wide");
  {
    StoreWriter w(dir.file("w.store"), 100000);
    w.add(std::vector<int>{5, 70000, 99999}, std::vector<int>{65536});
    w.add(std::vector<int>(kStoreMaxPieces + 1, 9), std::vector<int>{4});
    w.add(std::vector<int>{}, std::vector<int>{7});
    w.add(std::vector<int>{6}, std::vector<int>{8, 9});
    w.commit({});
  }
  const CorpusStore s(dir.file("w.store"));
  CHECK(s.info().token_bytes == 4);
  CHECK(s.info().too_long == 1);
  CHECK(s.info().empty == 1);
  CHECK(s.src_pieces(1) == kStoreTooLong);
  std::vector<int> a, b;
  s.read(0, a, b);
  CHECK(a == std::vector<int>{5, 70000, 99999});
  CHECK(b == std::vector<int>{65536});
  s.read(3, a, b);  // after the pair that was not written
  CHECK(a == std::vector<int>{6});
  CHECK(b == std::vector<int>{8, 9});
  const PairMix mix({{&s, 1.0}}, 65534);
  CHECK(mix.counts(0).too_long == 1);
  CHECK(mix.kept() == 2);
  StoreWriter bad(dir.file("bad.store"), 10);
  CHECK_THROWS_WITH_AS(bad.add(std::vector<int>{10}, std::vector<int>{4}),
                       doctest::Contains("outside the vocabulary"), Error);
}

TEST_CASE("encoding refuses files of different lengths and invalid UTF-8, naming file and line") {
  Fixture fx("store_mismatch");
  const Vocab vocab(fx.model);
  write_file(fx.dir.file("a.en"), {"the cat", "the dog", "green"});
  write_file(fx.dir.file("a.fr"), {"le chat", "le chien"});
  const std::string path = fx.dir.file("out/a.store");
  const std::string forward = "a.en has 3 lines but " + fx.dir.file("a.fr") + " has 2 (" +
                              fx.dir.file("a.fr") + " ends after line 2";
  CHECK_THROWS_WITH_AS(build_store(path, fx.dir.file("a.en"), fx.dir.file("a.fr"), vocab, 1),
                       doctest::Contains(forward.c_str()), Error);
  const std::string backward = "a.fr has 2 lines but " + fx.dir.file("a.en") + " has 3";
  CHECK_THROWS_WITH_AS(build_store(path, fx.dir.file("a.fr"), fx.dir.file("a.en"), vocab, 1),
                       doctest::Contains(backward.c_str()), Error);
  CHECK_THROWS_WITH_AS(build_store(path, fx.dir.file("nope.en"), fx.dir.file("a.fr"), vocab, 1),
                       doctest::Contains("nope.en"), Error);
  // Invalid UTF-8 deep in a file (line 5003, past the first encoding chunk).
  std::vector<std::string> en(6000, "the cat"), fr(6000, "le chat");
  write_file(fx.dir.file("big.en"), en);
  fr[5002] = "le \xff chat";
  write_file(fx.dir.file("big.fr"), fr);
  CHECK_THROWS_WITH_AS(build_store(path, fx.dir.file("big.en"), fx.dir.file("big.fr"), vocab, 2),
                       doctest::Contains("big.fr:5003: invalid UTF-8"), Error);
  // Nothing is left at the store's path, nor a temporary beside it.
  CHECK(!fs::exists(path));
  CHECK(files_in(fx.dir.path / "out") == 0);
}

TEST_CASE("a stale, truncated or damaged store is detected and rebuilt, a current one reused") {
  Fixture fx("store_stale");
  const Vocab vocab(fx.model);
  const std::string en = fx.dir.file("train.en"), fr = fx.dir.file("train.fr");
  const std::string dir = fx.dir.file("stores");
  const std::string path = store_path(dir, en, fr);
  CHECK(store_status(path, en, fr, vocab) == "missing");
  bool built = false;
  std::vector<std::string> notes;
  auto note = [&](const std::string& s) { notes.push_back(s); };
  open_store(dir, en, fr, vocab, 1, note, {}, &built);
  CHECK(built);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("the store is missing") != std::string::npos);
  open_store(dir, en, fr, vocab, 1, note, {}, &built);
  CHECK(!built);
  // Touched but the same bytes: re-hashed and reused.
  fs::last_write_time(en, fs::last_write_time(en) + std::chrono::seconds(5));
  CHECK(store_status(path, en, fr, vocab) == "");
  // The source changes (same size, other words): stale, rebuilt with the new text.
  std::vector<std::string> changed = fx.en;
  changed[0] = std::string(changed[0].size(), 'a');
  write_file(en, changed);
  CHECK(store_status(path, en, fr, vocab).find("stale: " + en + " has changed") == 0);
  const CorpusStore rebuilt = open_store(dir, en, fr, vocab, 1, note, {}, &built);
  CHECK(built);
  std::vector<int> s, t;
  rebuilt.read(0, s, t);
  CHECK(s == vocab.encode(changed[0]));
  // Another vocabulary: stale.
  VocabOptions o;
  o.size = 50;
  Vocab::train({en, fr}, fx.dir.file("other.model"), o);
  const Vocab other(fx.dir.file("other.model"));
  CHECK(store_status(path, en, fr, other).find("another vocabulary") != std::string::npos);
  // Truncated (by a byte, or to half), a flipped index byte, garbage: never opened, rebuilt.
  const auto size = fs::file_size(path);
  for (int damage = 0; damage < 4; ++damage) {
    if (damage == 0) fs::resize_file(path, size - 1);
    if (damage == 1) fs::resize_file(path, size / 2);
    if (damage == 2) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(size - 40));  // inside the description
      f.put('\x7f');
    }
    if (damage == 3) write_raw(path, "garbage");
    CAPTURE(damage);
    std::string why;
    CHECK(!is_complete_store(path, &why));
    CHECK(!why.empty());
    CHECK_THROWS_WITH_AS(CorpusStore{path}, doctest::Contains("delete it to rebuild it"), Error);
    CHECK(store_status(path, en, fr, vocab) != "");
    const CorpusStore again = open_store(dir, en, fr, vocab, 1, note, {}, &built);
    CHECK(built);
    CHECK(again.info().tokens == rebuilt.info().tokens);
  }
  CHECK(files_in(dir) == 1);
}

TEST_CASE("a killed encode leaves only a temporary, never taken for a store, removed later") {
  Fixture fx("store_kill");
  const Vocab vocab(fx.model);
  std::vector<std::string> en, fr;
  for (int i = 0; i < 40; ++i) {
    en.insert(en.end(), fx.en.begin(), fx.en.end());
    fr.insert(fr.end(), fx.fr.begin(), fx.fr.end());
  }
  write_file(fx.dir.file("k.en"), en);
  write_file(fx.dir.file("k.fr"), fr);
  const std::string dir = fx.dir.file("stores");
  const std::string path = store_path(dir, fx.dir.file("k.en"), fx.dir.file("k.fr"));
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // encode; after the first chunk, report and wait to be killed
    ::close(fds[0]);
    bool told = false;
    try {
      build_store(path, fx.dir.file("k.en"), fx.dir.file("k.fr"), vocab, 1,
                  [&](long, long, long) {
                    if (told) return;
                    told = true;
                    (void)!::write(fds[1], "x", 1);
                    ::pause();
                  });
    } catch (...) {
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  char c = 0;
  REQUIRE(::read(fds[0], &c, 1) == 1);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  CHECK(WIFSIGNALED(status));
  CHECK(!fs::exists(path));
  const std::string tmp = path + ".tmp." + std::to_string(child);
  CHECK(fs::exists(tmp));
  CHECK(!is_complete_store(tmp));
  CHECK(store_status(path, fx.dir.file("k.en"), fx.dir.file("k.fr"), vocab) == "missing");
  // The next encode removes the dead process's temporary and writes the store.
  bool built = false;
  const CorpusStore s = open_store(dir, fx.dir.file("k.en"), fx.dir.file("k.fr"), vocab, 2, {}, {}, &built);
  CHECK(built);
  CHECK(s.lines() == 8000);
  CHECK(!fs::exists(tmp));
  CHECK(files_in(dir) == 1);
}

TEST_CASE("store names differ for files of the same names in other directories") {
  CHECK(store_path("d", "a/train.en", "a/train.fr") != store_path("d", "b/train.en", "b/train.fr"));
  CHECK(store_path("d", "a/train.en", "a/train.fr").find("d/train.en+train.fr.") == 0);
  CHECK(store_path("d", "a/train.en", "a/train.fr") == store_path("d", "a/./train.en", "a/train.fr"));
}

TEST_SUITE_END();
