// atomic_file.h — how Spotlight writes a whole file that must never be seen half-written
// (checkpoint tensors, vocabularies and their records, corpus caches, metrics, command
// outputs): bytes go to "<path>.tmp.<pid>" in the same directory, are flushed and fsync'ed, and
// only then renamed over <path>. A reader sees the old file or the new one; a killed writer
// leaves only a temporary name, which `spotlight train` removes (train/run_dir.h,
// is_temporary_name). Two writers differ on purpose: `translate -o` streams batches through its
// own interrupt-safe Output (src/cli/text_io.h), and checkpoint directories are published by
// renaming a whole directory (train/checkpoint.h).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace spotlight {

class AtomicFile {
 public:
  // Opens the temporary file (with make_dirs, creating <path>'s directory first); an Error if
  // it cannot.
  explicit AtomicFile(std::string path, bool make_dirs = false);
  ~AtomicFile();  // without commit(): the temporary file is removed, <path> left as it was
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Flushes, fsyncs and renames into place. A failure anywhere (a full disk) is an Error that
  // names <path> and says it was not touched.
  void commit();

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  int err_ = 0;  // the first write failure's errno
};

// The whole file at once.
void write_file_atomically(const std::string& path, std::string_view bytes, bool make_dirs = false);

}  // namespace spotlight
