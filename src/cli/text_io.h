// text_io.h — text in and out for the commands that translate (translate, eval): input lines
// as they arrive (LineInput), output written whole or kept as FILE.partial on Ctrl-C (Output and
// the interrupt handler), progress on a terminal, warnings about truncated lines and unknown
// pieces, and the checks both commands make before any work. Private to src/cli.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "cli/common.h"
#include "spotlight/check.h"
#include "spotlight/decode/search.h"
#include "spotlight/decode/translator.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/utf8.h"

namespace spotlight {

// How long the input may stay silent before what is queued is translated.
constexpr int kPauseMs = 5;

// Usage checks of an output path, before any work: its directory exists and is writable, and
// it is not a directory itself. Nothing is created.
void check_output_path(const std::string& flag, const std::string& path);
// Checks of the decoding flags that need no model: --alpha (its default -1 means "unset").
void check_decode_flags(const CLI::App* cmd, const DecodeArgs& a);
// Whether lines are cut into sentences: --split / --no-split, else on unless the model was
// trained on pre-tokenized text (train.bleu_tokenize "none").
bool split_lines(const Config& c, bool split, bool no_split);
// --split and --no-split on cmd.
void add_split_options(CLI::App* cmd, bool& split, bool& no_split);

// 1234567 → "1,234,567" (n ≥ 0); "1 line", "1,200 lines"; "42 s", "3 min 07 s", "1 h 05 min".
std::string with_commas(long n);
std::string count(long n, const std::string& noun);
std::string human_duration(double s);

// Input: lines of stdin or a file, as they arrive.
class LineInput {
 public:
  explicit LineInput(const std::string& path) : name_(path == "-" ? "<stdin>" : path) {
    if (path == "-") {
      fd_ = STDIN_FILENO;
    } else {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      require(fd_ >= 0, [&] { return "cannot open " + path + ": " + std::strerror(errno); });
      own_ = true;
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0) {
      require(!S_ISDIR(st.st_mode), [&] { return "cannot read " + name_ + ": it is a directory"; });
      regular_ = S_ISREG(st.st_mode);
    }
  }
  ~LineInput() {
    if (own_) ::close(fd_);
  }
  LineInput(const LineInput&) = delete;
  LineInput& operator=(const LineInput&) = delete;

  // A regular file has all its lines at hand (no pauses to wait for).
  bool regular() const { return regular_; }

  enum class Got { line, pause, end };
  // The next line, without "\n" and a trailing "\r" (a last line without "\n" is a line), checked
  // to be UTF-8 (an Error names the input and line). With pause_ms ≥ 0 it returns `pause` when
  // no complete line arrives within that time; with -1 it waits.
  Got next(std::string& line, int pause_ms) {
    for (;;) {
      const size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos || (eof_ && pos_ < buf_.size())) {
        const size_t end = nl == std::string::npos ? buf_.size() : nl;
        line.assign(buf_, pos_, end - pos_);
        pos_ = nl == std::string::npos ? end : nl + 1;
        if (pos_ > (1 << 16) && pos_ * 2 > buf_.size()) {
          buf_.erase(0, pos_);
          pos_ = 0;
        }
        check(line, ++line_no_);
        return Got::line;
      }
      if (eof_) return Got::end;
      if (pause_ms >= 0 && !regular_) {
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, pause_ms);
        if (r == 0) return Got::pause;
        if (r < 0 && errno == EINTR) continue;
      }
      fill();
    }
  }

  // For a regular file: counts its lines from the current position and checks each as next()
  // will, so bad input fails before any work starts. Reads with pread: the position stays.
  long count_and_check() const {
    const off_t start = ::lseek(fd_, 0, SEEK_CUR);
    std::string block(1 << 20, '\0'), line;
    long count = 0;
    off_t off = start < 0 ? 0 : start;
    for (;;) {
      const ssize_t n = ::pread(fd_, block.data(), block.size(), off);
      if (n < 0 && errno == EINTR) continue;
      require(n >= 0, [&] { return "cannot read " + name_ + ": " + std::strerror(errno); });
      if (n == 0) break;
      off += n;
      size_t p = 0;
      while (p < static_cast<size_t>(n)) {
        const void* hit = std::memchr(block.data() + p, '\n', static_cast<size_t>(n) - p);
        const size_t e = hit ? static_cast<const char*>(hit) - block.data() : static_cast<size_t>(n);
        line.append(block, p, e - p);
        if (!hit) break;
        check(line, ++count);
        line.clear();
        p = e + 1;
      }
    }
    if (!line.empty()) check(line, ++count);
    return count;
  }

 private:
  void fill() {
    char chunk[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n > 0) {
        buf_.append(chunk, static_cast<size_t>(n));
        return;
      }
      if (n == 0) {
        eof_ = true;
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {  // a non-blocking descriptor: wait for data
        pollfd p{fd_, POLLIN, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      require(false, [&] { return "cannot read " + name_ + ": " + std::strerror(errno); });
    }
  }
  void check(std::string& line, long no) const {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // UTF-8 BOM
    require(valid_utf8(line), [&] {
      return name_ + ":" + std::to_string(no) + ": invalid UTF-8 (convert the input to UTF-8)";
    });
  }

  std::string name_;
  int fd_ = -1;
  bool own_ = false, regular_ = false, eof_ = false;
  std::string buf_;
  size_t pos_ = 0;
  long line_no_ = 0;
};

// Ctrl-C and SIGTERM while translate writes (text_io.cpp): the handler never cuts a batch in
// half. Writing a batch is bracketed by begin_write()/end_write(); a signal that comes meanwhile
// is acted on when the batch is complete: the lines done so far stay on stdout, or in
// <output>.partial (the file being written is <output>.tmp.<pid>, tmp_path()).
std::string tmp_path(const std::string& path);
void install_interrupt_handler(const std::string& output);
void begin_write();
void end_write(long lines);
long lines_written();               // input lines whose translations are completely written
void note_progress_shown(bool on);  // the handler clears a progress line before its message

// Output: standard output, or a file written under a temporary name and renamed when complete.

class Output {
 public:
  explicit Output(const std::string& path) : path_(path) {
    to_file_ = !(path.empty() || path == "-");
    if (!to_file_) {
      fd_ = STDOUT_FILENO;
      return;
    }
    tmp_ = tmp_path(path);
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    require(fd_ >= 0, [&] { return "cannot write " + tmp_ + ": " + std::strerror(errno); });
  }
  ~Output() {
    if (to_file_ && fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  bool to_file() const { return to_file_; }
  const std::string& path() const { return path_; }

  // Writes text (complete lines) at once; `lines` input lines are then fully written.
  void write(const std::string& text, long lines) {
    begin_write();
    const char* s = text.data();
    size_t n = text.size();
    int err = 0;
    while (n > 0) {
      const ssize_t w = ::write(fd_, s, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        err = w < 0 ? errno : EIO;
        break;
      }
      s += w;
      n -= static_cast<size_t>(w);
    }
    if (err == 0) end_write(lines);
    else end_write(lines_written());
    if (err != 0 && !to_file_)
      require(false, std::string("cannot write to standard output: ") + std::strerror(err));
    require(err == 0, [&] {
      return "cannot write " + tmp_ + ": " + std::strerror(err) + " (is the disk full?); " +
             path_ + " was not written";
    });
  }

  // Renames the temporary file to the output path.
  void commit() {
    if (!to_file_) return;
    const int fd = fd_;
    fd_ = -1;
    const bool closed = ::close(fd) == 0;
    std::error_code ec;
    if (closed) std::filesystem::rename(tmp_, path_, ec);
    if (!closed || ec) {
      ::unlink(tmp_.c_str());
      require(false, "cannot write " + path_ + ": " + (closed ? ec.message() : std::strerror(errno)));
    }
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool to_file_ = false;
};

// Progress on a terminal: lines done, rate, ETA when the total is known; at most 4 redraws a
// second; nothing when stderr is not a terminal.
class Progress {
 public:
  Progress(bool on, long total) : on_(on), total_(total), t0_(std::chrono::steady_clock::now()) {}
  ~Progress() { clear(); }

  void update(long done) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - t0_).count();
    const double rate = done / std::max(s, 1e-9);
    char r[32];
    std::snprintf(r, sizeof r, rate < 10 ? "%.2f" : "%.1f", rate);
    std::string text = "translated " + with_commas(done);
    if (total_ >= 0) {
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * done / std::max(1L, total_));
      text += "/" + with_commas(total_) + " lines (" + pct + "), " + r + " lines/s";
      if (done > 0 && done < total_) text += ", ETA " + human_duration((total_ - done) / rate);
    } else {
      text += " lines, " + std::string(r) + " lines/s";
    }
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    shown_ = true;
    note_progress_shown(true);
  }
  // Removes the line (before a message or output on the same terminal); update() redraws it.
  void clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    shown_ = false;
    note_progress_shown(false);
    last_ = {};
  }

 private:
  bool on_;
  long total_;
  std::chrono::steady_clock::time_point t0_, last_{};
  bool shown_ = false;
};


// Reports: truncated lines (each named), unknown pieces (once, when first seen).

class Warnings {
 public:
  explicit Warnings(const OpenCheckpoint& ck) : ck_(ck), kind_(training_text_kind(ck.config, *ck.vocab)) {}

  // After each batch: warns of lines newly truncated and, the first time, of unknown pieces.
  void after_batch(const TranslateReport& r, Progress& progress) {
    for (; truncated_ < r.truncated.size(); ++truncated_) {
      progress.clear();
      spdlog::warn("input line {} is longer than the model's {} positions; it was truncated",
                   r.truncated[truncated_], max_source_pieces(ck_.model->cfg));
    }
    if (r.unknown_lines > 0 && !unknown_warned_) {
      unknown_warned_ = true;
      progress.clear();
      spdlog::warn("{}", unknown_text(r, " so far"));
    }
  }
  // "12 of 40 lines hold pieces unknown to this vocabulary (first: line 3) — …"
  std::string unknown_text(const TranslateReport& r, const std::string& so_far = "") const {
    std::string s = with_commas(r.unknown_lines) + " of " + count(r.lines, "line") + so_far + (r.unknown_lines == 1 ? " holds" : " hold") +
                    " pieces unknown to this vocabulary (first: line " +
                    std::to_string(r.first_unknown_line) + "); they read \u2047 in the translation";
    if (!kind_.empty())
      s += " \u2014 this model was trained on " + kind_ + " text: prepare the input the same way";
    return s;
  }

 private:
  const OpenCheckpoint& ck_;
  std::string kind_;
  size_t truncated_ = 0;
  bool unknown_warned_ = false;
};

}  // namespace spotlight
