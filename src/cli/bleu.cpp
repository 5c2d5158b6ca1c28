// spotlight bleu — sacreBLEU-compatible corpus BLEU and chrF of a hypothesis file (or stdin)
// against one or several reference files.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "spotlight/check.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace spotlight {

namespace {
struct BleuArgs {
  std::vector<std::string> refs, positional_refs;
  std::string hyp = "-", tokenize = "13a";
  bool lowercase = false, json = false;
};
}  // namespace

void add_bleu_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<BleuArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bleu",
      "Score a hypothesis file (or stdin) against one or more references: corpus BLEU and chrF, "
      "as sacreBLEU");
  cmd->add_option("-r,--ref", a->refs,
                  "reference file(s), line N translating hypothesis line N; several references: "
                  "-r REF1 REF2 or -r REF1 -r REF2");
  cmd->add_option("refs", a->positional_refs,
                  "reference file(s) given without -r, as on sacreBLEU's command line");
  cmd->add_option("-i,--hyp,--input", a->hyp,
                  "hypothesis file, one sentence a line (default, or -: standard input)");
  cmd->add_option("--tokenize", a->tokenize, "BLEU tokenizer: 13a (default) or none")
      ->check(CLI::IsMember({"13a", "none"}));
  cmd->add_flag("--lowercase", a->lowercase,
                "lowercase both sides (sacreBLEU's -lc for BLEU "
                "and --chrf-lowercase)");
  cmd->add_flag("--json", a->json, "one JSON object instead of text");
  cmd->footer(R"(Examples:
  spotlight bleu -r data/multi30k/raw/test_2016_flickr.fr < out.fr
  spotlight bleu -r data/multi30k/raw/test_2016_flickr.fr --hyp out.fr --json
  spotlight bleu -r ref1.fr ref2.fr -i out.fr              # two references per sentence
  spotlight bleu -r data/multi30k/tok/test_2016_flickr.fr --hyp out.tok.fr --tokenize none
  spotlight translate -c runs/multi30k_en_fr -i test.en | spotlight bleu -r test.fr

Scores equal sacreBLEU 2's defaults (BLEU: exp smoothing; chrF: 6 character orders, beta 2),
also with several references (n-gram counts clipped by the maximum over the references, the
closest reference length; chrF against each sentence's best reference). The text lines follow
`sacrebleu -f text -w 2`, each score after its signature.)");
  cmd->callback([a, &action] {
    action = [a] {
      std::vector<std::string> files = a->refs;
      files.insert(files.end(), a->positional_refs.begin(), a->positional_refs.end());
      require_usage(!files.empty(),
                    "bleu: no reference file; give one with -r REF (several: -r REF1 REF2)");
      for (const auto& f : files) require_input_file(f, "--ref");
      if (a->hyp != "-") require_input_file(a->hyp, "--hyp");
      if (a->hyp == "-" && ::isatty(STDIN_FILENO))
        std::fputs(
            "spotlight bleu: reading the hypotheses from standard input (end with Ctrl-D); "
            "--hyp FILE reads a file\n",
            stderr);
      const std::vector<std::string> hyps = read_text_lines(a->hyp);
      const std::string hyp_name = a->hyp == "-" ? std::string("<stdin>") : a->hyp;
      ReferenceSets refs;
      for (const auto& f : files) {
        refs.push_back(read_text_lines(f));
        require(refs.back().size() == hyps.size(),
                hyp_name + " has " + std::to_string(hyps.size()) + " lines but " + f + " has " +
                    std::to_string(refs.back().size()) +
                    ": line N of each reference must "
                    "translate hypothesis line N");
      }
      const BleuResult b = corpus_bleu(hyps, refs, BleuOptions{a->tokenize, a->lowercase});
      const ChrfResult c = corpus_chrf(hyps, refs, ChrfOptions{a->lowercase});
      write_text_output("-", a->json ? scores_json(b, c).dump() + "\n" : scores_text(b, c));
      return 0;
    };
  });
}

}  // namespace spotlight
