// commands.h — the `spotlight` subcommands. Each add_* registers one subcommand (options,
// --help text with examples) on the app; its action runs when that subcommand is chosen and
// returns the process exit code. main() only wires these and catches errors.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace spotlight {

using CommandAction = std::function<int()>;

// spotlight train --config C.json [--resume] [--set key.path=value ...] [--threads N]
void add_train_command(CLI::App& app, CommandAction& action);
// spotlight prepare --config C.json [--set key.path=value ...] [--threads N] [--force]
void add_prepare_command(CLI::App& app, CommandAction& action);
// spotlight translate --checkpoint DIR [-i IN] [-o OUT] [--beam N | --greedy] [--nbest N]
void add_translate_command(CLI::App& app, CommandAction& action);
// spotlight eval --checkpoint DIR --src F --ref F [--beam N] [--json]
void add_eval_command(CLI::App& app, CommandAction& action);
// spotlight score --checkpoint DIR --src F --tgt F
void add_score_command(CLI::App& app, CommandAction& action);
// spotlight bleu --ref F --hyp F [--tokenize 13a|none] [--lowercase] [--json]
void add_bleu_command(CLI::App& app, CommandAction& action);
// spotlight average --out DIR CKPT...
void add_average_command(CLI::App& app, CommandAction& action);
// spotlight info --checkpoint DIR
void add_info_command(CLI::App& app, CommandAction& action);
// spotlight bench [--config C] [--checkpoint DIR] [--threads N] [--runs R] [--json]
void add_bench_command(CLI::App& app, CommandAction& action);
// spotlight attend --checkpoint DIR --src TEXT [--tgt TEXT] [-o view.html|map.svg] [--json]
void add_attend_command(CLI::App& app, CommandAction& action);
// spotlight plot --run DIR [--run DIR ...] [-o curves.svg|curves.html]
void add_plot_command(CLI::App& app, CommandAction& action);
// spotlight serve --checkpoint DIR [--host H] [--port P] [--threads N] [limits ...]
void add_serve_command(CLI::App& app, CommandAction& action);

}  // namespace spotlight
