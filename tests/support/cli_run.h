// cli_run.h — for tests that run the `spotlight` binary: a command line run through the shell
// with stdout and stderr captured, and a whole file read back.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace spotlight::testing {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

struct CliResult {
  int code = 0;  // exit status, -1 when killed by a signal
  std::string out, err;
};

// Runs `spotlight ARGS` (shell syntax: quotes allowed), its stdout and stderr captured in
// tmp/out.txt and tmp/err.txt.
inline CliResult run_cli(const std::string& args, const std::filesystem::path& tmp) {
  const std::string cmd = std::string(SPOTLIGHT_BINARY) + " " + args + " > " +
                          (tmp / "out.txt").string() + " 2> " + (tmp / "err.txt").string();
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(tmp / "out.txt"),
          slurp(tmp / "err.txt")};
}

}  // namespace spotlight::testing
