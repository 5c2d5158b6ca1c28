#include "spotlight/data/store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "spotlight/atomic_file.h"
#include "spotlight/check.h"
#include "spotlight/data/corpus.h"
#include "spotlight/parallel.h"

namespace spotlight {

static_assert(std::endian::native == std::endian::little, "the corpus store is little endian");

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr char kMagic[8] = {'S', 'P', 'L', 'S', 'T', 'O', 'R', 'E'};
constexpr char kEndMagic[8] = {'S', 'P', 'L', 'S', 'T', 'E', 'N', 'D'};
constexpr size_t kHeaderBytes = 64;
constexpr size_t kTrailerBytes = 32;
constexpr long kBlock = 64;  // lines per stored token offset

struct Trailer {
  uint64_t json_offset, json_bytes, checksum;
  char magic[8];
};
static_assert(sizeof(Trailer) == kTrailerBytes);

json source_json(const StoreSource& s) {
  return {{"path", s.path}, {"bytes", s.bytes}, {"mtime_ns", s.mtime_ns}, {"sha256", s.sha256}};
}
StoreSource source_from(const json& j) {
  if (!j.at("bytes").is_number_integer() || !j.at("mtime_ns").is_number_integer())
    throw json::other_error::create(501, "a source's bytes and mtime_ns must be integers", &j);
  return {j.at("path").get<std::string>(), j.at("bytes").get<long>(),
          j.at("mtime_ns").get<int64_t>(), j.at("sha256").get<std::string>()};
}

// Size and modification time of a file (an Error names it when it cannot be read).
StoreSource stat_source(const std::string& path) {
  struct stat st{};
  require(::stat(path.c_str(), &st) == 0,
          [&] { return "cannot open " + path + ": " + std::strerror(errno); });
  require(!S_ISDIR(st.st_mode), [&] { return "cannot read " + path + ": it is a directory"; });
  StoreSource s;
  s.path = path;
  s.bytes = static_cast<long>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return s;
}

// Reads the complete file's description; false (with why) when it is not a complete store.
bool read_description(int fd, size_t file_bytes, StoreInfo& info, uint64_t& index_offset,
                      std::string& why) {
  if (file_bytes < kHeaderBytes + kTrailerBytes) {
    why = "truncated (" + std::to_string(file_bytes) + " bytes)";
    return false;
  }
  char header[kHeaderBytes];
  Trailer t{};
  if (::pread(fd, header, kHeaderBytes, 0) != static_cast<ssize_t>(kHeaderBytes) ||
      ::pread(fd, &t, kTrailerBytes, static_cast<off_t>(file_bytes - kTrailerBytes)) !=
          static_cast<ssize_t>(kTrailerBytes)) {
    why = std::string("cannot be read: ") + std::strerror(errno);
    return false;
  }
  if (std::memcmp(header, kMagic, 8) != 0) {
    why = "not a Spotlight corpus store";
    return false;
  }
  uint32_t version = 0;
  std::memcpy(&version, header + 8, 4);
  if (version != kStoreVersion) {
    why = "of format version " + std::to_string(version) + ", not " + std::to_string(kStoreVersion);
    return false;
  }
  if (std::memcmp(t.magic, kEndMagic, 8) != 0) {
    why = "truncated or incomplete (no trailer)";
    return false;
  }
  const uint64_t body_end = file_bytes - kTrailerBytes;
  if (t.json_offset > body_end || t.json_bytes != body_end - t.json_offset ||
      t.json_bytes > (1u << 20)) {
    why = "damaged (its trailer does not match its size)";
    return false;
  }
  std::string text(t.json_bytes, '\0');
  if (::pread(fd, text.data(), text.size(), static_cast<off_t>(t.json_offset)) !=
      static_cast<ssize_t>(text.size())) {
    why = "truncated (its description cannot be read)";
    return false;
  }
  try {
    const json j = json::parse(text);
    // Counts must be integers in [0, 2^40]: a float or a huge value would overflow the
    // conversions and the sums below.
    auto count = [&](const char* key) {
      const json& v = j.at(key);
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1LL << 40))
        throw json::other_error::create(501, std::string(key) + " is not a count", &v);
      return static_cast<long>(v.get<int64_t>());
    };
    info.version = static_cast<int>(std::min(count("version"), 1000L));
    info.token_bytes = static_cast<int>(std::min(count("token_bytes"), 1000L));
    info.vocab_sha256 = j.at("vocab_sha256").get<std::string>();
    info.vocab_size = count("vocab_size");
    info.src = source_from(j.at("src"));
    info.tgt = source_from(j.at("tgt"));
    info.lines = count("lines");
    info.tokens = count("tokens");
    info.empty = count("empty");
    info.too_long = count("too_long");
  } catch (const json::exception& e) {
    why = std::string("damaged (its description: ") + e.what() + ")";
    return false;
  }
  uint32_t header_tb = 0;
  std::memcpy(&header_tb, header + 12, 4);
  const uint64_t lines = static_cast<uint64_t>(info.lines), tokens = static_cast<uint64_t>(info.tokens);
  const uint64_t tb = static_cast<uint64_t>(info.token_bytes);
  if (info.version != kStoreVersion || (tb != 2 && tb != 4) || header_tb != tb || info.lines < 0 || info.tokens < 0 ||
      info.vocab_size <= 4 || info.vocab_size > (1L << 31) - 1 ||
      (tb == 2 && info.vocab_size > 65536) || lines > file_bytes ||
      tokens > file_bytes || info.empty < 0 || info.too_long < 0 ||
      info.empty + info.too_long > info.lines) {
    why = "damaged (its counts are inconsistent)";
    return false;
  }
  const uint64_t tokens_end = kHeaderBytes + tokens * tb;
  index_offset = (tokens_end + 7) / 8 * 8;
  if (index_offset + lines * 4 != t.json_offset) {
    why = "damaged or truncated (its parts do not add up to its size)";
    return false;
  }
  // The checksum covers the index and the description.
  uint64_t h = fnv1a({});
  std::vector<char> block(1 << 20);
  for (uint64_t at = index_offset; at < body_end;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), body_end - at));
    if (::pread(fd, block.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) {
      why = "truncated (its index cannot be read)";
      return false;
    }
    h = fnv1a({block.data(), n}, h);
    at += n;
  }
  if (h != t.checksum) {
    why = "damaged (its checksum does not match)";
    return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writing

struct StoreWriter::File {
  explicit File(const std::string& path) : out(path, true) {}
  AtomicFile out;
};

StoreWriter::StoreWriter(const std::string& path, long vocab_size)
    : file_(std::make_unique<File>(path)), vocab_size_(vocab_size),
      token_bytes_(vocab_size <= 65536 ? 2 : 4) {
  char header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, 8);
  const uint32_t version = kStoreVersion, tb = static_cast<uint32_t>(token_bytes_);
  std::memcpy(header + 8, &version, 4);
  std::memcpy(header + 12, &tb, 4);
  file_->out.write(header, kHeaderBytes);
  offset_ = kHeaderBytes;
}

StoreWriter::~StoreWriter() = default;

void StoreWriter::add(std::span<const int> src, std::span<const int> tgt) {
  const bool too_long = static_cast<long>(src.size()) > kStoreMaxPieces ||
                        static_cast<long>(tgt.size()) > kStoreMaxPieces;
  if (too_long) {  // neither side's ids are written: the reader skips the pair
    ++too_long_;
    index_.push_back(kStoreTooLong);
    index_.push_back(kStoreTooLong);
    return;
  }
  if (src.empty() || tgt.empty()) ++empty_;
  index_.push_back(static_cast<uint16_t>(src.size()));
  index_.push_back(static_cast<uint16_t>(tgt.size()));
  buf_.clear();
  for (std::span<const int> side : {src, tgt})
    for (int id : side) {
      require(id >= 0 && id < vocab_size_, [&] {
        return "store: id " + std::to_string(id) + " is outside the vocabulary of " +
               std::to_string(vocab_size_);
      });
      const auto v = static_cast<uint32_t>(id);
      buf_.push_back(static_cast<unsigned char>(v));
      buf_.push_back(static_cast<unsigned char>(v >> 8));
      if (token_bytes_ == 4) {
        buf_.push_back(static_cast<unsigned char>(v >> 16));
        buf_.push_back(static_cast<unsigned char>(v >> 24));
      }
    }
  file_->out.write(buf_.data(), buf_.size());
  offset_ += buf_.size();
  tokens_ += static_cast<long>(src.size() + tgt.size());
}

void StoreWriter::commit(StoreInfo info) {
  const char zeros[8] = {};
  file_->out.write(zeros, (8 - offset_ % 8) % 8);
  info.version = kStoreVersion;
  info.token_bytes = token_bytes_;
  info.vocab_size = vocab_size_;
  info.lines = lines();
  info.tokens = tokens_;
  info.empty = empty_;
  info.too_long = too_long_;
  const std::string text = json{{"version", info.version},
                                {"token_bytes", info.token_bytes},
                                {"vocab_sha256", info.vocab_sha256},
                                {"vocab_size", info.vocab_size},
                                {"src", source_json(info.src)},
                                {"tgt", source_json(info.tgt)},
                                {"lines", info.lines},
                                {"tokens", info.tokens},
                                {"empty", info.empty},
                                {"too_long", info.too_long}}
                               .dump();
  const uint64_t index_offset = (offset_ + 7) / 8 * 8;
  const size_t index_bytes = index_.size() * sizeof(uint16_t);
  file_->out.write(index_.data(), index_bytes);
  file_->out.write(text);
  uint64_t h = fnv1a({reinterpret_cast<const char*>(index_.data()), index_bytes});
  h = fnv1a(text, h);
  Trailer t{index_offset + index_bytes, text.size(), h, {}};
  std::memcpy(t.magic, kEndMagic, 8);
  file_->out.write(&t, sizeof t);
  file_->out.commit();
}

// ---------------------------------------------------------------------------------------------
// Reading

CorpusStore::CorpusStore(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  require(fd_ >= 0, [&] { return "cannot open corpus store " + path + ": " + std::strerror(errno); });
  try {
    struct stat st{};
    require(::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode),
            "corpus store " + path + " is not a regular file");
    uint64_t index_offset = 0;
    std::string why;
    require(read_description(fd_, static_cast<size_t>(st.st_size), info_, index_offset, why),
            [&] { return "corpus store " + path + " is " + why + "; delete it to rebuild it"; });
    map_bytes_ = static_cast<size_t>(st.st_size);
    map_ = ::mmap(nullptr, map_bytes_, PROT_READ, MAP_SHARED, fd_, 0);
    require(map_ != MAP_FAILED, [&] {
      map_ = nullptr;
      return "cannot map corpus store " + path + ": " + std::strerror(errno);
    });
    // The index is scanned in order; the ids are read with pread (see store.h).
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);
    index_ = reinterpret_cast<const uint16_t*>(static_cast<const char*>(map_) + index_offset);
    block_offset_.reserve(static_cast<size_t>(info_.lines / kBlock + 1));
    uint64_t at = kHeaderBytes;
    long total = 0;
    const auto tb = static_cast<uint64_t>(info_.token_bytes);
    for (long i = 0; i < info_.lines; ++i) {
      if (i % kBlock == 0) block_offset_.push_back(at);
      const int s = src_pieces(i), t = tgt_pieces(i);
      if (s == kStoreTooLong || t == kStoreTooLong) continue;
      total += s + t;
      at += static_cast<uint64_t>(s + t) * tb;
    }
    require(total == info_.tokens, [&] {
      return "corpus store " + path + " is damaged (its index counts " + std::to_string(total) +
             " ids, its description " + std::to_string(info_.tokens) + "); delete it to rebuild it";
    });
  } catch (...) {
    if (map_ != nullptr) ::munmap(map_, map_bytes_);
    ::close(fd_);
    throw;
  }
}

CorpusStore::~CorpusStore() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
  if (fd_ >= 0) ::close(fd_);
}

CorpusStore::CorpusStore(CorpusStore&& o) noexcept { *this = std::move(o); }

CorpusStore& CorpusStore::operator=(CorpusStore&& o) noexcept {
  if (this != &o) {
    if (map_ != nullptr) ::munmap(map_, map_bytes_);
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    info_ = std::move(o.info_);
    fd_ = std::exchange(o.fd_, -1);
    map_ = std::exchange(o.map_, nullptr);
    map_bytes_ = std::exchange(o.map_bytes_, 0);
    index_ = std::exchange(o.index_, nullptr);
    block_offset_ = std::move(o.block_offset_);
  }
  return *this;
}

uint64_t CorpusStore::token_offset(long i) const {
  uint64_t at = block_offset_[static_cast<size_t>(i / kBlock)];
  for (long k = i / kBlock * kBlock; k < i; ++k) {
    const int s = src_pieces(k), t = tgt_pieces(k);
    if (s != kStoreTooLong && t != kStoreTooLong)
      at += static_cast<uint64_t>(s + t) * static_cast<uint64_t>(info_.token_bytes);
  }
  return at;
}

void CorpusStore::decode_ids(const unsigned char* bytes, long n, std::vector<int>& out) const {
  out.resize(static_cast<size_t>(n));
  for (long k = 0; k < n; ++k) {
    const unsigned char* b = bytes + k * info_.token_bytes;
    uint32_t v = b[0] | (static_cast<uint32_t>(b[1]) << 8);
    if (info_.token_bytes == 4)
      v |= (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
    require(v < static_cast<uint32_t>(info_.vocab_size), [&] {
      return "corpus store " + path_ + " is damaged (id " + std::to_string(v) +
             " outside its vocabulary); delete it to rebuild it";
    });
    out[static_cast<size_t>(k)] = static_cast<int>(v);
  }
}

void CorpusStore::read(long i, std::vector<int>& src, std::vector<int>& tgt) const {
  require(i >= 0 && i < info_.lines, [&] {
    return "corpus store " + path_ + ": line " + std::to_string(i) + " is outside its " +
           std::to_string(info_.lines) + " lines";
  });
  const int s = src_pieces(i), t = tgt_pieces(i);
  if (s == kStoreTooLong || t == kStoreTooLong) {
    src.clear();
    tgt.clear();
    return;
  }
  const size_t bytes = static_cast<size_t>(s + t) * static_cast<size_t>(info_.token_bytes);
  thread_local std::vector<unsigned char> buf;
  buf.resize(bytes);
  const ssize_t got = bytes == 0 ? 0 : ::pread(fd_, buf.data(), bytes, static_cast<off_t>(token_offset(i)));
  require(got == static_cast<ssize_t>(bytes), [&] {
    return "cannot read corpus store " + path_ + ": " +
           (got < 0 ? std::string(std::strerror(errno)) : std::string("it was truncated"));
  });
  decode_ids(buf.data(), s, src);
  decode_ids(buf.data() + static_cast<size_t>(s) * static_cast<size_t>(info_.token_bytes), t, tgt);
}

void CorpusStore::scan(
    long begin, long end,
    const std::function<void(long, std::span<const int>, std::span<const int>)>& f) const {
  begin = std::max(0L, begin);
  end = std::min(end, info_.lines);
  const auto tb = static_cast<size_t>(info_.token_bytes);
  std::vector<unsigned char> buf;
  std::vector<int> src, tgt;
  uint64_t at = begin < end ? token_offset(begin) : 0;
  uint64_t buf_at = at;  // file offset of buf[0]
  constexpr size_t kChunk = 1 << 20;
  for (long i = begin; i < end; ++i) {
    const int s = src_pieces(i), t = tgt_pieces(i);
    if (s == kStoreTooLong || t == kStoreTooLong) {
      f(i, {}, {});
      continue;
    }
    const size_t bytes = static_cast<size_t>(s + t) * tb;
    if (at + bytes > buf_at + buf.size()) {  // refill from `at`
      buf.resize(std::max(kChunk, bytes));
      const ssize_t got = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(at));
      require(got >= static_cast<ssize_t>(bytes), [&] {
        return "cannot read corpus store " + path_ + ": " +
               (got < 0 ? std::string(std::strerror(errno)) : std::string("it was truncated"));
      });
      buf.resize(static_cast<size_t>(got));
      buf_at = at;
    }
    const unsigned char* p = buf.data() + (at - buf_at);
    decode_ids(p, s, src);
    decode_ids(p + static_cast<size_t>(s) * tb, t, tgt);
    f(i, src, tgt);
    at += bytes;
  }
}

bool is_complete_store(const std::string& path, std::string* why) {
  std::string reason;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (why != nullptr) *why = errno == ENOENT ? "missing" : std::string("unreadable: ") + std::strerror(errno);
    return false;
  }
  struct stat st{};
  StoreInfo info;
  uint64_t index_offset = 0;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (!ok) reason = "not a regular file";
  ok = ok && read_description(fd, static_cast<size_t>(st.st_size), info, index_offset, reason);
  ::close(fd);
  if (!ok && why != nullptr) *why = reason;
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Staleness, building

namespace {

// "" when the source file is the one the store recorded.
std::string source_change(const StoreSource& then, const std::string& path) {
  const StoreSource now = stat_source(path);
  if (now.bytes != then.bytes)
    return "stale: " + path + " has changed (" + std::to_string(then.bytes) + " bytes then, " +
           std::to_string(now.bytes) + " now)";
  std::error_code ec;  // the recorded path may be gone (the corpus moved): then re-hash
  if (now.mtime_ns == then.mtime_ns && fs::equivalent(path, then.path, ec) && !ec) return "";
  if (sha256_file(path) == then.sha256) return "";  // touched or copied, same bytes
  return "stale: " + path + " has changed (same size, other contents)";
}

}  // namespace

std::string store_status(const std::string& path, const std::string& src, const std::string& tgt,
                         const Vocab& vocab) {
  std::string why;
  if (!is_complete_store(path, &why)) return why;
  StoreInfo info;
  {
    const CorpusStore s(path);
    info = s.info();
  }
  if (info.vocab_size != vocab.size() || info.vocab_sha256 != sha256_file(vocab.path()))
    return "stale: made from another vocabulary than " + vocab.path();
  for (const auto& [then, now] : {std::pair{info.src, src}, std::pair{info.tgt, tgt}}) {
    // A store of other files (by content) is stale; one of the same files moved is not.
    const std::string change = source_change(then, now);
    if (!change.empty()) return change;
  }
  return "";
}

std::string store_path(const std::string& dir, const std::string& src, const std::string& tgt) {
  std::error_code ec;
  const std::string a = fs::absolute(src, ec).lexically_normal().string();
  const std::string b = fs::absolute(tgt, ec).lexically_normal().string();
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(fnv1a(b, fnv1a(a + '\n'))));
  const std::string name = fs::path(src).filename().string() + "+" +
                           fs::path(tgt).filename().string() + "." + std::string(hash, 8) + ".store";
  return (fs::path(dir) / name).string();
}

void remove_abandoned_temporaries(const std::string& path) {
  const fs::path p(path);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string prefix = p.filename().string() + ".tmp.";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    const long id = std::stol(pid);
    if (id > 0 && ::kill(static_cast<pid_t>(id), 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

void build_store(const std::string& path, const std::string& src_path, const std::string& tgt_path,
                 const Vocab& vocab, int threads, const EncodeProgress& progress) {
  StoreInfo info;
  info.src = stat_source(src_path);
  info.tgt = stat_source(tgt_path);
  info.vocab_sha256 = sha256_file(vocab.path());
  // Digests first (a streaming pass each): the store records what it was made from.
  info.src.sha256 = sha256_file(src_path);
  info.tgt.sha256 = sha256_file(tgt_path);
  remove_abandoned_temporaries(path);

  StoreWriter out(path, vocab.size());
  LineReader src(src_path), tgt(tgt_path);
  threads = std::max(threads, 1);
  const size_t chunk = 4096 * static_cast<size_t>(threads);
  std::vector<std::string> src_text, tgt_text;
  std::vector<std::vector<int>> src_ids(chunk), tgt_ids(chunk);
  long src_bytes = 0;
  bool more = true;
  while (more) {
    src_text.clear();
    tgt_text.clear();
    std::string s, t;
    while (src_text.size() < chunk) {
      const bool has_src = src.next(s), has_tgt = tgt.next(t);
      if (has_src != has_tgt) {
        // The shorter file ended: count the rest of the longer one for the message.
        LineReader& longer = has_src ? src : tgt;
        while (longer.next(s)) {
        }
        const std::string& shorter = has_src ? tgt_path : src_path;
        const long ends = has_src ? tgt.lines_read() : src.lines_read();
        require(false, [&] {
          return "parallel files differ in length: " + src_path + " has " +
                 std::to_string(src.lines_read()) + " lines but " + tgt_path + " has " +
                 std::to_string(tgt.lines_read()) + " (" + shorter + " ends after line " +
                 std::to_string(ends) + "; line N of the source must translate line N of the target)";
        });
      }
      if (!has_src) {
        more = false;
        break;
      }
      src_bytes += static_cast<long>(s.size()) + 1;
      src_text.push_back(std::move(s));
      tgt_text.push_back(std::move(t));
    }
    const long n = static_cast<long>(src_text.size());
    // Both sides of the chunk on the compute pool (Vocab::encode is thread-safe).
    parallel_for(2 * n, std::max(1L, 2 * n / threads), [&](long i0, long i1) {
      for (long i = i0; i < i1; ++i) {
        const auto k = static_cast<size_t>(i / 2);
        if (i % 2 == 0)
          src_ids[k] = vocab.encode(src_text[k]);
        else
          tgt_ids[k] = vocab.encode(tgt_text[k]);
      }
    });
    for (long i = 0; i < n; ++i) out.add(src_ids[static_cast<size_t>(i)], tgt_ids[static_cast<size_t>(i)]);
    if (progress) progress(out.lines(), std::min(src_bytes, info.src.bytes), info.src.bytes);
  }
  // A file changed while it was read would be recorded with the wrong contents: refuse.
  const StoreSource src_after = stat_source(src_path), tgt_after = stat_source(tgt_path);
  require(src_after.bytes == info.src.bytes && src_after.mtime_ns == info.src.mtime_ns &&
              tgt_after.bytes == info.tgt.bytes && tgt_after.mtime_ns == info.tgt.mtime_ns,
          "the training files " + src_path + " / " + tgt_path +
              " changed while they were encoded; run again once they are complete");
  out.commit(info);
}

CorpusStore open_store(const std::string& dir, const std::string& src, const std::string& tgt,
                       const Vocab& vocab, int threads,
                       const std::function<void(const std::string&)>& note,
                       const EncodeProgress& progress, bool* built, bool force) {
  const std::string path = store_path(dir, src, tgt);
  const std::string why = force ? std::string("re-encoding was asked for") : store_status(path, src, tgt, vocab);
  if (built != nullptr) *built = !why.empty();
  if (!why.empty()) {
    if (note) note("encoding " + src + " + " + tgt + " into " + path + " (the store is " + why + ")");
    build_store(path, src, tgt, vocab, threads, progress);
  }
  return CorpusStore(path);
}

}  // namespace spotlight
