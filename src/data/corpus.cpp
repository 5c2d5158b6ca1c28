#include "spotlight/data/corpus.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "spotlight/check.h"

namespace spotlight {


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

}  // namespace spotlight
