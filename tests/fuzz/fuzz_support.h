// fuzz_support.h — what the libFuzzer harnesses share. A harness hands Spotlight's real readers
// the fuzzer's bytes as a file (an in-memory memfd, opened through /proc/self/fd), and its
// contract is the project's: any input either works or throws spotlight::Error. Anything else —
// another exception, a crash, a sanitizer report, a hang — is a bug, and libFuzzer stops on it.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "spotlight/check.h"

namespace spotlight::fuzz {

// An anonymous in-memory file whose contents are replaced on each set().
class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(::memfd_create(name, 0)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  void set(std::string_view bytes) {
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
      std::perror("memfd write");
      std::abort();
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

// Runs f; spotlight::Error is the expected way to refuse an input, anything else aborts.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const spotlight::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uncaught %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

}  // namespace spotlight::fuzz
