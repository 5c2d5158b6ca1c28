// pipe_child.h — for tests that talk to a running `spotlight`: the binary started with its stdin
// and stdout on pipes (stderr to a file, or to a given descriptor such as a pseudo-terminal),
// written to and read from line by line with timeouts, signalled and waited for. No fixed
// sleeps: every wait is for something to happen, bounded by a generous timeout.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace spotlight::testing {

class PipeChild {
 public:
  // Starts `spotlight args...`; stderr goes to err_file, or to err_fd when it is ≥ 0.
  PipeChild(const std::vector<std::string>& args, const std::filesystem::path& err_file,
            int err_fd = -1) {
    ::signal(SIGPIPE, SIG_IGN);  // a child that died must fail a check, not kill the tests
    std::vector<char*> argv{const_cast<char*>(SPOTLIGHT_BINARY)};  // built before fork()
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    const std::string err = err_file.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      const int e = err_fd >= 0 ? err_fd : ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (e < 0) _exit(126);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(e, 2);
      ::execv(SPOTLIGHT_BINARY, argv.data());
      _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~PipeChild() {
    close_stdin();
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  PipeChild(const PipeChild&) = delete;
  PipeChild& operator=(const PipeChild&) = delete;

  pid_t pid() const { return pid_; }

  // Writes all of s to the child's stdin; false when the child no longer reads.
  bool write(const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
      const ssize_t w = ::write(in_, s.data() + done, s.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      done += static_cast<size_t>(w);
    }
    return true;
  }
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  // The next line of the child's stdout (without "\n"), or nothing when none comes within
  // timeout_s seconds or stdout ends first.
  std::optional<std::string> read_line(double timeout_s) {
    const auto deadline = now() + timeout_s;
    for (;;) {
      const size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }
  // Everything the child still writes to stdout until it closes it (or timeout_s passes).
  std::string read_rest(double timeout_s) {
    const auto deadline = now() + timeout_s;
    while (fill(deadline)) {
    }
    std::string rest = std::move(buf_);
    buf_.clear();
    return rest;
  }

  // The exit status (128 + signal when killed), or -1 when it has not exited within timeout_s
  // seconds (then it is killed).
  int wait(double timeout_s) {
    if (status_ >= 0) return status_;
    const auto deadline = now() + timeout_s;
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      if (now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        status_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling, not a fixed wait
    }
  }

 private:
  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // Reads what stdout has, waiting until the deadline; false at its end or the deadline.
  bool fill(double deadline) {
    const double left = deadline - now();
    if (out_ < 0 || left <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (r < 0 && errno == EINTR) return true;
    if (r <= 0) return false;
    char chunk[4096];
    const ssize_t n = ::read(out_, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  int status_ = -1;
  std::string buf_;
};

// Waits (polling, up to timeout_s seconds) until cond() holds; returns whether it did.
template <class Cond>
bool wait_until(Cond&& cond, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(timeout_s));
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace spotlight::testing
