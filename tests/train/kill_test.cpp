// kill_test.cpp — crash consistency. `spotlight train` is killed with SIGKILL at random moments,
// many of them while a checkpoint is being written (one is written every 4 updates), and
// restarted with --resume each time. After every kill, every checkpoint on disk must load for
// translation and for resuming; at the end the weights and optimizer state must equal those of
// an uninterrupted run byte for byte, and metrics.jsonl must hold whole lines only.
// SPOTLIGHT_KILL_ROUNDS=N sets the number of kills (default 20; hundreds by hand).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "spotlight/rng.h"
#include "spotlight/train/checkpoint.h"
#include "spotlight/train/optimizer.h"
#include "spotlight/train/trainer.h"
#include "support/cli_run.h"
#include "support/toy_corpus.h"

using namespace spotlight;
using namespace spotlight::testing;
namespace fs = std::filesystem;

namespace {


pid_t spawn_train(const std::string& config) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (freopen("/dev/null", "w", stderr) == nullptr) _exit(126);
    execl(SPOTLIGHT_BINARY, SPOTLIGHT_BINARY, "train", "--config", config.c_str(), "--resume",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Loads a checkpoint as translate and --resume would; returns its step.
long load_fully(const fs::path& dir) {
  OpenCheckpoint c = open_checkpoint(dir.string());
  Adam adam(c.model->params(), AdamConfig{});
  TrainerState state;
  load_training_state(dir.string(), *c.model, {adam, state});
  return state.step;
}

// True when `dir` holds a temporary entry: any, or with pid > 0 one of that process's (checkpoint
// temporaries are named "<name>.tmp<pid>").
bool holds_temporary(const fs::path& dir, pid_t pid = 0) {
  std::error_code ec;
  const std::string mark = ".tmp" + (pid > 0 ? std::to_string(pid) : "");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.find(mark);
    if (at != std::string::npos && (pid == 0 || at + mark.size() == name.size())) return true;
  }
  return false;
}

}  // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("SIGKILL at random moments: every checkpoint on disk loads and --resume ends byte-identical" * doctest::test_suite("slow")) {
  const char* env = std::getenv("SPOTLIGHT_KILL_ROUNDS");
  const int rounds = env != nullptr ? std::max(1, std::atoi(env)) : 20;
  ToyRun a("kill_a"), b("kill_b");
  for (ToyRun* r : {&a, &b}) {
    r->config.train.max_steps = 40 + 8 * rounds;
    r->config.train.valid_interval = 4;  // a checkpoint (step_N, last, maybe best) every 4 updates
    r->config.train.keep_last = 2;
    r->config.train.log_interval = 1;
    r->config.train.threads = 1;
    r->config.decode.beam = 1;
    std::ofstream(r->path("cfg.json")) << r->config.to_json().dump(2);
  }
  TrainOptions quiet;
  quiet.quiet = true;
  train(a.config, quiet);

  const fs::path ckpts = fs::path(b.config.output_dir) / "checkpoints";
  Rng rng(20261129);
  int kills = 0, during_write = 0, finished_early = 0;
  long last_step = -1;
  while (kills < rounds) {
    const pid_t pid = spawn_train(b.path("cfg.json"));
    REQUIRE(pid > 0);
    if (kills % 2 == 0) {
      // Killed anywhere from start-up (vocabulary, corpus cache) to a few checkpoints in.
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng.below(400)));
    } else {
      // Killed as soon as a checkpoint is being written (its temporary directory exists), after
      // a random extra 0-3 ms: somewhere inside the write, the fsyncs or the renames.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!holds_temporary(ckpts, pid) && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::this_thread::sleep_for(std::chrono::microseconds(rng.below(3000)));
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {  // it finished first: start over, keep counting
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
      ++finished_early;
      fs::remove_all(b.config.output_dir);
      last_step = -1;
      continue;
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    ++kills;
    if (holds_temporary(ckpts, pid)) ++during_write;
    if (!fs::exists(ckpts)) continue;
    for (const auto& e : fs::directory_iterator(ckpts)) {
      if (e.path().filename().string().find(".tmp") != std::string::npos) continue;
      CAPTURE(e.path().string());
      CHECK_NOTHROW(load_fully(e.path()));
    }
    // Once a `last` checkpoint exists, no kill may leave the run without one.
    CHECK((last_step < 0 || fs::exists(ckpts / "last")));
    if (fs::exists(ckpts / "last")) {
      const long step = load_fully(ckpts / "last");
      CHECK(step >= last_step);  // progress is never lost
      last_step = step;
    }
  }
  const int rc = std::system(
      (std::string(SPOTLIGHT_BINARY) + " train --resume --config " + b.path("cfg.json") + " 2>/dev/null")
          .c_str());
  REQUIRE(rc == 0);
  MESSAGE(kills << " kills (" << during_write << " left a checkpoint half-written), "
                << finished_early << " runs finished before their kill");
  CHECK(during_write > 0);
  CHECK(!holds_temporary(ckpts));  // a restart clears what killed writers left behind
  const fs::path la = fs::path(a.config.output_dir) / "checkpoints/last";
  const fs::path lb = ckpts / "last";
  CHECK(load_fully(lb) == a.config.train.max_steps);
  CHECK(slurp(la / "model.safetensors") == slurp(lb / "model.safetensors"));
  CHECK(slurp(la / "optimizer.safetensors") == slurp(lb / "optimizer.safetensors"));
  std::ifstream m(fs::path(b.config.output_dir) / "metrics.jsonl");
  long lines = 0;
  for (std::string line; std::getline(m, line); ++lines)
    CHECK(!nlohmann::json::parse(line, nullptr, false).is_discarded());
  CHECK(lines > 0);
}

TEST_SUITE_END();
