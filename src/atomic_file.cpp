#include "spotlight/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "spotlight/check.h"

namespace spotlight {

namespace fs = std::filesystem;

AtomicFile::AtomicFile(std::string path, bool make_dirs) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  const fs::path parent = fs::path(path_).parent_path();
  std::error_code ec;
  if (make_dirs && !parent.empty()) fs::create_directories(parent, ec);
  f_ = std::fopen(tmp_.c_str(), "wb");
  require(f_ != nullptr, [&] { return "cannot write " + tmp_ + ": " + std::strerror(errno); });
}

AtomicFile::~AtomicFile() {
  if (f_ != nullptr) {
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t bytes) {
  if (err_ == 0 && bytes > 0 && std::fwrite(data, 1, bytes, f_) != bytes)
    err_ = errno != 0 ? errno : EIO;
}

void AtomicFile::commit() {
  auto check = [&](bool ok) {
    if (!ok && err_ == 0) err_ = errno != 0 ? errno : EIO;
  };
  check(std::fflush(f_) == 0);
  check(::fsync(fileno(f_)) == 0);
  check(std::fclose(f_) == 0);
  f_ = nullptr;
  if (err_ != 0) {
    std::remove(tmp_.c_str());
    require(false, "failed writing " + path_ + ": " + std::strerror(err_) +
                       " (is the disk full? the previous file, if any, is unchanged)");
  }
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) {
    std::remove(tmp_.c_str());
    require(false, "cannot rename " + tmp_ + " to " + path_ + ": " + ec.message());
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes, bool make_dirs) {
  AtomicFile f(path, make_dirs);
  f.write(bytes);
  f.commit();
}

}  // namespace spotlight
