#include "cli/usage.h"

#include <algorithm>
#include <cstdio>
#include <regex>

namespace spotlight {

namespace {
// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring letters ("tarin" is one edit from "train").
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// Every long and short flag of a command: "--beam", "-c", ...
std::vector<std::string> flags_of(const CLI::App& cmd) {
  std::vector<std::string> out;
  for (const CLI::Option* o : cmd.get_options()) {
    for (const std::string& n : o->get_lnames()) out.push_back("--" + n);
    for (const std::string& n : o->get_snames()) out.push_back("-" + n);
  }
  return out;
}
// CLI11's range message, "Value 0 not in range 0.000000 to 1797…(309 digits)", said plainly.
std::string plain_range_message(const std::string& msg) {
  static const std::regex range(R"(Value (\S+) not in range (\S+) to (\S+))");
  std::smatch m;
  if (!std::regex_search(msg, m, range)) return msg;
  const double lo = std::stod(m[2].str()), hi = std::stod(m[3].str());
  char text[160];
  // CLI11 words PositiveNumber and NonNegativeNumber alike; the value tells which was broken.
  if (hi > 1e300 && lo == 0.0)
    std::snprintf(text, sizeof text, "expected a number %s, got %s",
                  std::stod(m[1].str()) == 0.0 ? "above 0" : "of at least 0", m[1].str().c_str());
  else if (hi > 1e300)
    std::snprintf(text, sizeof text, "expected at least %g, got %s", lo, m[1].str().c_str());
  else
    std::snprintf(text, sizeof text, "expected a value in [%g, %g], got %s", lo, hi,
                  m[1].str().c_str());
  return m.prefix().str() + text + m.suffix().str();
}
}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::min<size_t>(3, std::max<size_t>(1, word.size() / 3)) + 1;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::string usage_error_message(CLI::App& app, const CLI::ParseError& e,
                                const std::vector<std::string>& args) {
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  // The command is the first word that is not a flag; an unknown one is the mistake to name.
  CLI::App* cmd = nullptr;
  for (const std::string& a : args) {
    if (a.empty() || a[0] == '-') continue;
    if (std::find(commands.begin(), commands.end(), a) == commands.end()) {
      const std::string near = closest_match(a, commands);
      return "unknown command '" + a + "'; " +
             (near.empty() ? "the commands are:" : "did you mean '" + near + "'? Commands:") +
             [&] {
               std::string list;
               for (const std::string& c : commands) list += " " + c;
               return list;
             }() +
             " (spotlight --help)";
    }
    cmd = app.get_subcommand(a);
    break;
  }
  if (cmd == nullptr) return "no command given; try 'spotlight --help' (e.g. spotlight translate --help)";
  const std::string name = "spotlight " + cmd->get_name();
  const std::string help = " (see '" + name + " --help')";
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    // The first argument the command did not expect: an unknown flag, or a stray word.
    std::vector<std::string> extras = cmd->remaining();
    for (const std::string& x : app.remaining()) extras.push_back(x);
    for (const std::string& extra : extras) {
      if (extra.size() > 1 && extra[0] == '-') {
        const std::string flag = extra.substr(0, extra.find('='));
        const std::string near = closest_match(flag, flags_of(*cmd));
        return name + ": unknown option '" + flag + "'" +
               (near.empty() ? "" : "; did you mean '" + near + "'?") + help;
      }
      return name + ": unexpected argument '" + extra + "'" + help;
    }
  }
  return name + ": " + plain_range_message(e.what()) + help;
}

}  // namespace spotlight
