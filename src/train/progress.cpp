#include "spotlight/train/progress.h"

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace spotlight {

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

std::string duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

int terminal_columns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

std::string progress_bar_text(int width, double fraction, long step, long epoch,
                              const std::string& elapsed, const std::string& eta) {
  const size_t room = static_cast<size_t>(std::max(width, 1) - 1);  // the last column stays free
  fraction = std::clamp(fraction, 0.0, 1.0);
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3.0f%%", 100 * fraction);
  const std::string step_s = "step " + std::to_string(step),
                    epoch_s = "epoch " + std::to_string(epoch);
  // Fields from the most to the least complete line; the least useful go first.
  const std::vector<std::string> lines = {
      std::string(pct) + " " + step_s + " " + epoch_s + " | elapsed " + elapsed + " | ETA " + eta,
      std::string(pct) + " " + step_s + " " + epoch_s + " | ETA " + eta,
      std::string(pct) + " " + step_s + " | ETA " + eta, std::string(pct) + " | ETA " + eta,
      std::string(pct)};
  constexpr size_t kBarMax = 30, kBarMin = 10;
  for (size_t k = 0; k + 1 < lines.size(); ++k) {  // with a bar of 10..30 columns
    const std::string& text = lines[k];
    if (text.size() + kBarMin + 3 > room) continue;
    const size_t bar = std::min(kBarMax, room - text.size() - 3);
    const auto filled = static_cast<size_t>(fraction * static_cast<double>(bar));
    return "[" + std::string(filled, '=') + std::string(bar - filled, ' ') + "] " + text;
  }
  for (const std::string& text : lines)  // without a bar
    if (text.size() <= room) return text;
  return std::string(pct).substr(0, room);
}

}  // namespace spotlight
