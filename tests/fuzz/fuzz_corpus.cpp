// fuzz_corpus.cpp — the corpus store (data/store.h) on arbitrary bytes: the parallel text files
// `spotlight prepare` and a training run encode (strict UTF-8 lines, line counts), and the store
// file a run reads its pairs back from. Input byte 0 picks the target:
//   even: source text, a NUL byte, target text — the two files build_store encodes. It must
//         refuse them with spotlight::Error, leaving nothing behind, or write a store that holds
//         every line pair exactly (read() and scan() give Vocab::encode of each line), whose
//         counts add up, that store_status finds current, and whose pairs PairMix filters by
//         max_len with counts that add up;
//   odd:  a genuine store with patches applied. Bit 1 of byte 0 picks the store (0: 2-byte ids,
//         encoded by build_store from fixed text files; 1: 4-byte ids, written with StoreWriter,
//         with empty sides and a side too long to keep); bit 2 fixes up the trailer's description
//         length and checksum after patching, so that a patched index or description meets the
//         reader's structural checks and reads rather than the checksum. The rest of the input is
//         a list of patches, each a 2-byte little-endian offset (high bit set: counted back from
//         the end of the file), a count byte n and n bytes written there (the file grows,
//         zero-filled, when they reach past its end); n = 0 truncates the file at the offset.
//         is_complete_store and CorpusStore must then refuse the file (a reason, an Error) or
//         open a store where read() and scan() of every line either throw spotlight::Error or
//         give ids inside the store's vocabulary and as many as the index says
//         (src_pieces/tgt_pieces), the same from both, and where PairMix's counts add up.
// SPOTLIGHT_FUZZ_WRITE_SEEDS=DIR writes both genuine stores unpatched, and patched inputs that
// each reach one check of the reader (built from the current layout, so never committed).
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "spotlight/data/corpus.h"
#include "spotlight/data/mix.h"
#include "spotlight/data/store.h"
#include "spotlight/data/vocab.h"
#include "spotlight/rng.h"

namespace fs = std::filesystem;
using spotlight::fuzz::MemFile;

namespace {

constexpr size_t kTrailerBytes = 32;  // json offset, json length, checksum, "SPLSTEND" (store.cpp)

void fail(const std::string& what) {
  std::fprintf(stderr, "corpus store: %s\n", what.c_str());
  std::abort();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t get_u64(const std::string& f, size_t at) {
  uint64_t v = 0;
  std::memcpy(&v, f.data() + at, 8);
  return v;
}
void put_u64(std::string& f, size_t at, uint64_t v) {
  std::memcpy(f.data() + at, &v, 8);
}

// After patching: the trailer's description length made to match the file's size, and its
// checksum recomputed over the index and description, the index located from the description's
// line count as the reader locates it (when the description does not say, the reader refuses
// the file before the checksum anyway).
void fix_up(std::string& f) {
  if (f.size() < 64 + kTrailerBytes) return;
  const size_t body_end = f.size() - kTrailerBytes;
  const uint64_t json_offset = get_u64(f, body_end);
  if (json_offset > body_end) return;
  put_u64(f, body_end + 8, body_end - json_offset);
  const auto j = nlohmann::json::parse(f.begin() + static_cast<long>(json_offset),
                                       f.begin() + static_cast<long>(body_end), nullptr, false);
  if (!j.is_object() || !j.contains("lines") || !j["lines"].is_number_integer()) return;
  const int64_t lines = j["lines"].get<int64_t>();
  if (lines < 0 || static_cast<uint64_t>(lines) > json_offset / 4) return;
  const size_t index_offset = json_offset - 4 * static_cast<uint64_t>(lines);
  put_u64(f, body_end + 16,
          spotlight::fnv1a(std::string_view(f).substr(index_offset, body_end - index_offset)));
}

// The patches of an odd-mode input (after byte 0) applied to `f`.
void apply_patches(std::string& f, std::string_view in) {
  while (in.size() >= 3) {
    const unsigned off =
        static_cast<unsigned char>(in[0]) | (static_cast<unsigned char>(in[1]) << 8);
    const size_t n = static_cast<unsigned char>(in[2]);
    in.remove_prefix(3);
    size_t at = off & 0x7fff;
    if (off & 0x8000) at = at > f.size() ? 0 : f.size() - at;
    if (n == 0) {
      if (at < f.size()) f.resize(at);
      continue;
    }
    const std::string_view bytes = in.substr(0, n);
    in.remove_prefix(bytes.size());
    if (at + bytes.size() > f.size()) f.resize(at + bytes.size(), '\0');
    std::memcpy(f.data() + at, bytes.data(), bytes.size());
  }
}

// A patch as apply_patches reads it (for the generated seeds).
std::string patch(unsigned off, std::string_view bytes) {
  std::string p;
  p += static_cast<char>(off & 0xff);
  p += static_cast<char>(off >> 8);
  p += static_cast<char>(bytes.size());
  p += bytes;
  return p;
}
std::string from_end(size_t back, std::string_view bytes) {
  return patch(0x8000 | static_cast<unsigned>(back), bytes);
}
std::string le16(unsigned v) {
  return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
}

struct Fixture {
  fs::path dir;
  std::unique_ptr<spotlight::Vocab> vocab;
  std::string text_store;  // where even-mode inputs are encoded
  std::string genuine[2];  // the two genuine stores' bytes
  std::string patched;     // where odd-mode inputs are written

  Fixture() {
    // Each even-mode input writes (and fsyncs) a store: in memory when /dev/shm is there.
    const fs::path tmp =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    dir = tmp / ("spotlight_fuzz_corpus." + std::to_string(::getpid()));
    fs::create_directories(dir);
    const char* words[] = {"a", "man", "dog", "runs", "le", "chien", "court", "été", "über", "!"};
    {
      std::ofstream text(dir / "train.txt");
      for (int i = 0; i < 400; ++i)
        text << words[i % 10] << ' ' << words[(i * 7) % 10] << ' ' << words[(i * 3) % 10] << '\n';
    }
    spotlight::VocabOptions o;
    o.size = 30;
    spotlight::Vocab::train({(dir / "train.txt").string()}, (dir / "v.model").string(), o);
    vocab = std::make_unique<spotlight::Vocab>((dir / "v.model").string());
    text_store = (dir / "text.store").string();
    patched = (dir / "patched.store").string();

    // Store 0: fixed text files of 150 lines (three index blocks of 64), some sides empty.
    const std::string src = (dir / "src.txt").string(), tgt = (dir / "tgt.txt").string();
    {
      std::ofstream s(src), t(tgt);
      for (int i = 0; i < 150; ++i) {
        for (int w = 0; w < (i % 17 == 5 ? 0 : 1 + i % 9); ++w)
          s << (w ? " " : "") << words[(i + 3 * w) % 10];
        for (int w = 0; w < (i % 23 == 7 ? 0 : 1 + i % 6); ++w)
          t << (w ? " " : "") << words[(2 * i + w) % 10];
        s << '\n';
        t << (i % 11 == 0 ? "\r\n" : "\n");
      }
    }
    const std::string store0 = (dir / "genuine0.store").string();
    spotlight::build_store(store0, src, tgt, *vocab, 1);
    genuine[0] = slurp(store0);

    // Store 1: ids of a 70,000-piece vocabulary (4 bytes each), 130 pairs, with empty sides and
    // one side of kStoreMaxPieces + 1 ids (recorded as too long, its ids not written).
    const std::string store1 = (dir / "genuine1.store").string();
    {
      spotlight::StoreWriter w(store1, 70000);
      std::vector<int> a, b;
      for (int i = 0; i < 130; ++i) {
        a.clear();
        b.clear();
        if (i == 70) a.assign(spotlight::kStoreMaxPieces + 1, 5);
        for (int k = 0; k < (i % 13 == 4 ? 0 : 1 + i % 7); ++k)
          a.push_back((i * 7919 + k * 104729) % 70000);
        for (int k = 0; k < (i % 19 == 9 ? 0 : 1 + i % 5); ++k)
          b.push_back((i * 65537 + k * 3) % 70000);
        w.add(a, b);
      }
      w.commit(spotlight::StoreInfo{});
    }
    genuine[1] = slurp(store1);

    if (const char* seeds = std::getenv("SPOTLIGHT_FUZZ_WRITE_SEEDS")) {
      fs::create_directories(seeds);
      for (const auto& [name, bytes] : seed_inputs())
        std::ofstream(fs::path(seeds) / name, std::ios::binary) << bytes;
    }
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // Generated inputs: text files with a side too long to keep (over kStoreMaxPieces pieces, more
  // bytes than libFuzzer's -max_len, so only the replay runs it whole), then odd-mode inputs that
  // each reach one check of the reader (mode byte, then patches).
  std::vector<std::pair<std::string, std::string>> seed_inputs() const {
    const std::string fixed0 = "\x05", fixed1 = "\x07";  // checksum fixed up
    // Where each genuine store's index starts (its description follows it), and store 0's first
    // line's piece counts.
    const long lines[2] = {150, 130};
    size_t index[2];
    unsigned s0 = 0, t0 = 0;
    for (int k = 0; k < 2; ++k)
      index[k] = get_u64(genuine[k], genuine[k].size() - kTrailerBytes) -
                 4 * static_cast<size_t>(lines[k]);
    std::memcpy(&s0, genuine[0].data() + index[0], 2);
    std::memcpy(&t0, genuine[0].data() + index[0] + 2, 2);
    // Store 1's description, and the last digit of its "lines":130.
    const size_t json1 = index[1] + 4 * 130;
    const auto lines_digit = static_cast<unsigned>(genuine[1].find("\"lines\":130", json1) + 10);
    const auto at = [&](int k, size_t delta) { return static_cast<unsigned>(index[k] + delta); };
    std::string too_long(1, '\0');
    for (int i = 0; i < 34000; ++i) too_long += "a!";
    too_long += std::string("\n\nman\n") + '\0' + "le\nchien court\n\n";
    return {
        {"text_too_long", too_long},
        {"store_genuine_2byte", "\x01"},
        {"store_genuine_4byte", "\x03"},
        // Cut in the middle of the ids, of the index, of the trailer; the description followed
        // by 40 spaces (still valid JSON: the store opens once its trailer is fixed up).
        {"store_truncated_ids", "\x01" + patch(100, "")},
        {"store_truncated_index", "\x03" + patch(at(1, 6), "")},
        {"store_truncated_trailer", "\x01" + from_end(5, "")},
        {"store_extended",
         "\x05" +
             from_end(kTrailerBytes,
                      std::string(40, ' ') + genuine[0].substr(genuine[0].size() - kTrailerBytes))},
        // An id outside the vocabulary (ids are not checksummed): 0xffff, and 0xffffffff.
        {"store_bad_id", "\x01" + patch(64, "\xff\xff")},
        {"store_bad_id_4byte", "\x03" + patch(64, "\xff\xff\xff\xff")},
        // Index entries changed, checksum fixed: more ids than the description counts, or the
        // same number split otherwise between the two sides.
        {"store_index_count", fixed0 + patch(at(0, 0), le16(s0 + 1))},
        {"store_index_split", fixed0 + patch(at(0, 0), le16(s0 + t0 - 1) + le16(1))},
        {"store_index_too_long", fixed1 + patch(at(1, 0), le16(65535))},
        {"store_index_empty", fixed1 + patch(at(1, 4), le16(0) + le16(0))},
        // The description: not JSON; one line more than the index holds (checksum fixed).
        {"store_description_broken", "\x03" + patch(static_cast<unsigned>(json1), "[")},
        {"store_description_lines", fixed1 + patch(lines_digit, "1")},
        // The trailer pointing outside the file, a wrong checksum, another magic or version.
        {"store_trailer_offset", "\x01" + from_end(32, std::string(8, '\xff'))},
        {"store_wrong_checksum", "\x01" + from_end(16, std::string(8, '\0'))},
        {"store_not_a_store", "\x01" + patch(0, "SPLSTORX")},
        {"store_version", "\x01" + patch(8, "\x02")},
    };
  }
};

// Every pair of a store read with read() and with scan(): either an Error, or ids inside the
// store's vocabulary and as many as its index says, the same from both.
void check_reads(const spotlight::CorpusStore& s) {
  const spotlight::StoreInfo& info = s.info();
  if (info.lines < 0 || (info.token_bytes != 2 && info.token_bytes != 4) || info.vocab_size <= 0)
    fail("opened with an impossible description");
  auto check_side = [&](std::span<const int> ids, int pieces, const char* what) {
    if (static_cast<long>(ids.size()) != pieces)
      fail(std::string(what) + ": as many ids as its index says");
    for (int id : ids)
      if (id < 0 || id >= info.vocab_size)
        fail(std::string(what) + ": id " + std::to_string(id) + " outside a vocabulary of " +
             std::to_string(info.vocab_size));
  };
  auto expected = [&](long i, int& a, int& b) {
    a = s.src_pieces(i);
    b = s.tgt_pieces(i);
    if (a < 0 || b < 0) fail("negative piece count");
    if (a == spotlight::kStoreTooLong || b == spotlight::kStoreTooLong) a = b = 0;  // not kept
  };
  const auto n = static_cast<size_t>(info.lines);
  std::vector<std::vector<int>> src(n), tgt(n);
  std::vector<char> read_ok(n, 0);
  for (long i = 0; i < info.lines; ++i) {
    const auto k = static_cast<size_t>(i);
    try {
      s.read(i, src[k], tgt[k]);
    } catch (const spotlight::Error&) {
      continue;
    }
    int a = 0, b = 0;
    expected(i, a, b);
    check_side(src[k], a, "read() source");
    check_side(tgt[k], b, "read() target");
    read_ok[k] = 1;
  }
  for (long i : {-1L, info.lines}) {
    std::vector<int> a, b;
    bool refused = false;
    try {
      s.read(i, a, b);
    } catch (const spotlight::Error&) {
      refused = true;
    }
    if (!refused) fail("read() of line " + std::to_string(i) + " outside the store");
  }
  for (const auto& range : {std::pair{0L, info.lines}, std::pair{info.lines / 3, info.lines},
                            std::pair{-5L, info.lines + 5}, std::pair{info.lines, 0L}}) {
    const long begin = range.first, end = range.second;  // (lambdas cannot capture bindings)
    long next = std::max(0L, begin);
    spotlight::fuzz::expect_clean([&] {
      s.scan(begin, end, [&](long i, std::span<const int> a, std::span<const int> b) {
        if (i != next++ || i >= std::min(end, info.lines)) fail("scan() out of order or range");
        int na = 0, nb = 0;
        expected(i, na, nb);
        check_side(a, na, "scan() source");
        check_side(b, nb, "scan() target");
        const auto k = static_cast<size_t>(i);
        if (read_ok[k] && (!std::equal(a.begin(), a.end(), src[k].begin(), src[k].end()) ||
                           !std::equal(b.begin(), b.end(), tgt[k].begin(), tgt[k].end())))
          fail("scan() and read() differ at line " + std::to_string(i));
      });
    });
  }
}

// PairMix over one store: counts that add up, and only pairs of 1..max_len pieces drawn.
void check_mix(const spotlight::CorpusStore& s, long max_len) {
  const spotlight::PairMix mix({{&s, 1.5}}, max_len);
  const spotlight::PairMix::Counts& c = mix.counts(0);
  long kept = 0;
  for (long i = 0; i < s.lines(); ++i) {
    const int a = s.src_pieces(i), b = s.tgt_pieces(i);
    kept += a > 0 && b > 0 && a <= max_len && b <= max_len;
  }
  if (c.lines != s.lines() || c.kept + c.empty + c.too_long != c.lines || c.kept != kept ||
      mix.kept() != kept)
    fail("PairMix counts do not add up (max_len " + std::to_string(max_len) + ")");
  const std::vector<uint32_t> once = mix.epoch_pairs(nullptr);
  spotlight::Rng rng(3);
  const std::vector<uint32_t> epoch = mix.epoch_pairs(&rng);
  if (static_cast<long>(once.size()) != kept || static_cast<long>(epoch.size()) != mix.epoch_size())
    fail("PairMix epoch sizes");
  for (uint32_t g : epoch) {
    if (g >= static_cast<uint64_t>(s.lines())) fail("PairMix drew a pair outside the store");
    const int a = mix.src_pieces(g), b = mix.tgt_pieces(g);
    if (a < 1 || b < 1 || a > max_len || b > max_len)
      fail("PairMix drew a pair it should not keep");
  }
  long scanned = 0;
  spotlight::fuzz::expect_clean([&] {
    mix.scan_kept([&](std::span<const int> a, std::span<const int> b) {
      ++scanned;
      for (auto side : {a, b}) {
        if (side.empty() || static_cast<long>(side.size()) > max_len)
          fail("PairMix::scan_kept side length");
        for (int id : side)
          if (id < 0 || id >= s.info().vocab_size) fail("PairMix::scan_kept id");
      }
    });
    if (scanned != kept) fail("PairMix::scan_kept count");
  });
}

// Even mode: the store build_store wrote for src/tgt holds exactly their encoded lines.
void check_built(const std::string& path, const std::string& src_path, const std::string& tgt_path,
                 const spotlight::Vocab& vocab) {
  const std::vector<std::string> src = spotlight::read_lines(src_path),
                                 tgt = spotlight::read_lines(tgt_path);
  if (src.size() != tgt.size()) fail("files of different lengths encoded");
  std::string why;
  if (!spotlight::is_complete_store(path, &why)) fail("the store just built is " + why);
  const std::string status = spotlight::store_status(path, src_path, tgt_path, vocab);
  if (!status.empty()) fail("the store just built is " + status);
  const spotlight::CorpusStore s(path);
  const spotlight::StoreInfo& info = s.info();
  if (info.lines != static_cast<long>(src.size()) || info.vocab_size != vocab.size() ||
      info.token_bytes != 2)
    fail("description of the store just built");
  long tokens = 0, empty = 0, too_long = 0;
  std::vector<int> a, b;
  std::vector<std::vector<int>> want_src(src.size()), want_tgt(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    std::vector<int> es = vocab.encode(src[i]), et = vocab.encode(tgt[i]);
    const long line = static_cast<long>(i);
    s.read(line, a, b);
    if (static_cast<long>(es.size()) > spotlight::kStoreMaxPieces ||
        static_cast<long>(et.size()) > spotlight::kStoreMaxPieces) {
      ++too_long;
      if (s.src_pieces(line) != spotlight::kStoreTooLong ||
          s.tgt_pieces(line) != spotlight::kStoreTooLong || !a.empty() || !b.empty())
        fail("a side too long to keep, kept");
      es.clear();
      et.clear();
    } else {
      empty += es.empty() || et.empty();
      tokens += static_cast<long>(es.size() + et.size());
      if (s.src_pieces(line) != static_cast<int>(es.size()) ||
          s.tgt_pieces(line) != static_cast<int>(et.size()) || a != es || b != et)
        fail("line " + std::to_string(i + 1) + " does not round-trip");
    }
    want_src[i] = std::move(es);
    want_tgt[i] = std::move(et);
  }
  if (info.tokens != tokens || info.empty != empty || info.too_long != too_long)
    fail("counts of the store just built");
  long next = 0;
  s.scan(0, s.lines(), [&](long i, std::span<const int> x, std::span<const int> y) {
    const auto k = static_cast<size_t>(i);
    if (i != next++ || !std::equal(x.begin(), x.end(), want_src[k].begin(), want_src[k].end()) ||
        !std::equal(y.begin(), y.end(), want_tgt[k].begin(), want_tgt[k].end()))
      fail("scan() of line " + std::to_string(i + 1) + " does not round-trip");
  });
  if (next != s.lines()) fail("scan() missed lines");
  for (long max_len : {1L, 4L, 250L, spotlight::kStoreMaxPieces}) check_mix(s, max_len);
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
    std::error_code ec;
    fs::remove(fx.text_store, ec);
    bool built = false;
    spotlight::fuzz::expect_clean([&] {
      spotlight::build_store(fx.text_store, src.path(), tgt.path(), *fx.vocab, 1);
      built = true;
    });
    if (!built) {
      if (fs::exists(fx.text_store)) fail("a refused encode left a store behind");
      for (const auto& e : fs::directory_iterator(fx.dir))
        if (e.path().filename().string().starts_with("text.store.tmp."))
          fail("a refused encode left " + e.path().string());
      return 0;
    }
    // Here an Error is a bug too: the store was just built from these files.
    try {
      check_built(fx.text_store, src.path(), tgt.path(), *fx.vocab);
    } catch (const spotlight::Error& e) {
      fail(std::string("the store just built was refused: ") + e.what());
    }
    return 0;
  }
  std::string file = fx.genuine[(data[0] >> 1) & 1];
  apply_patches(file, in);
  if (data[0] & 4) fix_up(file);
  std::ofstream(fx.patched, std::ios::binary | std::ios::trunc) << file;
  std::string why;
  const bool complete = spotlight::is_complete_store(fx.patched, &why);
  if (!complete && why.empty()) fail("is_complete_store refused a file without a reason");
  spotlight::fuzz::expect_clean([&] {
    const spotlight::CorpusStore s(fx.patched);
    if (!complete) fail("CorpusStore opened a file is_complete_store refused: " + why);
    check_reads(s);
    for (long max_len : {1L, 8L, spotlight::kStoreMaxPieces}) check_mix(s, max_len);
  });
  return 0;
}
