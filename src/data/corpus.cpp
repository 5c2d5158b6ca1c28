#include "spotlight/data/corpus.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>

#include "spotlight/atomic_file.h"
#include "spotlight/check.h"
#include "spotlight/parallel.h"

namespace spotlight {

static_assert(std::endian::native == std::endian::little, "the corpus cache assumes little endian");

namespace fs = std::filesystem;

LineReader::LineReader(const std::string& path) : path_(path) {
  std::error_code ec;
  require(!fs::is_directory(path, ec),
          [&] { return "cannot read " + path + ": it is a directory"; });
  in_.open(path, std::ios::binary);
  require(in_.is_open(), [&] { return "cannot open " + path + ": " + std::strerror(errno); });
}

bool LineReader::next(std::string& line) {
  if (!std::getline(in_, line)) {
    require(!in_.bad(), [&] { return "cannot read " + path_ + ": " + std::strerror(errno); });
    return false;
  }
  ++line_no_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line_no_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // UTF-8 BOM
  require(valid_utf8(line), [&] {
    return path_ + ":" + std::to_string(line_no_) + ": invalid UTF-8 (convert the file to UTF-8)";
  });
  return true;
}

std::vector<std::string> read_lines(const std::string& path) {
  LineReader reader(path);
  std::vector<std::string> lines;
  std::string line;
  while (reader.next(line)) lines.push_back(line);
  return lines;
}

namespace {

// What a cache must match: both files' size and modification time, the vocabulary, max_len.
struct CacheKey {
  uint64_t src_size, src_mtime, tgt_size, tgt_mtime, vocab, max_len;
  bool operator==(const CacheKey&) const = default;
};

constexpr char kCacheMagic[8] = {'S', 'P', 'L', 'C', 'R', 'P', '0', '1'};

void stat_file(const std::string& path, uint64_t& size, uint64_t& mtime) {
  std::error_code ec;
  require(!fs::is_directory(path, ec),
          [&] { return "cannot read " + path + ": it is a directory"; });
  size = static_cast<uint64_t>(fs::file_size(path, ec));
  require(!ec, [&] { return "cannot open " + path + ": " + ec.message(); });
  mtime = static_cast<uint64_t>(fs::last_write_time(path, ec).time_since_epoch().count());
  require(!ec, [&] { return "cannot open " + path + ": " + ec.message(); });
}

// Binary reader that hashes what it reads, for the trailing checksum.
struct HashedReader {
  std::ifstream in;
  uint64_t hash = fnv1a({});

  bool read(void* dst, size_t bytes) {
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
    if (!in) return false;
    hash = fnv1a({static_cast<const char*>(dst), bytes}, hash);
    return true;
  }
  template <class T>
  bool read_vector(std::vector<T>& v, uint64_t n) {
    v.resize(n);
    return read(v.data(), n * sizeof(T));
  }
};

// Returns true and fills `c` when cache_path holds a complete, uncorrupted cache for `key`.
bool read_cache(const std::string& cache_path, const CacheKey& key, long vocab_size,
                ParallelCorpus& c) {
  HashedReader r;
  r.in.open(cache_path, std::ios::binary);
  if (!r.in.is_open()) return false;
  std::error_code ec;
  const uint64_t file_size = fs::file_size(cache_path, ec);
  if (ec) return false;
  char magic[8];
  CacheKey stored{};
  uint64_t counts[5];  // lines_read, skipped_empty, skipped_long, P, tokens
  if (!r.read(magic, sizeof magic) || std::memcmp(magic, kCacheMagic, sizeof magic) != 0)
    return false;
  if (!r.read(&stored, sizeof stored) || !(stored == key)) return false;
  if (!r.read(counts, sizeof counts)) return false;
  const uint64_t P = counts[3], n = counts[4];
  // The sizes must add up before anything is allocated from them.
  const uint64_t header = sizeof magic + sizeof stored + sizeof counts;
  if (P > file_size || n > file_size || header + (2 * P + 1) * 8 + P * 8 + n * 4 + 8 != file_size)
    return false;
  ParallelCorpus tmp;
  if (!r.read_vector(tmp.offsets, 2 * P + 1) || !r.read_vector(tmp.lines, P) ||
      !r.read_vector(tmp.tokens, n))
    return false;
  const uint64_t expected = r.hash;
  uint64_t checksum = 0;
  if (!r.read(&checksum, sizeof checksum) || checksum != expected) return false;
  // What the trainer indexes with must be in range even in a cache that was crafted: sides of
  // 1..max_len pieces, ids inside the vocabulary, line numbers rising within the counted lines.
  const auto max_len = static_cast<long>(key.max_len);
  if (tmp.offsets.front() != 0 || tmp.offsets.back() != static_cast<long>(n)) return false;
  for (size_t k = 0; k + 1 < tmp.offsets.size(); ++k) {
    const long b = tmp.offsets[k], e = tmp.offsets[k + 1];  // compared before subtracting
    if (b < 0 || e <= b || e > static_cast<long>(n) || e - b > max_len) return false;
  }
  for (int id : tmp.tokens)
    if (id < 0 || id >= vocab_size) return false;
  if (counts[0] > (1ULL << 40) || counts[1] > counts[0] || counts[2] > counts[0] ||
      P + counts[1] + counts[2] != counts[0])
    return false;
  for (size_t p = 0; p < P; ++p)
    if (tmp.lines[p] < 0 || tmp.lines[p] >= static_cast<long>(counts[0]) ||
        (p > 0 && tmp.lines[p] <= tmp.lines[p - 1]))
      return false;
  tmp.lines_read = static_cast<long>(counts[0]);
  tmp.skipped_empty = static_cast<long>(counts[1]);
  tmp.skipped_long = static_cast<long>(counts[2]);
  tmp.from_cache = true;
  c = std::move(tmp);
  return true;
}

// Writes the cache atomically (atomic_file.h): a later run never reads a half-written one.
void write_cache(const std::string& cache_path, const CacheKey& key, const ParallelCorpus& c) {
  AtomicFile out(cache_path, true);
  uint64_t hash = fnv1a({});
  auto put = [&](const void* src, size_t bytes) {
    out.write(src, bytes);
    hash = fnv1a({static_cast<const char*>(src), bytes}, hash);
  };
  const uint64_t counts[5] = {
      static_cast<uint64_t>(c.lines_read), static_cast<uint64_t>(c.skipped_empty),
      static_cast<uint64_t>(c.skipped_long), static_cast<uint64_t>(c.size()),
      static_cast<uint64_t>(c.tokens.size())};
  put(kCacheMagic, sizeof kCacheMagic);
  put(&key, sizeof key);
  put(counts, sizeof counts);
  put(c.offsets.data(), c.offsets.size() * sizeof(long));
  put(c.lines.data(), c.lines.size() * sizeof(long));
  put(c.tokens.data(), c.tokens.size() * sizeof(int));
  const uint64_t checksum = hash;
  out.write(&checksum, sizeof checksum);
  out.commit();
}

// Encodes texts[i] into ids[i] for all i on the compute pool, in at most `threads` chunks
// (Vocab::encode is thread-safe; an exception in any chunk is rethrown here).
void encode_all(const Vocab& vocab, const std::vector<std::string>& texts,
                std::vector<std::vector<int>>& ids, int threads) {
  ids.resize(texts.size());
  const long n = static_cast<long>(texts.size());
  parallel_for(n, std::max(1L, n / std::max(threads, 1)), [&](long i0, long i1) {
    for (long i = i0; i < i1; ++i) ids[static_cast<size_t>(i)] = vocab.encode(texts[static_cast<size_t>(i)]);
  });
}

}  // namespace

ParallelCorpus load_parallel(const std::string& src_path, const std::string& tgt_path,
                             const Vocab& vocab, long max_len, const std::string& cache_path,
                             int threads) {
  require(max_len > 0, "data.max_len: must be positive, got " + std::to_string(max_len));
  CacheKey key{};
  stat_file(src_path, key.src_size, key.src_mtime);
  stat_file(tgt_path, key.tgt_size, key.tgt_mtime);
  key.vocab = vocab.fingerprint();
  key.max_len = static_cast<uint64_t>(max_len);

  ParallelCorpus c;
  if (!cache_path.empty() && read_cache(cache_path, key, vocab.size(), c)) return c;

  // Stream both files in chunks: read, encode in parallel, filter and append.
  LineReader src(src_path), tgt(tgt_path);
  const size_t chunk = 4096 * static_cast<size_t>(std::max(threads, 1));
  std::vector<std::string> src_text, tgt_text;
  std::vector<std::vector<int>> src_ids, tgt_ids;
  c.offsets.push_back(0);
  bool more = true;
  while (more) {
    src_text.clear();
    tgt_text.clear();
    std::string s, t;
    while (src_text.size() < chunk) {
      const bool has_src = src.next(s), has_tgt = tgt.next(t);
      if (has_src != has_tgt) {
        // Count the rest of the longer file so the message gives both totals.
        LineReader& longer = has_src ? src : tgt;
        while (longer.next(s)) {
        }
        require(false, [&] {
          return "parallel files differ in length: " + src_path + " has " +
                 std::to_string(src.lines_read()) + " lines but " + tgt_path + " has " +
                 std::to_string(tgt.lines_read()) +
                 " (line N of the source must translate line N of the target)";
        });
      }
      if (!has_src) {
        more = false;
        break;
      }
      src_text.push_back(std::move(s));
      tgt_text.push_back(std::move(t));
    }
    encode_all(vocab, src_text, src_ids, threads);
    encode_all(vocab, tgt_text, tgt_ids, threads);
    for (size_t i = 0; i < src_text.size(); ++i, ++c.lines_read) {
      const auto& a = src_ids[i];
      const auto& b = tgt_ids[i];
      if (a.empty() || b.empty()) {
        ++c.skipped_empty;
        continue;
      }
      if (static_cast<long>(a.size()) > max_len || static_cast<long>(b.size()) > max_len) {
        ++c.skipped_long;
        continue;
      }
      c.tokens.insert(c.tokens.end(), a.begin(), a.end());
      c.offsets.push_back(static_cast<long>(c.tokens.size()));
      c.tokens.insert(c.tokens.end(), b.begin(), b.end());
      c.offsets.push_back(static_cast<long>(c.tokens.size()));
      c.lines.push_back(c.lines_read);
    }
  }
  c.tokens.shrink_to_fit();
  c.offsets.shrink_to_fit();
  c.lines.shrink_to_fit();
  // A file changed while it was read would key the cache with the wrong contents: skip it.
  CacheKey after = key;
  stat_file(src_path, after.src_size, after.src_mtime);
  stat_file(tgt_path, after.tgt_size, after.tgt_mtime);
  if (!cache_path.empty() && after == key) write_cache(cache_path, key, c);
  return c;
}

}  // namespace spotlight
