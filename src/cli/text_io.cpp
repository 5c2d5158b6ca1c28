#include "cli/text_io.h"

#include <atomic>
#include <cmath>
#include <csignal>
#include <filesystem>

namespace spotlight {

namespace fs = std::filesystem;

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

void check_decode_flags(const CLI::App* cmd, const DecodeArgs& a) {
  if (cmd->count("--alpha") > 0)
    require_usage(std::isfinite(a.alpha) && a.alpha >= 0, [&] {
      char v[32];
      std::snprintf(v, sizeof v, "%g", a.alpha);
      return "--alpha " + std::string(v) +
             ": expected a finite number ≥ 0 (0: no length normalisation)";
    }());
}

bool split_lines(const Config& c, bool split, bool no_split) {
  if (split) return true;
  if (no_split) return false;
  return c.train.bleu_tokenize != "none";
}

void add_split_options(CLI::App* cmd, bool& split, bool& no_split) {
  auto* on = cmd->add_flag(
      "--split", split,
      "cut each line into sentences (ICU's sentence rules, English abbreviations kept whole), "
      "translate them apart and join the translations with a space (default: on, but off for a "
      "model trained on pre-tokenized text: its config's train.bleu_tokenize is none)");
  cmd->add_flag("--no-split", no_split, "translate each line as one sentence")->excludes(on);
}

std::string with_commas(long n) {
  std::string s = std::to_string(n);
  for (long i = static_cast<long>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string count(long n, const std::string& noun) {
  return with_commas(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string human_duration(double s) {
  char buf[48];
  const long t = std::lround(s);
  if (t < 60) std::snprintf(buf, sizeof buf, "%ld s", t);
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%ld min %02ld s", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ld h %02ld min", t / 3600, t / 60 % 60);
  return buf;
}

std::string tmp_path(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

namespace {
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

}  // namespace

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

void install_interrupt_handler(const std::string& output) {
  g_interrupt.to_file = !(output.empty() || output == "-");
  g_interrupt.tmp = tmp_path(output);
  g_interrupt.partial = output + ".partial";
  g_interrupt.out = output;
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}


long lines_written() { return g_interrupt.lines.load(); }
void note_progress_shown(bool on) { g_interrupt.progress_shown = on; }

}  // namespace spotlight
