// store.h — a parallel corpus encoded once, to disk: the on-disk form training reads its pairs
// from, so memory is set by the config and not by the corpus (fairseq's binarized, memory-mapped
// dataset plays this part; `spotlight prepare` writes it as `fairseq-preprocess` does).
//
// One file, "<name>.store", in four parts:
//   1. 64 bytes: magic "SPLSTORE", format version, bytes per token id (2 when the vocabulary
//      has at most 65,536 pieces, else 4).
//   2. the token ids of every line pair, source then target, in file order, no BOS/EOS;
//   3. the index, 4 bytes per line: the source and target piece counts (uint16). 0 marks an empty
//      side; 65,535 on both sides a pair with a side too long to store (over 65,534 pieces; its
//      ids are not written). The reader (data/mix.h) counts and skips such pairs, as it does
//      pairs longer than data.max_len;
//   4. a JSON description (format version, the vocabulary's SHA-256, each source file's path,
//      size, modification time and SHA-256, line and token counts), then a 32-byte trailer: the
//      JSON's offset and length, a 64-bit FNV-1a checksum of the index and the JSON, and "SPLSTEND".
// Line i of the files is pair i of the store, so no line table is needed.
//
// A store is written through AtomicFile: under a temporary name, fsync'ed, then renamed, so a
// killed encode leaves only "<name>.store.tmp.<pid>", which is never read (and is removed by the
// next build once its process is gone). A truncated or corrupted store fails the trailer, size
// or checksum checks and is rebuilt; one made from other files or another vocabulary is stale and
// rebuilt, never silently reused (see store_status).
//
// Memory: open() maps the file read-only and reads the index through the mapping (4 bytes per
// line, plus 8 bytes per 64 lines of token offsets computed from it); token ids are read with
// pread() into the caller's buffers. They are not read through the mapping on purpose: a random
// batch touches pages all over a store that was just written and sits in the page cache, and the
// kernel's fault-around maps up to 16 neighbouring cached pages into the process for each one,
// so resident memory would grow towards the store's size (measured: scripts/bench_data.sh).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "spotlight/data/vocab.h"

namespace spotlight {

// A source file as a store records it.
struct StoreSource {
  std::string path;
  long bytes = 0;
  int64_t mtime_ns = 0;  // modification time, to skip re-hashing a file that did not change
  std::string sha256;
};

// What a store describes (its JSON part).
struct StoreInfo {
  int version = 0;
  int token_bytes = 0;          // 2 or 4
  std::string vocab_sha256;     // of the vocabulary model file
  long vocab_size = 0;
  StoreSource src, tgt;
  long lines = 0;               // line pairs (= pairs in the store)
  long tokens = 0;              // ids in part 2
  long empty = 0;               // pairs with a side of no pieces
  long too_long = 0;            // pairs with a side of more than kStoreMaxPieces pieces
};

inline constexpr long kStoreMaxPieces = 65534;       // longest side a store keeps
inline constexpr uint16_t kStoreTooLong = 65535;     // index value of a side it did not keep
inline constexpr int kStoreVersion = 1;

// Writes a store pair by pair (the encoder below uses it; tests build stores from ids with it).
class StoreWriter {
 public:
  // Starts the temporary file beside `path` (creating its directory).
  StoreWriter(const std::string& path, long vocab_size);
  ~StoreWriter();  // without commit(): nothing is left at `path`, the temporary file is removed
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // The next line pair's pieces (either side may be empty; a side longer than kStoreMaxPieces
  // is recorded as too long and its ids are not written).
  void add(std::span<const int> src, std::span<const int> tgt);
  long lines() const { return static_cast<long>(index_.size() / 2); }
  // Writes the index and description (lines, tokens and the counts are filled in here) and
  // renames the file into place.
  void commit(StoreInfo info);

 private:
  struct File;
  std::unique_ptr<File> file_;
  long vocab_size_ = 0;
  int token_bytes_ = 2;
  long tokens_ = 0, empty_ = 0, too_long_ = 0;
  uint64_t offset_ = 0;  // bytes written so far
  std::vector<uint16_t> index_;  // [2 per line] piece counts
  std::vector<unsigned char> buf_;
};

// A store opened for reading. Throws Error naming the file when it is not a complete, consistent
// store (see is_complete_store for a check that does not throw).
class CorpusStore {
 public:
  explicit CorpusStore(const std::string& path);
  ~CorpusStore();
  CorpusStore(CorpusStore&&) noexcept;
  CorpusStore& operator=(CorpusStore&&) noexcept;

  const StoreInfo& info() const { return info_; }
  const std::string& path() const { return path_; }
  long lines() const { return info_.lines; }
  // Pieces of line i's source / target (0: empty, kStoreTooLong: not kept).
  int src_pieces(long i) const { return index_[2 * i]; }
  int tgt_pieces(long i) const { return index_[2 * i + 1]; }
  // Line i's ids into src and tgt (replacing their contents). An Error names the store when an
  // id is outside the vocabulary (a store damaged after it was checked).
  void read(long i, std::vector<int>& src, std::vector<int>& tgt) const;
  // Calls f(line, src, tgt) for lines [begin, end) in order, reading the ids sequentially through
  // a bounded buffer; lines not kept (empty or too long) are passed with empty spans.
  void scan(long begin, long end,
            const std::function<void(long, std::span<const int>, std::span<const int>)>& f) const;

 private:
  uint64_t token_offset(long i) const;  // byte offset of line i's first id
  void decode_ids(const unsigned char* bytes, long n, std::vector<int>& out) const;

  std::string path_;
  StoreInfo info_;
  int fd_ = -1;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  const uint16_t* index_ = nullptr;  // [2·lines], in the mapping
  std::vector<uint64_t> block_offset_;  // byte offset of every 64th line's ids
};

// True when `path` holds a complete store (trailer, sizes and checksum check out); `why` says
// what is wrong otherwise. Never throws for a damaged file.
bool is_complete_store(const std::string& path, std::string* why = nullptr);

// Whether the store at `path` is the encoding of src/tgt with `vocab`: "" when it is, else the
// reason it is missing or stale ("missing", "truncated …", "made from another vocabulary", "…
// has changed"). A source whose size and modification time match is taken as unchanged; one
// whose time differs is re-hashed and accepted when its SHA-256 still matches.
std::string store_status(const std::string& path, const std::string& src, const std::string& tgt,
                         const Vocab& vocab);

// Progress of an encode: lines done and bytes of the source file read so far.
using EncodeProgress = std::function<void(long lines, long src_bytes_read, long src_bytes)>;

// Reads src and tgt (line N translates line N) with LineReader's checks, encodes both on
// `threads` threads in chunks, and writes the store at `path` atomically. Memory: the chunk
// being encoded and the index (4 bytes per line). Throws Error naming the files and line counts
// when they differ in length, or file and line for invalid UTF-8; nothing is left at `path` then.
void build_store(const std::string& path, const std::string& src, const std::string& tgt,
                 const Vocab& vocab, int threads, const EncodeProgress& progress = {});

// The store's file name for a corpus inside `dir`: "<src name>+<tgt name>.<hash of both absolute
// paths>.store", so corpora with the same file names in other directories do not collide.
std::string store_path(const std::string& dir, const std::string& src, const std::string& tgt);

// Removes "<path>.tmp.<pid>" files left by killed encodes whose process is gone.
void remove_abandoned_temporaries(const std::string& path);

// The store of src/tgt in `dir` (store_path), opened; when it is missing or stale, `note` is told
// why and it is encoded first (build_store). *built (when given) says whether it was encoded.
// With force, it is re-encoded whatever its state.
CorpusStore open_store(const std::string& dir, const std::string& src, const std::string& tgt,
                       const Vocab& vocab, int threads,
                       const std::function<void(const std::string&)>& note = {},
                       const EncodeProgress& progress = {}, bool* built = nullptr,
                       bool force = false);

}  // namespace spotlight
