// spotlight bleu — sacreBLEU-compatible corpus BLEU and chrF of a hypothesis file.
#include <memory>

#include "spotlight/check.h"
#include "spotlight/cli/commands.h"
#include "spotlight/cli/common.h"

namespace spotlight {

namespace {
struct BleuArgs {
  std::string ref, hyp, tokenize = "13a";
  bool lowercase = false, json = false;
};
}  // namespace

void add_bleu_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<BleuArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bleu", "Score a hypothesis file against references: corpus BLEU and chrF, as sacreBLEU");
  cmd->add_option("-r,--ref", a->ref, "reference file, one sentence a line")->required();
  cmd->add_option("--hyp", a->hyp, "hypothesis file (- for stdin), line N translating line N")
      ->required();
  cmd->add_option("--tokenize", a->tokenize, "BLEU tokenizer: 13a (default) or none")
      ->check(CLI::IsMember({"13a", "none"}));
  cmd->add_flag("--lowercase", a->lowercase,
                "lowercase both sides (sacreBLEU's -lc for BLEU "
                "and --chrf-lowercase)");
  cmd->add_flag("--json", a->json, "one JSON object instead of text");
  cmd->footer(R"(Examples:
  spotlight bleu --ref data/multi30k/raw/test_2016_flickr.fr --hyp out.fr
  spotlight bleu --ref data/multi30k/tok/test_2016_flickr.fr --hyp out.tok.fr --tokenize none --json

Scores equal sacreBLEU 2's defaults (BLEU: exp smoothing; chrF: 6 character orders, beta 2)
to two decimals; the signature lines say how they were computed.)");
  cmd->callback([a, &action] {
    action = [a] {
      const auto refs = read_text_lines(a->ref);
      const auto hyps = read_text_lines(a->hyp);
      require(refs.size() == hyps.size(), a->hyp + " has " + std::to_string(hyps.size()) +
                                              " lines but " + a->ref + " has " +
                                              std::to_string(refs.size()));
      const BleuResult b = corpus_bleu(hyps, refs, BleuOptions{a->tokenize, a->lowercase});
      const ChrfResult c = corpus_chrf(hyps, refs, ChrfOptions{a->lowercase});
      write_text_output("-", a->json ? scores_json(b, c).dump() + "\n" : scores_text(b, c));
      return 0;
    };
  });
}

}  // namespace spotlight
