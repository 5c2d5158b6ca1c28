// spotlight train — trains a model from a JSON config (see configs/ and the README).
#include <csignal>
#include <chrono>
#include <memory>
#include <thread>

#include "spotlight/check.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "spotlight/train/distributed.h"
#include "spotlight/train/trainer.h"

namespace spotlight {

namespace {
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
  g_stop = true;
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

struct TrainArgs {
  std::string config;
  bool resume = false;
  std::vector<std::string> overrides;
  int threads = 0;
  double collective_timeout = 60.0;
};
}  // namespace

void add_train_command(CLI::App& app, CommandAction& action) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train",
                                     "Train a model (and its SentencePiece vocabulary, "
                                     "if the config's vocab.path does not exist yet)");
  cmd->add_option("-c,--config", args->config, "JSON config (presets in configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("--resume", args->resume,
                "continue the run in output_dir from its checkpoints/last, with the config it "
                "was started with: same step, data order and RNG");
  cmd->add_option("--set", args->overrides,
                  "override a config value, key.path=value (repeatable), e.g. train.lr=3e-4");
  cmd->add_option("--threads", args->threads, "compute threads (overrides train.threads)")
      ->check(CLI::PositiveNumber);
  add_gemm_option(cmd);
  cmd->add_option("--collective-timeout", args->collective_timeout,
                  "under mpirun: seconds a collective may wait for the other ranks before the "
                  "job is ended (default 60)")
      ->check(CLI::PositiveNumber);
  cmd->footer(R"(Examples:
  spotlight train --config configs/multi30k_en_fr.json
  spotlight train --config configs/quickstart.json --set train.max_minutes=5 --set output_dir=runs/try
  spotlight train --config configs/multi30k_en_fr.json --resume      # after Ctrl-C or a crash
  spotlight train --config configs/multi30k_en_fr.json --resume --set train.max_steps=12000
  mpirun -np 2 spotlight train --config configs/multi30k_en_fr.json --threads 1   # 2 processes

Under mpirun (a build with MPI), the ranks train one model: each update's batches are dealt
round-robin to the ranks and their gradients summed, so N ranks with train.update_freq 1 make
the updates of one process with update_freq N; rank 0 alone logs and writes checkpoints. A run
resumes with any number of ranks. See the README, "Training on several processes".

Progress goes to stderr (a live bar on a terminal) and to <output_dir>/train.log; figures also
to <output_dir>/metrics.jsonl. Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits; resume
with --resume. A second Ctrl-C stops at once.

--resume continues with the config stored in <output_dir>/checkpoints/last, not the --config
file. Only stopping conditions (train.max_steps, max_epochs, max_minutes, patience), intervals
(train.log_interval, valid_interval, keep_last), train.threads and decode.* may change (by --set
or an edited --config file); any other difference is refused, naming the key and both values.

Before anything is trained, data.train and data.valid must be readable, output_dir writable and,
if vocab.path does not exist yet, its directory writable. A vocabulary is trained with a record of
what it was trained from (<vocab.path>.json: size, model type, coverage, the training files and
their SHA-256); a vocabulary whose record disagrees with the config is refused.)");
  cmd->callback([args, &action] {
    action = [args] {
      std::vector<std::string> overrides = args->overrides;
      if (args->threads > 0) overrides.push_back("train.threads=" + std::to_string(args->threads));
      const Config cfg = load_config(args->config, overrides);
      std::signal(SIGINT, on_stop_signal);
      std::signal(SIGTERM, on_stop_signal);
      Communicator& comm = Communicator::world();
      comm.set_timeout(args->collective_timeout);
      TrainOptions opt;
      opt.resume = args->resume;
      opt.stop = &g_stop;
      TrainSummary s;
      if (!comm.distributed()) {
        s = train(cfg, opt);
      } else {
        // An error on one rank ends every rank: nobody is left waiting in a collective.
        try {
          s = train(cfg, opt);
        } catch (const std::exception& e) {
          const std::string where = "rank " + std::to_string(comm.rank()) + " of " +
                                    std::to_string(comm.size()) + ": ";
          // The same error usually happens on every rank: rank 0's is the one shown.
          if (!comm.root()) std::this_thread::sleep_for(std::chrono::seconds(2));
          comm.abort(where + e.what(), dynamic_cast<const UsageError*>(&e) != nullptr ? 2 : 1);
        }
      }
      if (s.reason == StopReason::interrupted) return 128 + g_signal.load();
      return 0;
    };
  });
}

}  // namespace spotlight
