// progress.h — what a long run shows while it works: the live progress line on a terminal,
// durations as people read them, and the process's peak memory.
#pragma once

#include <string>

namespace spotlight {

// The peak resident memory of this process so far, in MB (getrusage).
double peak_rss_mb();

// Seconds as "42s", "3m07s" or "2h05m".
std::string duration(double seconds);

// The live progress line drawn on a terminal `width` columns wide, e.g.
//   "[=========                     ]  30% step 300 epoch 2 | elapsed 1m02s | ETA 2m25s"
// never longer than width − 1 (so the terminal does not wrap it): on a narrower terminal the bar
// narrows (30 to 10 columns) and fields go (elapsed, epoch, step); then the bar goes, then the
// ETA, and last the percentage is cut.
std::string progress_bar_text(int width, double fraction, long step, long epoch,
                              const std::string& elapsed, const std::string& eta);
// The width of the terminal on stderr (TIOCGWINSZ), or 0 when stderr is not a terminal.
int terminal_columns();

}  // namespace spotlight
