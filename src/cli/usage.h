// usage.h — one-line messages for command-line mistakes, with a suggestion where one is close:
// "unknown command 'translat'; did you mean 'translate'?". main prints them and exits with 2.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace spotlight {

// The candidate nearest to `word` by edit distance, if it is near enough to be a typo (at most
// a third of the word's length, and at most 3 edits); else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// The message for a parse error of `app` on argv (not for --help/--version, which are not
// errors): names the command, the mistake and the fix.
std::string usage_error_message(CLI::App& app, const CLI::ParseError& e,
                                const std::vector<std::string>& args);

}  // namespace spotlight
