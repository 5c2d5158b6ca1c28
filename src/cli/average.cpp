// spotlight average — averages checkpoints' weights (e.g. the last few of a run).
#include <memory>

#include "cli/commands.h"
#include "spotlight/train/checkpoint.h"

namespace spotlight {

namespace {
struct AverageArgs {
  std::string out;
  std::vector<std::string> inputs;
};
}  // namespace

void add_average_command(CLI::App& app, CommandAction& action) {
  auto a = std::make_shared<AverageArgs>();
  CLI::App* cmd = app.add_subcommand(
      "average", "Average the weights of checkpoints of one model into a new checkpoint");
  cmd->add_option("-o,--out", a->out, "output checkpoint directory (written atomically)")
      ->required();
  cmd->add_option("checkpoints", a->inputs, "checkpoint directories to average")
      ->required()
      ->expected(1, -1);
  cmd->footer(R"(Examples:
  spotlight average --out runs/m30k/checkpoints/avg runs/m30k/checkpoints/step_*
  spotlight translate --checkpoint runs/m30k/checkpoints/avg < input.en

The output holds the averaged weights with the first checkpoint's config and vocabulary; it can
translate but not resume training.)");
  cmd->callback([a, &action] {
    action = [a] {
      average_checkpoints(a->inputs, a->out);
      std::fprintf(stderr, "averaged %zu checkpoints into %s\n", a->inputs.size(), a->out.c_str());
      return 0;
    };
  });
}

}  // namespace spotlight
