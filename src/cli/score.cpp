// spotlight score — forced decoding: each reference translation's log-probability.
#include <memory>

#include "spotlight/parallel.h"
#include "spotlight/check.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "spotlight/decode/scorer.h"
#include "spotlight/decode/search.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {
struct ScoreArgs {
  std::string checkpoint, src, tgt, out = "-";
  long max_tokens = 4096;
  int threads = 0;
  std::string compute_type;  // empty: the checkpoint's decode.compute_type
};
}  // namespace

void add_score_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<ScoreArgs>();
  CLI::App* cmd = app.add_subcommand(
      "score", "Forced decoding: the log-probability of each target sentence given its source");
  cmd->add_option("-c,--checkpoint", a->checkpoint, "checkpoint directory")->required();
  cmd->add_option("--src", a->src, "source file (- for stdin)")->required();
  cmd->add_option("--tgt", a->tgt, "target file, line N translating source line N")->required();
  cmd->add_option("-o,--output", a->out, "output file (default stdout)");
  cmd->add_option("--max-tokens", a->max_tokens, "padded tokens per batch")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", a->threads, "compute threads (default: one per core)")->check(CLI::PositiveNumber);
  add_gemm_option(cmd);
  add_compute_type_option(cmd, a->compute_type);
  cmd->footer(R"(Examples:
  spotlight score --checkpoint runs/m30k/checkpoints/best --src test.en --tgt test.fr

Output: one line per pair, in input order:
  index <TAB> log-probability (natural log, summed over the tokens and EOS) <TAB> tokens <TAB> per token)");
  cmd->callback([a, &action] {
    action = [a] {
      if (a->threads > 0) set_threads(a->threads);
      const OpenCheckpoint ck = open_checkpoint(a->checkpoint);
      apply_compute_type(ck, a->compute_type.empty() ? ck.config.decode.compute_type : a->compute_type);
      const auto src_lines = read_text_lines(a->src), tgt_lines = read_text_lines(a->tgt);
      require(src_lines.size() == tgt_lines.size(),
              a->src + " has " + std::to_string(src_lines.size()) + " lines but " + a->tgt +
                  " has " + std::to_string(tgt_lines.size()));
      const long limit = max_source_pieces(ck.model->cfg);
      std::vector<std::vector<int>> src, tgt;
      for (size_t i = 0; i < src_lines.size(); ++i) {
        src.push_back(ck.vocab->encode(src_lines[i]));
        tgt.push_back(ck.vocab->encode(tgt_lines[i]));
        require(static_cast<long>(std::max(src.back().size(), tgt.back().size())) <= limit,
                "line " + std::to_string(i + 1) + " is longer than the model's " +
                    std::to_string(limit) + " tokens and cannot be scored");
      }
      const auto scores = score_pairs(*ck.model, src, tgt, a->max_tokens);
      std::string text;
      char buf[128];
      for (size_t i = 0; i < scores.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%zu\t%.6f\t%ld\t%.6f\n", i, scores[i].logprob,
                      scores[i].tokens, scores[i].logprob / static_cast<double>(scores[i].tokens));
        text += buf;
      }
      write_text_output(a->out, text);
      return 0;
    };
  });
}

}  // namespace spotlight
