// main.cpp — wires the `spotlight` subcommands (CLI11). Only main catches errors and exits.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "spotlight/blas.h"
#include "spotlight/check.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "cli/usage.h"

int main(int argc, char** argv) {
  // Before any other thread starts: SIGINT and SIGTERM go to one thread that never computes.
  spotlight::route_stop_signals();
  CLI::App app{"spotlight — an encoder–decoder Transformer for machine translation"};
  app.set_version_flag("--version", "spotlight " SPOTLIGHT_VERSION);  // project()'s, CMakeLists.txt
  app.require_subcommand(1);
  app.footer("Run `spotlight COMMAND --help` for a command's options and examples.");
  // Messages go to stderr (results to stdout); training adds its own logger with a log file.
  spdlog::set_default_logger(spdlog::stderr_color_mt("spotlight"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$: %v");
  // A file-size limit (`ulimit -f`) makes a write fail with EFBIG, reported like a full disk,
  // instead of killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  spotlight::CommandAction action;
  spotlight::add_train_command(app, action);
  spotlight::add_prepare_command(app, action);
  spotlight::add_translate_command(app, action);
  spotlight::add_eval_command(app, action);
  spotlight::add_score_command(app, action);
  spotlight::add_bleu_command(app, action);
  spotlight::add_average_command(app, action);
  spotlight::add_info_command(app, action);
  spotlight::add_bench_command(app, action);
  spotlight::add_attend_command(app, action);
  spotlight::add_plot_command(app, action);
  spotlight::add_serve_command(app, action);
  try {
    app.parse(argc, argv);
    // The GEMM library: --gemm's, else SPOTLIGHT_GEMM's (an invalid value is a usage error
    // before any work), else the build's default.
    spotlight::gemm_backend();
    return action ? action() : 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A usage mistake: one line naming it and the fix, exit status 2 (as getopt tools do).
    std::fprintf(stderr, "error: %s\n",
                 spotlight::usage_error_message(app, e, std::vector<std::string>(argv + 1, argv + argc))
                     .c_str());
    return 2;
  } catch (const spotlight::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    if (const char* debug = std::getenv("SPOTLIGHT_DEBUG"); debug && *debug == '1')
      std::fprintf(stderr, "  (thrown at %s)\n", e.where().c_str());
    return dynamic_cast<const spotlight::UsageError*>(&e) != nullptr ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
