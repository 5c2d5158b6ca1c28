// spotlight prepare — encodes a config's corpora once, into their stores (data/store.h), as
// fairseq-preprocess does: trains the vocabulary first if vocab.path does not exist, then writes
// the store of every data.train corpus and of data.valid into data.store (default
// <output_dir>/data). `spotlight train` with the same config then starts from them.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "spotlight/check.h"
#include "spotlight/data/mix.h"
#include "spotlight/data/store.h"
#include "spotlight/parallel.h"
#include "spotlight/train/setup.h"

namespace spotlight {

namespace {
struct PrepareArgs {
  std::string config;
  std::vector<std::string> overrides;
  int threads = 0;
  bool force = false, json = false, vocab_only = false;
};

using Clock = std::chrono::steady_clock;

std::string megabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}
}  // namespace

void add_prepare_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<PrepareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "prepare", "Encode a config's corpora once into binary stores that training reads from");
  cmd->add_option("-c,--config", a->config, "JSON config (presets in configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", a->overrides,
                  "override a config value, key.path=value (repeatable), e.g. data.store=/big/disk");
  cmd->add_option("--threads", a->threads, "encoding threads (overrides train.threads)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--force", a->force, "re-encode even the stores that are current");
  cmd->add_flag("--vocab-only", a->vocab_only,
                "only train vocab.path (from a sample of vocab.input_sentence_size lines) if it "
                "does not exist, as marian-vocab does");
  cmd->add_flag("--json", a->json, "one JSON object per corpus on stdout instead of text");
  cmd->footer(R"(Examples:
  spotlight prepare --config configs/tatoeba_en_fr.json
  spotlight prepare -c configs/multi30k_en_fr.json --set data.store=/data/stores --threads 16
  spotlight prepare -c my.json --force          # re-encode everything
  spotlight prepare -c my.json --vocab-only     # train the vocabulary only

Trains vocab.path first when it does not exist (as `spotlight train` would). Each corpus is read
line by line and encoded in chunks on the threads, so memory does not grow with the corpus
(the index, 4 bytes per line, excepted); the store is written under a temporary name and renamed
when complete. A store that is current (same vocabulary, same source files) is kept; one that is
stale, truncated or damaged is rebuilt. Train on another machine from the same stores by pointing
data.store at them.)");
  cmd->callback([a, &action] {
    action = [a] {
      std::vector<std::string> overrides = a->overrides;
      if (a->threads > 0) overrides.push_back("train.threads=" + std::to_string(a->threads));
      Config cfg = load_config(a->config, overrides);
      require(!cfg.data.train.empty(), "data.train: no training corpus; give [source_file, target_file]");
      const int threads = static_cast<int>(cfg.train.threads);
      set_threads(threads);
      const bool tty = ::isatty(STDERR_FILENO) != 0;
      if (!std::filesystem::exists(cfg.vocab.path))
        std::fprintf(stderr, "training the vocabulary %s (at most %ld sampled lines)...\n",
                     cfg.vocab.path.c_str(), cfg.vocab.input_sentence_size);
      const auto vocab = prepare_vocabulary(cfg);
      if (a->vocab_only) {
        write_text_output("-", cfg.vocab.path + ": " + std::to_string(vocab->size()) + " pieces\n");
        return 0;
      }
      const std::string dir = cfg.data.store_dir(cfg.output_dir);
      std::vector<std::array<std::string, 2>> corpora;
      for (const TrainCorpus& c : cfg.data.train) corpora.push_back({c.src, c.tgt});
      corpora.push_back(cfg.data.valid);
      for (size_t k = 0; k < corpora.size(); ++k) {
        const std::string& src = corpora[k][0];  // not a structured binding: lambdas capture it
        const std::string& tgt = corpora[k][1];
        const bool valid = k + 1 == corpora.size();
        const auto t0 = Clock::now();
        auto last = t0;
        const EncodeProgress progress = [&](long lines, long done, long total) {
          const auto now = Clock::now();
          if (now - last < std::chrono::milliseconds(tty ? 250 : 10000)) return;
          last = now;
          const double s = std::chrono::duration<double>(now - t0).count();
          std::fprintf(stderr, "%s  %s: %ld lines, %.0f%%, %.0f lines/s", tty ? "\r" : "",
                       src.c_str(), lines, 100.0 * static_cast<double>(done) / std::max(1L, total),
                       static_cast<double>(lines) / std::max(s, 1e-9));
          if (!tty) std::fputc('\n', stderr);
        };
        bool built = false;
        const CorpusStore store = open_store(
            dir, src, tgt, *vocab, threads,
            [&](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); }, progress,
            &built, a->force);
        if (tty && built) std::fputs("\r\033[K", stderr);
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        const PairMix mix({{&store, 1.0}}, cfg.data.max_len);
        const PairMix::Counts& n = mix.counts(0);
        const double bytes = static_cast<double>(std::filesystem::file_size(store.path()));
        if (a->json) {
          const nlohmann::json j = {{"corpus", valid ? "valid" : "train"},
                                    {"src", src},
                                    {"tgt", tgt},
                                    {"store", store.path()},
                                    {"encoded", built},
                                    {"seconds", secs},
                                    {"lines", n.lines},
                                    {"pairs", n.kept},
                                    {"empty", n.empty},
                                    {"too_long", n.too_long},
                                    {"tokens", store.info().tokens},
                                    {"bytes", bytes},
                                    {"pairs_per_second", built ? static_cast<double>(n.lines) / secs : 0.0}};
          write_text_output("-", j.dump() + "\n");
          continue;
        }
        std::string line = std::string(valid ? "valid " : "train ") + src + " + " + tgt + " → " +
                           store.path() + "\n  " + std::to_string(n.lines) + " lines, " +
                           std::to_string(n.kept) + " pairs kept (" + std::to_string(n.empty) +
                           " empty, " + std::to_string(n.too_long) + " longer than data.max_len = " +
                           std::to_string(cfg.data.max_len) + "), " +
                           std::to_string(store.info().tokens) + " tokens, " + megabytes(bytes);
        char buf[96];
        if (built)
          std::snprintf(buf, sizeof buf, "; encoded in %.1f s (%.0f pairs/s on %d threads)\n", secs,
                        static_cast<double>(n.lines) / std::max(secs, 1e-9), threads);
        else
          std::snprintf(buf, sizeof buf, "; current, kept\n");
        write_text_output("-", line + buf);
      }
      return 0;
    };
  });
}

}  // namespace spotlight
