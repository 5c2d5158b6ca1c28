// fuzz_corpus.cpp — the corpus reader on arbitrary bytes: the parallel text files a training run
// reads (strict UTF-8 lines, line counts, encoding, max_len) and the binary cache of the encoded
// corpus that a restart reads back. Input byte 0 picks the target:
//   even: source text, a NUL byte, target text — read and encoded as two files;
//   odd:  the body of a cache file (after the header that names its inputs), its checksum fixed
//         up so that the reader's structural checks, not the checksum, are what is exercised.
// SPOTLIGHT_FUZZ_WRITE_SEEDS=DIR writes the genuine cache body, mode byte first, as a seed.
// Whatever the reader returns, from the text or from a cache, must be a well-formed corpus: ids
// inside the vocabulary, sides of 1..max_len pieces, line numbers in order and in range, counts
// that add up. (A cache crafted with a valid checksum can hold other sentences; that it cannot
// hold out-of-range ids or offsets is what matters for memory safety.)
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "fuzz_support.h"
#include "spotlight/data/corpus.h"
#include "spotlight/data/vocab.h"

namespace fs = std::filesystem;
using spotlight::fuzz::MemFile;

namespace {

struct Fixture {
  fs::path dir;
  std::unique_ptr<spotlight::Vocab> vocab;
  std::string fixed_src, fixed_tgt, cache, cache_header;

  Fixture() {
    dir = fs::temp_directory_path() / ("spotlight_fuzz_corpus." + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream text(dir / "train.txt");
    const char* words[] = {"a", "man", "dog", "runs", "le", "chien", "court", "été", "über", "!"};
    for (int i = 0; i < 400; ++i)
      text << words[i % 10] << ' ' << words[(i * 7) % 10] << ' ' << words[(i * 3) % 10] << '\n';
    text.close();
    spotlight::VocabOptions o;
    o.size = 30;
    spotlight::Vocab::train({(dir / "train.txt").string()}, (dir / "v.model").string(), o);
    vocab = std::make_unique<spotlight::Vocab>((dir / "v.model").string());
    // Fixed inputs and a genuine cache for them: its header (magic and key) is kept as is.
    fixed_src = (dir / "src.txt").string();
    fixed_tgt = (dir / "tgt.txt").string();
    std::ofstream(fixed_src) << "a man runs\nle chien\n";
    std::ofstream(fixed_tgt) << "le chien court\na dog\n";
    cache = (dir / "cache.bin").string();
    spotlight::load_parallel(fixed_src, fixed_tgt, *vocab, 50, cache);
    std::ifstream in(cache, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    cache_header = bytes.substr(0, 8 + 6 * 8);  // magic + CacheKey (corpus.cpp)
    if (const char* seeds = std::getenv("SPOTLIGHT_FUZZ_WRITE_SEEDS")) {
      fs::create_directories(seeds);
      std::ofstream(fs::path(seeds) / "genuine_cache", std::ios::binary)
          << '\x01' << bytes.substr(cache_header.size(), bytes.size() - cache_header.size() - 8);
    }
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

void fail(const char* what) {
  std::fprintf(stderr, "malformed corpus accepted: %s\n", what);
  std::abort();
}

void check(const spotlight::ParallelCorpus& c, const spotlight::Vocab& vocab, long max_len) {
  if (c.offsets.size() != 2 * c.lines.size() + 1 || c.offsets.front() != 0 ||
      c.offsets.back() != static_cast<long>(c.tokens.size()))
    fail("offsets");
  if (c.size() + c.skipped_empty + c.skipped_long != c.lines_read) fail("counts");
  for (long p = 0; p < c.size(); ++p) {
    for (auto side : {c.src(p), c.tgt(p)})
      if (side.empty() || static_cast<long>(side.size()) > max_len) fail("side length");
    if (c.lines[p] < 0 || c.lines[p] >= c.lines_read || (p > 0 && c.lines[p] <= c.lines[p - 1]))
      fail("line numbers");
  }
  for (int id : c.tokens)
    if (id < 0 || id >= vocab.size()) fail("token id");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  static MemFile src("src.txt"), tgt("tgt.txt");
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    const size_t nul = in.find('\0');
    src.set(in.substr(0, nul));
    tgt.set(nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1));
    for (long max_len : {1L, 4L, 250L})
      spotlight::fuzz::expect_clean([&] {
        check(spotlight::load_parallel(src.path(), tgt.path(), *fx.vocab, max_len), *fx.vocab,
              max_len);
      });
  } else {
    std::string body = fx.cache_header;
    body.append(in);
    const uint64_t sum = spotlight::fnv1a(body);  // the checksum covers every byte before it
    body.append(reinterpret_cast<const char*>(&sum), sizeof sum);
    std::ofstream(fx.cache, std::ios::binary | std::ios::trunc) << body;
    spotlight::fuzz::expect_clean([&] {
      check(spotlight::load_parallel(fx.fixed_src, fx.fixed_tgt, *fx.vocab, 50, fx.cache),
            *fx.vocab, 50);
    });
  }
  return 0;
}
