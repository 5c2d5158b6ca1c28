// corpus.h — text files read strictly and a parallel corpus encoded once. Lines are checked to
// be UTF-8 (an error names file and 1-based line), a trailing "\r" is dropped, and the encoded
// pairs live in one flat id array with offsets, so millions of pairs cost little more than the
// ids themselves. The encoded corpus can be cached in a binary file keyed by the inputs'
// sizes and modification times, the vocabulary's bytes and max_len, so a restart does not
// re-encode.
#pragma once

#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "spotlight/data/vocab.h"
#include "spotlight/utf8.h"  // valid_utf8

namespace spotlight {

// Reads a text file line by line with the checks above. Throws Error naming the file (and line).
class LineReader {
 public:
  explicit LineReader(const std::string& path);
  // The next line into `line` (without "\n" or a trailing "\r"); false at the end of the file.
  bool next(std::string& line);
  long lines_read() const { return line_no_; }  // lines returned so far
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  long line_no_ = 0;
};

// Every line of a file, checked as LineReader does.
std::vector<std::string> read_lines(const std::string& path);


// The kept sentence pairs of a parallel corpus, encoded. P pairs; pair p's source pieces are
// tokens[offsets[2p], offsets[2p+1]) and its target pieces tokens[offsets[2p+1], offsets[2p+2]),
// neither with BOS/EOS.
struct ParallelCorpus {
  std::vector<int> tokens;    // every kept pair's pieces, source then target
  std::vector<long> offsets;  // [2P+1]
  std::vector<long> lines;    // [P] 0-based line index of each pair in the files
  long lines_read = 0;        // lines in each file
  long skipped_empty = 0;     // pairs dropped because a side encodes to no pieces
  long skipped_long = 0;      // pairs dropped because a side has more than max_len pieces
  bool from_cache = false;    // true when loaded from the cache instead of encoded

  long size() const { return static_cast<long>(lines.size()); }  // P
  std::span<const int> src(long p) const { return piece(2 * p); }
  std::span<const int> tgt(long p) const { return piece(2 * p + 1); }

 private:
  std::span<const int> piece(long k) const {
    const auto b = static_cast<size_t>(offsets[static_cast<size_t>(k)]);
    const auto e = static_cast<size_t>(offsets[static_cast<size_t>(k) + 1]);
    return {tokens.data() + b, e - b};
  }
};

// Reads src_path and tgt_path (line N translates line N), encodes both with `vocab` on
// `threads` threads, and keeps the pairs whose sides both have 1..max_len pieces (EOS not
// counted), counting the others by reason. Throws Error when the files differ in line count
// (naming both files and counts), or as LineReader does. With a non-empty cache_path the result
// is read from that file when it matches these inputs, otherwise encoded and written there
// atomically; a stale or corrupt cache is silently rebuilt.
ParallelCorpus load_parallel(const std::string& src_path, const std::string& tgt_path,
                             const Vocab& vocab, long max_len, const std::string& cache_path = "",
                             int threads = 1);

}  // namespace spotlight
