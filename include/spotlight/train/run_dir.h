// run_dir.h — a training run's directory (output_dir): one `spotlight train` at a time (a lock
// the kernel drops when the process dies, even by SIGKILL), no leftovers of killed writers,
// train.log, and metrics.jsonl appended line by line and cut back to the step a run resumes
// from.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace spdlog {
class logger;
}

namespace spotlight {

class RunDirectory {
 public:
  // Creates out/checkpoints and takes the lock on out/.lock (an Error naming the directory when
  // another `spotlight train` holds it); holding it, whatever temporary files are in the run
  // are leftovers of killed writers, and are removed.
  explicit RunDirectory(const std::filesystem::path& out);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::filesystem::path& path() const { return out_; }
  const std::filesystem::path& checkpoints() const { return checkpoints_; }

  // The run's logger: stderr (warnings only when quiet) and train.log.
  std::shared_ptr<spdlog::logger> logger(bool quiet) const;
  // metrics.jsonl without its lines past `step` (a resumed run continues from there), then
  // opened for appending.
  void open_metrics(long step);
  // One line of metrics.jsonl, flushed; an Error when the disk refuses it.
  void write_metrics(const nlohmann::json& j);

 private:
  std::filesystem::path out_, checkpoints_;
  int lock_fd_ = -1;  // flock on <output_dir>/.lock, held for the run's lifetime
  std::ofstream metrics_;
};

// Names of Spotlight's own temporary files: "<name>.tmp", "<name>.tmp<pid>", "<name>.tmp.<pid>".
bool is_temporary_name(const std::string& name);

// Empty when `dir` is a writable directory or could be created (its nearest existing ancestor is
// a writable directory); else why not.
std::string why_not_writable(const std::filesystem::path& dir);

}  // namespace spotlight
