#include "spotlight/train/run_dir.h"

#include <fcntl.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "spotlight/atomic_file.h"
#include "spotlight/check.h"

namespace spotlight {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Keeps metrics.jsonl consistent with a resumed run: lines past the resumed step are dropped.
void truncate_metrics(const fs::path& path, long step) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
        j["step"].get<long>() <= step)
      kept += line + "\n";
  }
  in.close();
  write_file_atomically(path.string(), kept);
}

}  // namespace

bool is_temporary_name(const std::string& name) {
  const auto at = name.rfind(".tmp");
  if (at == std::string::npos || at == 0) return false;
  std::string rest = name.substr(at + 4);
  if (!rest.empty() && rest[0] == '.') rest.erase(0, 1);
  return std::all_of(rest.begin(), rest.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

std::string why_not_writable(const fs::path& dir) {
  std::error_code ec;
  const fs::path target = fs::absolute(dir.empty() ? fs::path(".") : dir, ec).lexically_normal();
  fs::path probe = target;
  while (!fs::exists(probe, ec) && probe.has_relative_path()) probe = probe.parent_path();
  if (!fs::is_directory(probe, ec))
    return (probe == target ? std::string("it is")
                            : "cannot create it: " + probe.string() + " is") +
           " not a directory";
  if (::access(probe.c_str(), W_OK | X_OK) != 0)
    return (probe == target ? std::string("it is not writable")
                            : "cannot create it: " + probe.string() + " is not writable") +
           " (" + std::strerror(errno) + ")";
  return {};
}

RunDirectory::RunDirectory(const fs::path& out) : out_(out), checkpoints_(out / "checkpoints") {
  fs::create_directories(checkpoints_);
  const fs::path lock = out_ / ".lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  require(lock_fd_ >= 0, "cannot create " + lock.string() + ": " + std::strerror(errno));
  try {
    require(::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0,
            "output_dir " + out_.string() + " is in use by another `spotlight train`; wait for " +
                "it to finish, or choose another output_dir (--set output_dir=...)");
    for (const fs::path& dir : {out_, checkpoints_})
      for (const auto& e : fs::directory_iterator(dir))
        if (is_temporary_name(e.path().filename().string())) fs::remove_all(e.path());
  } catch (...) {  // the destructor does not run for a constructor that throws
    ::close(lock_fd_);
    throw;
  }
}

RunDirectory::~RunDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::shared_ptr<spdlog::logger> RunDirectory::logger(bool quiet) const {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(quiet ? spdlog::level::warn : spdlog::level::info);
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>((out_ / "train.log").string());
  auto log = std::make_shared<spdlog::logger>("train", spdlog::sinks_init_list{console, file});
  log->set_pattern("[%Y-%m-%d %H:%M:%S] %v");
  log->set_level(spdlog::level::info);
  log->flush_on(spdlog::level::info);
  return log;
}

void RunDirectory::open_metrics(long step) {
  const fs::path path = out_ / "metrics.jsonl";
  truncate_metrics(path, step);
  metrics_.open(path, std::ios::app);
  require(metrics_.good(), "cannot write " + path.string());
}

void RunDirectory::write_metrics(const json& j) {
  metrics_ << j.dump() << "\n";
  metrics_.flush();
  require(metrics_.good(), [&] {
    return "failed writing " + (out_ / "metrics.jsonl").string() + ": " + std::strerror(errno) +
           " (is the disk full? checkpoints already saved are intact; --resume continues)";
  });
}

}  // namespace spotlight
