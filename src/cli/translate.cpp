// spotlight translate and spotlight eval — translate text with a checkpoint; evaluate it.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "spotlight/parallel.h"
#include "spotlight/check.h"
#include "spotlight/cli/commands.h"
#include "spotlight/cli/common.h"
#include "spotlight/decode/attention_maps.h"
#include "spotlight/decode/translator.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {
// Translates with a progress line on a terminal and warnings for truncated lines.
std::vector<std::vector<Translation>> run_translation(const OpenCheckpoint& ck,
                                                      const std::vector<std::string>& lines,
                                                      const DecodeConfig& d, long nbest,
                                                      TranslateReport& report, double& seconds) {
  const bool tty = ::isatty(STDERR_FILENO);
  const auto t0 = std::chrono::steady_clock::now();
  auto progress = [&](long done, long total) {
    if (!tty) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "\r\033[Ktranslated %ld/%ld sentences, %.1f/s, ETA %.0f s", done, total,
                 done / s, (total - done) * s / std::max(1L, done));
  };
  auto out = translate_lines(*ck.model, *ck.vocab, lines, d, nbest, &report, progress);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (tty) std::fputs("\r\033[K", stderr);
  for (long line : report.truncated)
    spdlog::warn("input line {} is longer than the model's {} positions; it was truncated", line,
                 ck.model->cfg.max_positions - 1);
  return out;
}

struct TranslateArgs : DecodeArgs {
  std::string input = "-", output = "-";
  long nbest = 1;
  bool alignment = false;
  long alignment_layer = -1;  // -1: the last decoder layer
};

struct EvalArgs : DecodeArgs {
  std::string src, ref, hyp_out, tokenize = "13a";
  bool lowercase = false, json = false;
};
}  // namespace

void add_translate_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<TranslateArgs>();
  CLI::App* cmd = app.add_subcommand("translate", "Translate text, one sentence a line");
  add_decode_options(cmd, *a);
  cmd->add_option("-i,--input", a->input, "input file (default stdin)");
  cmd->add_option("-o,--output", a->output, "output file (default stdout; written atomically)");
  cmd->add_option("--nbest", a->nbest, "print the N best translations: index ||| text ||| score")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--alignment", a->alignment,
                "append the word alignment from the cross-attention: text ||| 0-0 1-2 …");
  cmd->add_option("--alignment-layer", a->alignment_layer,
                  "decoder layer whose cross-attention (averaged over heads) aligns, 1…L; 0 "
                  "averages all layers (default: the last)")
      ->check(CLI::NonNegativeNumber);
  cmd->footer(R"(Examples:
  echo "a man is riding a bike ." | spotlight translate --checkpoint runs/multi30k_en_fr/checkpoints/best
  spotlight translate -c runs/multi30k_en_fr/checkpoints/best -i test.en -o test.fr --beam 5
  spotlight translate -c CKPT -i test.en --nbest 3 --beam 5
  echo "a dog runs ." | spotlight translate -c CKPT --alignment    # un chien court . ||| 0-0 1-1 2-2 3-3

One line in, one line out, in order; an empty line gives an empty line. Lines longer than the
model's positions are truncated with a warning naming the line.

--alignment appends " ||| " and the hard word alignment, Moses / fast_align style: "i-j" pairs,
i a source word and j a target word (0-based, words split at spaces as SentencePiece splits
them), one pair per target word: the source word its cross-attention weighs most (the
translation force-decoded once more, heads averaged, pieces summed per word). With --nbest the
alignment is the fourth field.)");
  cmd->callback([a, &action] {
    action = [a] {
      if (a->threads > 0) set_threads(a->threads);
      const OpenCheckpoint ck = open_checkpoint(a->checkpoint);
      const DecodeConfig d = decode_config(ck.config, *a);
      const auto lines = read_text_lines(a->input);
      TranslateReport report;
      double seconds = 0;
      const auto out = run_translation(ck, lines, d, a->nbest, report, seconds);
      // Alignments: every printed translation force-decoded against its source.
      std::vector<std::string> align;
      if (a->alignment) {
        const long layers = ck.model->cfg.decoder_layers;
        const long layer = a->alignment_layer < 0 ? layers : a->alignment_layer;
        require(layer <= layers, "--alignment-layer " + std::to_string(layer) +
                                     ": the model has " + std::to_string(layers) +
                                     " decoder layers (0 averages them all)");
        std::vector<std::vector<int>> src, tgt;
        for (size_t i = 0; i < out.size(); ++i)
          for (const Translation& t : out[i]) {
            src.push_back(encode_source(*ck.model, *ck.vocab, lines[i]));
            tgt.push_back(t.ids);
          }
        align = align_pairs(*ck.model, *ck.vocab, src, tgt, layer, std::max(1L, d.batch_size));
      }
      std::string text;
      size_t k = 0;  // index into align
      for (size_t i = 0; i < out.size(); ++i) {
        if (a->nbest == 1) {
          text += out[i].front().text;
          if (a->alignment) text += " ||| " + align[k++];
          text += "\n";
          continue;
        }
        for (const Translation& t : out[i]) {
          char score[32];
          std::snprintf(score, sizeof score, "%.6f", t.score);
          text += std::to_string(i) + " ||| " + t.text + " ||| " + score;
          if (a->alignment) text += " ||| " + align[k++];
          text += "\n";
        }
      }
      write_text_output(a->output, text);
      spdlog::info("translated {} lines in {:.1f} s ({:.1f} sentences/s, beam {})", lines.size(),
                   seconds, static_cast<double>(lines.size()) / std::max(seconds, 1e-9), d.beam);
      return 0;
    };
  });
}

void add_eval_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd =
      app.add_subcommand("eval", "Translate a test set and score it: BLEU and chrF (sacreBLEU)");
  add_decode_options(cmd, *a);
  cmd->add_option("--src", a->src, "source file")->required();
  cmd->add_option("--ref", a->ref, "reference translations, line N for source line N")->required();
  cmd->add_option("--hyp-out", a->hyp_out, "also write the translations here");
  cmd->add_option("--tokenize", a->tokenize, "BLEU tokenizer: 13a (default) or none")
      ->check(CLI::IsMember({"13a", "none"}));
  cmd->add_flag("--lowercase", a->lowercase, "lowercase both sides before scoring");
  cmd->add_flag("--json", a->json, "one JSON object instead of text");
  cmd->footer(R"(Examples:
  spotlight eval -c runs/multi30k_en_fr/checkpoints/best --src data/multi30k/tok/test_2016_flickr.en \
      --ref data/multi30k/tok/test_2016_flickr.fr --tokenize none --beam 5
  spotlight eval -c CKPT --src data/tatoeba/test.en --ref data/tatoeba/test.fr --json)");
  cmd->callback([a, &action] {
    action = [a] {
      if (a->threads > 0) set_threads(a->threads);
      const OpenCheckpoint ck = open_checkpoint(a->checkpoint);
      const DecodeConfig d = decode_config(ck.config, *a);
      const auto src = read_text_lines(a->src);
      const auto refs = read_text_lines(a->ref);
      require(src.size() == refs.size(), a->src + " has " + std::to_string(src.size()) +
                                             " lines but " + a->ref + " has " +
                                             std::to_string(refs.size()));
      TranslateReport report;
      double seconds = 0;
      const auto out = run_translation(ck, src, d, 1, report, seconds);
      std::vector<std::string> hyps;
      std::string text;
      for (const auto& t : out) {
        hyps.push_back(t.front().text);
        text += t.front().text + "\n";
      }
      if (!a->hyp_out.empty()) write_text_output(a->hyp_out, text);
      const BleuResult b = corpus_bleu(hyps, refs, BleuOptions{a->tokenize, a->lowercase});
      const ChrfResult c = corpus_chrf(hyps, refs, ChrfOptions{a->lowercase});
      nlohmann::json j = scores_json(b, c);
      j["decode"] = {{"beam", d.beam},
                     {"alpha", d.alpha},
                     {"patience", d.beam == 1 ? 1.0 : d.patience},  // greedy has none
                     {"batch_size", d.batch_size},
                     {"seconds", seconds},
                     {"sentences", src.size()},
                     {"sentences_per_s", static_cast<double>(src.size()) / seconds},
                     {"tgt_tokens_per_s", static_cast<double>(report.output_tokens) / seconds}};
      j["checkpoint"] = a->checkpoint;
      if (a->json) {
        write_text_output("-", j.dump() + "\n");
      } else {
        char buf[160];
        std::snprintf(buf, sizeof buf, "decoded %zu sentences in %.1f s (%.1f/s), beam %ld\n",
                      src.size(), seconds, static_cast<double>(src.size()) / seconds, d.beam);
        write_text_output("-", scores_text(b, c) + buf);
      }
      return 0;
    };
  });
}

}  // namespace spotlight
