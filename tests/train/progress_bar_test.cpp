// The training progress bar fits the terminal: never longer than its width − 1 columns, the bar
// narrowing and the least useful fields going first on a narrow terminal.
#include <doctest/doctest.h>

#include <string>

#include "spotlight/train/progress.h"

using namespace spotlight;

TEST_SUITE_BEGIN("unit");

TEST_CASE("progress bar: every width from 1 to 200 columns fits, the wide one is whole") {
  for (int width = 1; width <= 200; ++width) {
    CAPTURE(width);
    for (double f : {0.0, 0.3, 1.0}) {
      const std::string line = progress_bar_text(width, f, 123456, 12, "1h02m", "12m30s");
      CHECK(static_cast<int>(line.size()) <= std::max(width - 1, 0));
      if (width >= 6) CHECK(line.find('%') != std::string::npos);  // the percentage stays longest
    }
  }
  const std::string wide = progress_bar_text(200, 0.3, 300, 2, "1m02s", "2m25s");
  CHECK(wide ==
        "[=========                     ]  30% step 300 epoch 2 | elapsed 1m02s | ETA 2m25s");
  CHECK(progress_bar_text(200, 1.0, 1, 1, "1s", "0s")
            .rfind("[" + std::string(30, '=') + "] 100%", 0) == 0);
}

TEST_CASE("progress bar: on narrower terminals the bar narrows, then fields go in order") {
  const auto line = [](int width) {
    return progress_bar_text(width, 0.5, 300, 2, "1m02s", "2m25s");
  };
  const auto bar = [](size_t filled, size_t empty) {
    return "[" + std::string(filled, '=') + std::string(empty, ' ') + "] ";
  };
  const std::string all = " 50% step 300 epoch 2 | elapsed 1m02s | ETA 2m25s";  // 49 columns
  // 100 columns: the full 30-column bar. 80: 79 usable, 49 + 3 for the fields: a 27-column bar.
  CHECK(line(100) == bar(15, 15) + all);
  CHECK(line(80) == bar(13, 14) + all);
  CHECK(line(63) == bar(5, 5) + all);  // 62 = 49 + 3 + 10 columns: the narrowest bar
  // Narrower: elapsed goes first, then the epoch, then the step; the ETA stays.
  CHECK(line(62) == bar(12, 13) + " 50% step 300 epoch 2 | ETA 2m25s");
  CHECK(line(45) == bar(8, 8) + " 50% step 300 | ETA 2m25s");
  CHECK(line(30) == bar(5, 5) + " 50% | ETA 2m25s");
  // No room for a 10-column bar: the most fields that fit alone, then the percentage, then cut.
  CHECK(line(29) == " 50% step 300 | ETA 2m25s");
  CHECK(line(26) == " 50% step 300 | ETA 2m25s");
  CHECK(line(25) == " 50% | ETA 2m25s");
  CHECK(line(17) == " 50% | ETA 2m25s");
  CHECK(line(16) == " 50%");
  CHECK(line(3) == " 5");
  CHECK(line(1).empty());
  CHECK(line(0).empty());
}

TEST_SUITE_END();
