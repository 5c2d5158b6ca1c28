// spotlight translate — translate text with a checkpoint (streaming I/O: text_io.h).
//
// translate streams: lines are read as they arrive (poll() and read() on the input with our own
// line buffer), queued until a batch is full or the input pauses, translated, and written in
// input order, each batch flushed at once. -o FILE is written under a temporary name and renamed
// at the end; Ctrl-C keeps what was done as FILE.partial.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/text_io.h"
#include "spotlight/check.h"
#include "spotlight/decode/search.h"
#include "spotlight/decode/translator.h"
#include "spotlight/parallel.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Output lines.

// One input line's output: its best translation ("text", "text ||| alignment"), or with n-best
// every translation as Moses writes them (alignment last, as Moses' -print-alignment-info-in-n-best):
//   index ||| text ||| F0= log_prob ||| score [||| alignment]
void append_output(std::string& out, long index, const std::vector<Translation>& ts, bool nbest,
                   bool alignment) {
  if (!nbest) {
    out += ts.front().text;
    if (alignment) out += " ||| " + ts.front().alignment;
    out += '\n';
    return;
  }
  for (const Translation& t : ts) {
    char scores[64];
    std::snprintf(scores, sizeof scores, " ||| F0= %g ||| %g", t.log_prob, t.score);
    out += std::to_string(index) + " ||| " + t.text + scores;
    if (alignment) out += " ||| " + t.alignment;
    out += '\n';
  }
}

struct TranslateArgs : DecodeArgs {
  std::string input = "-", output = "-";
  long nbest = 0;  // 0: not given (plain text)
  bool alignment = false, split = false, no_split = false;
  long alignment_layer = -1;  // -1: the last decoder layer
};

// Checks of the decoding settings against the model, before any work (usage errors).
void check_search(const DecodeConfig& d, long nbest) {
  require_usage(nbest <= d.beam, "--nbest " + std::to_string(nbest) +
                                     " needs a beam of at least that size (beam is " +
                                     std::to_string(d.beam) + "; set --beam)");
  require_usage(nbest <= stop_after(d.beam, d.patience),
                "--nbest " + std::to_string(nbest) +
                    " needs patience·beam of at least that (patience " +
                    std::to_string(d.patience) + ", beam " + std::to_string(d.beam) + ")");
}

int run_translate(const CLI::App* cmd, TranslateArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  // What can be checked without the model: flags, the output path, the input.
  check_decode_flags(cmd, a);
  check_output_path("-o", a.output);
  LineInput in(a.input);
  const OpenCheckpoint ck = open_checkpoint(a.checkpoint);
  const DecodeConfig d = decode_config(ck.config, a);
  apply_compute_type(ck, d.compute_type);
  const long nbest = std::max(1L, a.nbest);
  check_search(d, nbest);
  const long layers = ck.model->cfg.decoder_layers;
  const long layer = a.alignment_layer < 0 ? layers : a.alignment_layer;
  require_usage(layer <= layers, "--alignment-layer " + std::to_string(layer) + ": the model has " +
                                     std::to_string(layers) +
                                     " decoder layers (1…" + std::to_string(layers) +
                                     "; 0 averages them all)");
  TranslateOptions o;
  o.nbest = nbest;
  o.split = split_lines(ck.config, a.split, a.no_split);
  o.alignment_layer = a.alignment ? layer : -1;
  o.workers = a.workers;
  Translator tr(*ck.model, *ck.vocab, d, o);
  // A file is checked whole (UTF-8) and counted before any work; a stream as it arrives.
  const long total = in.regular() ? in.count_and_check() : -1;

  // The handler comes first: a signal at any moment after the temporary file exists finds it.
  install_interrupt_handler(a.output);
  Output out(a.output);
  const bool interactive = !in.regular() && a.input == "-" && ::isatty(STDIN_FILENO);
  Progress progress(::isatty(STDERR_FILENO) && !interactive, total);
  const bool clear_for_output = !out.to_file() && ::isatty(STDOUT_FILENO);
  Warnings warnings(ck);
  // The queue is translated when it holds `window` sentences or the input pauses. The first
  // window is one batch, so the first answers come soon; while the input keeps flowing it
  // doubles up to 16 batches (sorted by length inside, as fast as translating a file whole); a
  // pause starts again from one batch.
  const long batch = std::max(1L, d.batch_size);
  long window = batch;
  const auto t0 = Clock::now();
  long lines_done = 0;
  auto flush = [&] {
    if (tr.queued_lines() == 0) return;
    const auto results = tr.translate_queued();
    std::string text;
    for (const auto& ts : results) append_output(text, lines_done++, ts, a.nbest > 0, a.alignment);
    warnings.after_batch(tr.report(), progress);
    if (clear_for_output) progress.clear();
    out.write(text, lines_done);
    progress.update(lines_done);
  };
  std::string line;
  for (;;) {
    LineInput::Got got;
    try {
      got = in.next(line, tr.queued_lines() > 0 ? kPauseMs : -1);
    } catch (const Error& e) {
      // Bad input mid-stream: the lines before it are translated; say what was written.
      std::string what = e.what();
      if (out.to_file()) {
        what += "; " + a.output + " was not written";
      } else {
        flush();
        what += lines_done == 0 ? std::string("; nothing was written")
                                : "; the translations of the " + count(lines_done, "line") +
                                      " before it were written to standard output";
      }
      throw Error(what, e.where());
    }
    if (got == LineInput::Got::line) {
      tr.add(line);
      if (tr.queued_sentences() >= window || tr.queued_lines() >= 16 * window) {
        flush();
        window = std::min(2 * window, 16 * batch);
      }
    } else {
      flush();
      window = batch;
      if (got == LineInput::Got::end) break;
    }
  }
  out.commit();
  progress.clear();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const TranslateReport& r = tr.report();
  std::string unknown;
  if (r.unknown_lines > 0)
    unknown = "; " + with_commas(r.unknown_lines) + " of " + count(r.lines, "line") +
              " held pieces unknown to the vocabulary (first: line " +
              std::to_string(r.first_unknown_line) + ")";
  spdlog::info("translated {} ({}) in {:.1f} s ({:.1f} sentences/s, beam {}){}",
               count(r.lines, "line"), count(r.sentences, "sentence"), seconds,
               static_cast<double>(r.sentences) / std::max(seconds, 1e-9), d.beam, unknown);
  return 0;
}

}  // namespace

void add_translate_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<TranslateArgs>();
  CLI::App* cmd = app.add_subcommand("translate", "Translate text, one line in, one line out");
  add_decode_options(cmd, *a);
  add_workers_option(cmd, a->workers);
  cmd->add_option("-i,--input", a->input, "input file (default stdin)");
  cmd->add_option("-o,--output", a->output,
                  "output file (default stdout; written under a temporary name, renamed when "
                  "complete)");
  cmd->add_option("--nbest", a->nbest,
                  "print the N best translations of each line, Moses/Marian style: "
                  "index ||| text ||| F0= log-probability ||| score (see below)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--alignment", a->alignment,
                "append the word alignment from the cross-attention: text ||| 0-0 1-2 …");
  cmd->add_option("--alignment-layer", a->alignment_layer,
                  "decoder layer whose cross-attention (averaged over heads) aligns, 1…L; 0 "
                  "averages all layers (default: the last)")
      ->check(CLI::NonNegativeNumber);
  add_split_options(cmd, a->split, a->no_split);
  cmd->footer(R"(Examples:
  echo "A man is riding a bike." | spotlight translate --checkpoint runs/quickstart/checkpoints/best
  spotlight translate -c runs/multi30k_en_fr/checkpoints/best -i test.en -o test.fr --beam 5
  spotlight translate -c CKPT -i big.en -o big.fr --workers 2 --compute-type int8   # throughput
  spotlight translate -c CKPT -i test.en --nbest 3 --beam 5
  echo "a dog runs ." | spotlight translate -c CKPT --alignment    # un chien court . ||| 0-0 1-1 2-2 3-3
  tail -f requests.txt | spotlight translate -c CKPT               # answers as lines arrive

One line in, one line out, in order; an empty line gives an empty line. Input is translated as
it arrives: lines are queued until a batch is full (decode.batch_size sentences, --batch-size)
or the input pauses for a few milliseconds, then translated and written at once. While input
keeps flowing (a file, a busy pipe) the queue grows to 16 batches (sorted by length inside, for
speed). Lines longer than the model's positions are truncated with a warning naming the line;
a warning (once, with the count so far) names the first line holding pieces the vocabulary
does not know, and the closing line gives the final count. A file is checked (UTF-8) and
counted before any work; on a terminal, progress shows lines done, the rate and the time left.

Sentences: a line holding several sentences is cut with ICU's sentence rules and each is
translated apart, the translations joined with a space ("Mr." and "e.g." do not end a
sentence). On by default; off by default for a model trained on pre-tokenized text (its
train.bleu_tokenize is none: lowercased, tokenized lines are one sentence each), --split forces
it on, --no-split off.

--nbest N prints N lines per input line, as Moses and Marian do (--nbest 1 too):
  index ||| text ||| F0= -3.21045 ||| -0.80261
index is the 0-based input line, F0 the model's log-probability of the translation (its tokens
and EOS), the last field the score the search ranks by: F0 / (tokens + 1)^alpha. For a line cut
into sentences, entry k joins each sentence's k-th best and F0 and the score are sums over them.

--alignment appends " ||| " and the hard word alignment, Moses / fast_align style: "i-j" pairs,
i a source word and j a target word (0-based, words split at spaces as SentencePiece splits
them), one pair per target word: the source word its cross-attention weighs most (the
translation force-decoded once more, heads averaged, pieces summed per word). With --nbest the
alignment is the fifth field, last, as Moses writes it (Marian puts it after the text):
  index ||| text ||| F0= … ||| score ||| 0-0 1-1

-o FILE: FILE appears only when complete. On an error it is not written; on Ctrl-C or SIGTERM
the translations done so far are kept in FILE.partial (the message says how many lines).
Exit status: 0 done, 1 bad input or checkpoint, 2 bad flags (also an output path that cannot
be written), 130 / 143 Ctrl-C / SIGTERM.)");
  cmd->callback([a, cmd, &action] { action = [a, cmd] { return run_translate(cmd, *a); }; });
}

}  // namespace spotlight
