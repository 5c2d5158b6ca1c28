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

}  // namespace spotlight
