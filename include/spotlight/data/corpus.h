// corpus.h — text files read strictly, line by line: lines are checked to be UTF-8 (an error
// names file and 1-based line), a trailing "\r" and a leading BOM are dropped. A parallel corpus
// is encoded from them once, into a store on disk (data/store.h).
#pragma once

#include <fstream>
#include <string>
#include <vector>

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


}  // namespace spotlight
