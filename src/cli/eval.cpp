// spotlight eval — translate a test set and score it with BLEU and chrF, as sacreBLEU does.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/text_io.h"
#include "spotlight/check.h"
#include "spotlight/data/corpus.h"
#include "spotlight/decode/translator.h"
#include "spotlight/parallel.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {

using Clock = std::chrono::steady_clock;

struct EvalArgs : DecodeArgs {
  std::string src, ref, hyp_out, tokenize;  // tokenize "": the checkpoint's train.bleu_tokenize
  bool lowercase = false, json = false, split = false, no_split = false;
};

int run_eval(const CLI::App* cmd, EvalArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  check_decode_flags(cmd, a);
  check_output_path("--hyp-out", a.hyp_out);
  const auto src = read_text_lines(a.src);
  const auto refs = read_text_lines(a.ref);
  require(src.size() == refs.size(), a.src + " has " + std::to_string(src.size()) +
                                         " lines but " + a.ref + " has " +
                                         std::to_string(refs.size()));
  const OpenCheckpoint ck = open_checkpoint(a.checkpoint);
  const DecodeConfig d = decode_config(ck.config, a);
  apply_compute_type(ck, d.compute_type);
  const std::string tokenize = a.tokenize.empty() ? ck.config.train.bleu_tokenize : a.tokenize;
  TranslateOptions o;
  o.split = split_lines(ck.config, a.split, a.no_split);
  o.workers = a.workers;
  Translator tr(*ck.model, *ck.vocab, d, o);
  Progress progress(::isatty(STDERR_FILENO), static_cast<long>(src.size()));
  Warnings warnings(ck);
  const long chunk = std::max(1L, d.batch_size) * 16;
  std::vector<std::string> hyps;
  hyps.reserve(src.size());
  const auto t0 = Clock::now();
  for (size_t i = 0; i < src.size();) {
    while (i < src.size() && tr.queued_sentences() < chunk && tr.queued_lines() < 16 * chunk)
      tr.add(src[i++]);
    for (auto& t : tr.translate_queued()) hyps.push_back(std::move(t.front().text));
    warnings.after_batch(tr.report(), progress);
    progress.update(static_cast<long>(hyps.size()));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  progress.clear();
  const TranslateReport& r = tr.report();
  if (r.unknown_lines > 0)
    spdlog::info("{} of {} held pieces unknown to the vocabulary (first: line {})",
                 with_commas(r.unknown_lines), count(r.lines, "line"), r.first_unknown_line);
  if (!a.hyp_out.empty()) {
    std::string text;
    for (const auto& h : hyps) text += h + "\n";
    write_text_output(a.hyp_out, text);
  }
  const BleuResult b = corpus_bleu(hyps, refs, BleuOptions{tokenize, a.lowercase});
  const ChrfResult c = corpus_chrf(hyps, refs, ChrfOptions{a.lowercase});
  nlohmann::json j = scores_json(b, c);
  const double s = std::max(seconds, 1e-9);
  j["decode"] = {{"beam", d.beam},
                 {"alpha", d.alpha},
                 {"patience", d.beam == 1 ? 1.0 : d.patience},  // greedy has none
                 {"batch_size", d.batch_size},
                 {"split", o.split},
                 {"seconds", seconds},
                 {"sentences", src.size()},
                 {"sentences_per_s", static_cast<double>(src.size()) / s},
                 {"tgt_tokens_per_s", static_cast<double>(r.output_tokens) / s},
                 {"lines_with_unknown_pieces", r.unknown_lines}};
  j["checkpoint"] = a.checkpoint;
  if (a.json) {
    write_text_output("-", j.dump() + "\n");
  } else {
    char buf[160];
    std::snprintf(buf, sizeof buf, "decoded %zu sentences in %.1f s (%.1f/s), beam %ld\n",
                  src.size(), seconds, static_cast<double>(src.size()) / s, d.beam);
    write_text_output("-", scores_text(b, c) + buf);
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd =
      app.add_subcommand("eval", "Translate a test set and score it: BLEU and chrF (sacreBLEU)");
  add_decode_options(cmd, *a);
  add_workers_option(cmd, a->workers);
  cmd->add_option("--src", a->src, "source file")->required();
  cmd->add_option("--ref", a->ref, "reference translations, line N for source line N")->required();
  cmd->add_option("--hyp-out", a->hyp_out, "also write the translations here");
  cmd->add_option("--tokenize", a->tokenize,
                  "BLEU tokenizer: 13a or none (default: the checkpoint's train.bleu_tokenize, "
                  "the one its validation BLEU used)")
      ->check(CLI::IsMember({"13a", "none"}));
  cmd->add_flag("--lowercase", a->lowercase, "lowercase both sides before scoring");
  cmd->add_flag("--json", a->json, "one JSON object instead of text");
  add_split_options(cmd, a->split, a->no_split);
  cmd->footer(R"(Examples:
  spotlight eval -c runs/multi30k_en_fr/checkpoints/best --src data/multi30k/tok/test_2016_flickr.en \
      --ref data/multi30k/tok/test_2016_flickr.fr --beam 5
  spotlight eval -c CKPT --src data/tatoeba/test.en --ref data/tatoeba/test.fr --json

BLEU is tokenized as the checkpoint's validation was (train.bleu_tokenize: none for models of
pre-tokenized text, 13a otherwise) unless --tokenize is given; the signature printed says which.
Lines are cut into sentences as translate does (--split / --no-split). Progress shows on a
terminal; warnings name truncated lines and the first line holding unknown pieces.)");
  cmd->callback([a, cmd, &action] { action = [a, cmd] { return run_eval(cmd, *a); }; });
}

}  // namespace spotlight
