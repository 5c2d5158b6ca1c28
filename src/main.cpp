// main.cpp — wires the `spotlight` subcommands (CLI11). Only main catches errors and exits.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "spotlight/check.h"

int main(int argc, char** argv) {
  CLI::App app{"spotlight — an encoder–decoder Transformer for machine translation"};
  app.set_version_flag("--version", "spotlight 0.1.0");
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (app.get_subcommands().empty()) {
      std::fputs(app.help().c_str(), stdout);
      return 0;
    }
  } catch (const spotlight::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
