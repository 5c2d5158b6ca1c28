// spotlight translate and spotlight eval — translate text with a checkpoint; evaluate it.
//
// translate streams: lines are read as they arrive (poll() and read() on the input with our own
// line buffer), queued until a batch is full or the input pauses, translated, and written in
// input order, each batch flushed at once. -o FILE is written under a temporary name and renamed
// at the end; Ctrl-C keeps what was done as FILE.partial.
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>

#include "spotlight/check.h"
#include "spotlight/cli/commands.h"
#include "spotlight/cli/common.h"
#include "spotlight/data/corpus.h"
#include "spotlight/decode/beam.h"
#include "spotlight/decode/translator.h"
#include "spotlight/parallel.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// How long the input may stay silent before what is queued is translated.
constexpr int kPauseMs = 5;

// Usage checks of an output path, before any work: its directory exists and is writable, and
// it is not a directory itself. Nothing is created.
void check_output_path(const std::string& flag, const std::string& path) {
  if (path.empty() || path == "-") return;
  const fs::path p(path);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  require_usage(fs::is_directory(dir, ec),
                flag + " " + path + ": the directory " + dir.string() + " does not exist");
  require_usage(!fs::is_directory(p, ec), flag + " " + path + ": is a directory");
  const bool writable = ::access(dir.c_str(), W_OK | X_OK) == 0;
  require_usage(writable, flag + " " + path + ": cannot create files in " + dir.string() + ": " +
                              std::strerror(errno));
}

// Checks of the decoding flags that need no model: --alpha (its default -1 means "unset").
void check_decode_flags(const CLI::App* cmd, const DecodeArgs& a) {
  if (cmd->count("--alpha") > 0)
    require_usage(std::isfinite(a.alpha) && a.alpha >= 0, [&] {
      char v[32];
      std::snprintf(v, sizeof v, "%g", a.alpha);
      return "--alpha " + std::string(v) +
             ": expected a finite number ≥ 0 (0: no length normalisation)";
    }());
}

// Whether lines are cut into sentences: --split / --no-split, else on unless the model was
// trained on pre-tokenized text (train.bleu_tokenize "none").
bool split_lines(const Config& c, bool split, bool no_split) {
  if (split) return true;
  if (no_split) return false;
  return c.train.bleu_tokenize != "none";
}

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Ctrl-C and SIGTERM while translate writes: the handler never cuts a batch in half. Writing a
// batch is bracketed by begin_write()/end_write(); a signal that comes meanwhile is acted on
// when the batch is complete. Everything here is async-signal-safe (lock-free atomics, write,
// rename, unlink, _exit).

struct Interrupt {
  // 0 idle, 1 writing a batch, 2 the handler is ending the process, 3 a signal came while writing
  std::atomic<int> state{0};
  std::atomic<int> signal{0};
  std::atomic<long> lines{0};  // input lines whose translations are completely written
  std::atomic<bool> progress_shown{false};
  bool to_file = false;
  std::string tmp, partial, out;  // set before the handler is installed, then only read
};
Interrupt g_interrupt;

void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}
void say(const char* s) { write_all(STDERR_FILENO, s, std::strlen(s)); }

[[noreturn]] void end_interrupted() {
  const int sig = g_interrupt.signal.load();
  const long lines = g_interrupt.lines.load();
  char num[24];
  int k = 0;
  char rev[24];
  long v = lines;
  do {
    rev[k++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && k < 23);
  for (int i = 0; i < k; ++i) num[i] = rev[k - 1 - i];
  num[k] = '\0';
  if (g_interrupt.progress_shown.load()) say("\r\033[K");
  say(sig == SIGTERM ? "\ninterrupted (SIGTERM): " : "\ninterrupted (Ctrl-C): ");
  if (!g_interrupt.to_file) {
    say("the translations of the first ");
    say(num);
    say(lines == 1 ? " input line were written to standard output\n"
                   : " input lines were written to standard output\n");
  } else if (lines > 0 && ::rename(g_interrupt.tmp.c_str(), g_interrupt.partial.c_str()) == 0) {
    say(g_interrupt.out.c_str());
    say(" was not written; the translations of the first ");
    say(num);
    say(lines == 1 ? " input line are in " : " input lines are in ");
    say(g_interrupt.partial.c_str());
    say("\n");
  } else {
    ::unlink(g_interrupt.tmp.c_str());
    say("nothing was translated yet; ");
    say(g_interrupt.out.c_str());
    say(" was not written\n");
  }
  ::_exit(128 + sig);
}

extern "C" void on_interrupt(int sig) {
  int expected = 0;
  if (g_interrupt.signal.load() == 0) g_interrupt.signal.store(sig);
  if (g_interrupt.state.compare_exchange_strong(expected, 2)) end_interrupted();
  expected = 1;
  g_interrupt.state.compare_exchange_strong(expected, 3);  // end_write() ends the process
}

void begin_write() {
  int expected = 0;
  if (!g_interrupt.state.compare_exchange_strong(expected, 1))
    for (;;) ::pause();  // the handler is ending the process (on another thread)
}
void end_write(long lines) {
  g_interrupt.lines.store(lines);
  int expected = 1;
  if (!g_interrupt.state.compare_exchange_strong(expected, 0)) end_interrupted();
}

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Output: standard output, or a file written under a temporary name and renamed when complete.

// The temporary name an output file is written under: next to it, unique to the process.
std::string tmp_path(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

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
    else end_write(g_interrupt.lines.load());
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
    if (closed) fs::rename(tmp_, path_, ec);
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

// ---------------------------------------------------------------------------------------------
// Progress on a terminal: lines done, rate, ETA when the total is known; at most 4 redraws a
// second; nothing when stderr is not a terminal.

// 1234567 → "1,234,567" (n ≥ 0).
std::string with_commas(long n) {
  std::string s = std::to_string(n);
  for (long i = static_cast<long>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

// "1 line", "1,200 lines".
std::string count(long n, const std::string& noun) {
  return with_commas(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string duration(double s) {
  char buf[48];
  const long t = std::lround(s);
  if (t < 60) std::snprintf(buf, sizeof buf, "%ld s", t);
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%ld min %02ld s", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ld h %02ld min", t / 3600, t / 60 % 60);
  return buf;
}

class Progress {
 public:
  Progress(bool on, long total) : on_(on), total_(total), t0_(Clock::now()) {}
  ~Progress() { clear(); }

  void update(long done) {
    if (!on_) return;
    const auto now = Clock::now();
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
      if (done > 0 && done < total_) text += ", ETA " + duration((total_ - done) / rate);
    } else {
      text += " lines, " + std::string(r) + " lines/s";
    }
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    shown_ = true;
    g_interrupt.progress_shown = true;
  }
  // Removes the line (before a message or output on the same terminal); update() redraws it.
  void clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    shown_ = false;
    g_interrupt.progress_shown = false;
    last_ = {};
  }

 private:
  bool on_;
  long total_;
  Clock::time_point t0_, last_{};
  bool shown_ = false;
};

// ---------------------------------------------------------------------------------------------
// Reports: truncated lines (each named), unknown pieces (once, when first seen).

class Warnings {
 public:
  explicit Warnings(const OpenCheckpoint& ck) : ck_(ck), kind_(training_text_kind(ck.config, *ck.vocab)) {}

  // After each batch: warns of lines newly truncated and, the first time, of unknown pieces.
  void after_batch(const TranslateReport& r, Progress& progress) {
    for (; truncated_ < r.truncated.size(); ++truncated_) {
      progress.clear();
      spdlog::warn("input line {} is longer than the model's {} positions; it was truncated",
                   r.truncated[truncated_], ck_.model->cfg.max_positions - 1);
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

// ---------------------------------------------------------------------------------------------
// Output lines.

// One input line's output: its best translation ("text", "text ||| alignment"), or with n-best
// every translation as Moses writes them (alignment last, as Moses' -print-alignment-info-in-n-best):
//   index ||| text ||| F0= log_prob ||| score [||| alignment]
void append_output(std::string& out, long index, const std::vector<Translation>& ts, bool nbest,
                   bool alignment) {
  if (!nbest) {
    out += ts.front().text;
    if (alignment) out += " ||| " + ts.front().alignment;
    out += '\n';
    return;
  }
  for (const Translation& t : ts) {
    char scores[64];
    std::snprintf(scores, sizeof scores, " ||| F0= %g ||| %g", t.log_prob, t.score);
    out += std::to_string(index) + " ||| " + t.text + scores;
    if (alignment) out += " ||| " + t.alignment;
    out += '\n';
  }
}

struct TranslateArgs : DecodeArgs {
  std::string input = "-", output = "-";
  long nbest = 0;  // 0: not given (plain text)
  bool alignment = false, split = false, no_split = false;
  long alignment_layer = -1;  // -1: the last decoder layer
};

struct EvalArgs : DecodeArgs {
  std::string src, ref, hyp_out, tokenize;  // tokenize "": the checkpoint's train.bleu_tokenize
  bool lowercase = false, json = false, split = false, no_split = false;
};

void add_split_options(CLI::App* cmd, bool& split, bool& no_split) {
  auto* on = cmd->add_flag(
      "--split", split,
      "cut each line into sentences (ICU's sentence rules, English abbreviations kept whole), "
      "translate them apart and join the translations with a space (default: on, but off for a "
      "model trained on pre-tokenized text: its config's train.bleu_tokenize is none)");
  cmd->add_flag("--no-split", no_split, "translate each line as one sentence")->excludes(on);
}

// Checks of the decoding settings against the model, before any work (usage errors).
void check_search(const DecodeConfig& d, long nbest) {
  require_usage(nbest <= d.beam, "--nbest " + std::to_string(nbest) +
                                     " needs a beam of at least that size (beam is " +
                                     std::to_string(d.beam) + "; set --beam)");
  require_usage(nbest <= stop_after(d.beam, d.patience),
                "--nbest " + std::to_string(nbest) +
                    " needs patience·beam of at least that (patience " +
                    std::to_string(d.patience) + ", beam " + std::to_string(d.beam) + ")");
}

int run_translate(const CLI::App* cmd, TranslateArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  // What can be checked without the model: flags, the output path, the input.
  check_decode_flags(cmd, a);
  check_output_path("-o", a.output);
  LineInput in(a.input);
  const OpenCheckpoint ck = open_checkpoint(a.checkpoint);
  const DecodeConfig d = decode_config(ck.config, a);
  const long nbest = std::max(1L, a.nbest);
  check_search(d, nbest);
  const long layers = ck.model->cfg.decoder_layers;
  const long layer = a.alignment_layer < 0 ? layers : a.alignment_layer;
  require_usage(layer <= layers, "--alignment-layer " + std::to_string(layer) + ": the model has " +
                                     std::to_string(layers) +
                                     " decoder layers (1…" + std::to_string(layers) +
                                     "; 0 averages them all)");
  TranslateOptions o;
  o.nbest = nbest;
  o.split = split_lines(ck.config, a.split, a.no_split);
  o.alignment_layer = a.alignment ? layer : -1;
  Translator tr(*ck.model, *ck.vocab, d, o);
  // A file is checked whole (UTF-8) and counted before any work; a stream as it arrives.
  const long total = in.regular() ? in.count_and_check() : -1;

  // The handler comes first: a signal at any moment after the temporary file exists finds it.
  g_interrupt.to_file = !(a.output.empty() || a.output == "-");
  g_interrupt.tmp = tmp_path(a.output);
  g_interrupt.partial = a.output + ".partial";
  g_interrupt.out = a.output;
  install_interrupt_handler();
  Output out(a.output);
  const bool interactive = !in.regular() && a.input == "-" && ::isatty(STDIN_FILENO);
  Progress progress(::isatty(STDERR_FILENO) && !interactive, total);
  const bool clear_for_output = !out.to_file() && ::isatty(STDOUT_FILENO);
  Warnings warnings(ck);
  // The queue is translated when it holds `window` sentences or the input pauses. The first
  // window is one batch, so the first answers come soon; while the input keeps flowing it
  // doubles up to 16 batches (sorted by length inside, as fast as translating a file whole); a
  // pause starts again from one batch.
  const long batch = std::max(1L, d.batch_size);
  long window = batch;
  const auto t0 = Clock::now();
  long lines_done = 0;
  auto flush = [&] {
    if (tr.queued_lines() == 0) return;
    const auto results = tr.translate_queued();
    std::string text;
    for (const auto& ts : results) append_output(text, lines_done++, ts, a.nbest > 0, a.alignment);
    warnings.after_batch(tr.report(), progress);
    if (clear_for_output) progress.clear();
    out.write(text, lines_done);
    progress.update(lines_done);
  };
  std::string line;
  for (;;) {
    LineInput::Got got;
    try {
      got = in.next(line, tr.queued_lines() > 0 ? kPauseMs : -1);
    } catch (const Error& e) {
      // Bad input mid-stream: the lines before it are translated; say what was written.
      std::string what = e.what();
      if (out.to_file()) {
        what += "; " + a.output + " was not written";
      } else {
        flush();
        what += lines_done == 0 ? std::string("; nothing was written")
                                : "; the translations of the " + count(lines_done, "line") +
                                      " before it were written to standard output";
      }
      throw Error(what, e.where());
    }
    if (got == LineInput::Got::line) {
      tr.add(line);
      if (tr.queued_sentences() >= window || tr.queued_lines() >= 16 * window) {
        flush();
        window = std::min(2 * window, 16 * batch);
      }
    } else {
      flush();
      window = batch;
      if (got == LineInput::Got::end) break;
    }
  }
  out.commit();
  progress.clear();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const TranslateReport& r = tr.report();
  std::string unknown;
  if (r.unknown_lines > 0)
    unknown = "; " + with_commas(r.unknown_lines) + " of " + count(r.lines, "line") +
              " held pieces unknown to the vocabulary (first: line " +
              std::to_string(r.first_unknown_line) + ")";
  spdlog::info("translated {} ({}) in {:.1f} s ({:.1f} sentences/s, beam {}){}",
               count(r.lines, "line"), count(r.sentences, "sentence"), seconds,
               static_cast<double>(r.sentences) / std::max(seconds, 1e-9), d.beam, unknown);
  return 0;
}

int run_eval(const CLI::App* cmd, EvalArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  check_decode_flags(cmd, a);
  check_output_path("--hyp-out", a.hyp_out);
  const auto src = read_text_lines(a.src);
  const auto refs = read_text_lines(a.ref);
  require(src.size() == refs.size(), a.src + " has " + std::to_string(src.size()) +
                                         " lines but " + a.ref + " has " +
                                         std::to_string(refs.size()));
  const OpenCheckpoint ck = open_checkpoint(a.checkpoint);
  const DecodeConfig d = decode_config(ck.config, a);
  const std::string tokenize = a.tokenize.empty() ? ck.config.train.bleu_tokenize : a.tokenize;
  TranslateOptions o;
  o.split = split_lines(ck.config, a.split, a.no_split);
  Translator tr(*ck.model, *ck.vocab, d, o);
  Progress progress(::isatty(STDERR_FILENO), static_cast<long>(src.size()));
  Warnings warnings(ck);
  const long chunk = std::max(1L, d.batch_size) * 16;
  std::vector<std::string> hyps;
  hyps.reserve(src.size());
  const auto t0 = Clock::now();
  for (size_t i = 0; i < src.size();) {
    while (i < src.size() && tr.queued_sentences() < chunk && tr.queued_lines() < 16 * chunk)
      tr.add(src[i++]);
    for (auto& t : tr.translate_queued()) hyps.push_back(std::move(t.front().text));
    warnings.after_batch(tr.report(), progress);
    progress.update(static_cast<long>(hyps.size()));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  progress.clear();
  const TranslateReport& r = tr.report();
  if (r.unknown_lines > 0)
    spdlog::info("{} of {} held pieces unknown to the vocabulary (first: line {})",
                 with_commas(r.unknown_lines), count(r.lines, "line"), r.first_unknown_line);
  if (!a.hyp_out.empty()) {
    std::string text;
    for (const auto& h : hyps) text += h + "\n";
    write_text_output(a.hyp_out, text);
  }
  const BleuResult b = corpus_bleu(hyps, refs, BleuOptions{tokenize, a.lowercase});
  const ChrfResult c = corpus_chrf(hyps, refs, ChrfOptions{a.lowercase});
  nlohmann::json j = scores_json(b, c);
  const double s = std::max(seconds, 1e-9);
  j["decode"] = {{"beam", d.beam},
                 {"alpha", d.alpha},
                 {"patience", d.beam == 1 ? 1.0 : d.patience},  // greedy has none
                 {"batch_size", d.batch_size},
                 {"split", o.split},
                 {"seconds", seconds},
                 {"sentences", src.size()},
                 {"sentences_per_s", static_cast<double>(src.size()) / s},
                 {"tgt_tokens_per_s", static_cast<double>(r.output_tokens) / s},
                 {"lines_with_unknown_pieces", r.unknown_lines}};
  j["checkpoint"] = a.checkpoint;
  if (a.json) {
    write_text_output("-", j.dump() + "\n");
  } else {
    char buf[160];
    std::snprintf(buf, sizeof buf, "decoded %zu sentences in %.1f s (%.1f/s), beam %ld\n",
                  src.size(), seconds, static_cast<double>(src.size()) / s, d.beam);
    write_text_output("-", scores_text(b, c) + buf);
  }
  return 0;
}

}  // namespace

void add_translate_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<TranslateArgs>();
  CLI::App* cmd = app.add_subcommand("translate", "Translate text, one line in, one line out");
  add_decode_options(cmd, *a);
  cmd->add_option("-i,--input", a->input, "input file (default stdin)");
  cmd->add_option("-o,--output", a->output,
                  "output file (default stdout; written under a temporary name, renamed when "
                  "complete)");
  cmd->add_option("--nbest", a->nbest,
                  "print the N best translations of each line, Moses/Marian style: "
                  "index ||| text ||| F0= log-probability ||| score (see below)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--alignment", a->alignment,
                "append the word alignment from the cross-attention: text ||| 0-0 1-2 …");
  cmd->add_option("--alignment-layer", a->alignment_layer,
                  "decoder layer whose cross-attention (averaged over heads) aligns, 1…L; 0 "
                  "averages all layers (default: the last)")
      ->check(CLI::NonNegativeNumber);
  add_split_options(cmd, a->split, a->no_split);
  cmd->footer(R"(Examples:
  echo "A man is riding a bike." | spotlight translate --checkpoint runs/quickstart/checkpoints/best
  spotlight translate -c runs/multi30k_en_fr/checkpoints/best -i test.en -o test.fr --beam 5
  spotlight translate -c CKPT -i test.en --nbest 3 --beam 5
  echo "a dog runs ." | spotlight translate -c CKPT --alignment    # un chien court . ||| 0-0 1-1 2-2 3-3
  tail -f requests.txt | spotlight translate -c CKPT               # answers as lines arrive

One line in, one line out, in order; an empty line gives an empty line. Input is translated as
it arrives: lines are queued until a batch is full (decode.batch_size sentences, --batch-size)
or the input pauses for a few milliseconds, then translated and written at once. While input
keeps flowing (a file, a busy pipe) the queue grows to 16 batches (sorted by length inside, for
speed). Lines longer than the model's positions are truncated with a warning naming the line;
a warning (once, with the count so far) names the first line holding pieces the vocabulary
does not know, and the closing line gives the final count. A file is checked (UTF-8) and
counted before any work; on a terminal, progress shows lines done, the rate and the time left.

Sentences: a line holding several sentences is cut with ICU's sentence rules and each is
translated apart, the translations joined with a space ("Mr." and "e.g." do not end a
sentence). On by default; off by default for a model trained on pre-tokenized text (its
train.bleu_tokenize is none: lowercased, tokenized lines are one sentence each), --split forces
it on, --no-split off.

--nbest N prints N lines per input line, as Moses and Marian do (--nbest 1 too):
  index ||| text ||| F0= -3.21045 ||| -0.80261
index is the 0-based input line, F0 the model's log-probability of the translation (its tokens
and EOS), the last field the score the search ranks by: F0 / (tokens + 1)^alpha. For a line cut
into sentences, entry k joins each sentence's k-th best and F0 and the score are sums over them.

--alignment appends " ||| " and the hard word alignment, Moses / fast_align style: "i-j" pairs,
i a source word and j a target word (0-based, words split at spaces as SentencePiece splits
them), one pair per target word: the source word its cross-attention weighs most (the
translation force-decoded once more, heads averaged, pieces summed per word). With --nbest the
alignment is the fifth field, last, as Moses writes it (Marian puts it after the text):
  index ||| text ||| F0= … ||| score ||| 0-0 1-1

-o FILE: FILE appears only when complete. On an error it is not written; on Ctrl-C or SIGTERM
the translations done so far are kept in FILE.partial (the message says how many lines).
Exit status: 0 done, 1 bad input or checkpoint, 2 bad flags (also an output path that cannot
be written), 130 / 143 Ctrl-C / SIGTERM.)");
  cmd->callback([a, cmd, &action] { action = [a, cmd] { return run_translate(cmd, *a); }; });
}

void add_eval_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd =
      app.add_subcommand("eval", "Translate a test set and score it: BLEU and chrF (sacreBLEU)");
  add_decode_options(cmd, *a);
  cmd->add_option("--src", a->src, "source file")->required();
  cmd->add_option("--ref", a->ref, "reference translations, line N for source line N")->required();
  cmd->add_option("--hyp-out", a->hyp_out, "also write the translations here");
  cmd->add_option("--tokenize", a->tokenize,
                  "BLEU tokenizer: 13a or none (default: the checkpoint's train.bleu_tokenize, "
                  "the one its validation BLEU used)")
      ->check(CLI::IsMember({"13a", "none"}));
  cmd->add_flag("--lowercase", a->lowercase, "lowercase both sides before scoring");
  cmd->add_flag("--json", a->json, "one JSON object instead of text");
  add_split_options(cmd, a->split, a->no_split);
  cmd->footer(R"(Examples:
  spotlight eval -c runs/multi30k_en_fr/checkpoints/best --src data/multi30k/tok/test_2016_flickr.en \
      --ref data/multi30k/tok/test_2016_flickr.fr --beam 5
  spotlight eval -c CKPT --src data/tatoeba/test.en --ref data/tatoeba/test.fr --json

BLEU is tokenized as the checkpoint's validation was (train.bleu_tokenize: none for models of
pre-tokenized text, 13a otherwise) unless --tokenize is given; the signature printed says which.
Lines are cut into sentences as translate does (--split / --no-split). Progress shows on a
terminal; warnings name truncated lines and the first line holding unknown pieces.)");
  cmd->callback([a, cmd, &action] { action = [a, cmd] { return run_eval(cmd, *a); }; });
}

}  // namespace spotlight
