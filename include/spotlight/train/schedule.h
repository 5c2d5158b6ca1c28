// schedule.h — the learning rate: linear warm-up to `peak` over `warmup` updates, then
// inverse-square-root decay (Vaswani et al.; fairseq's inverse_sqrt):
//   lr(step) = peak · min(step / warmup, sqrt(warmup / step)),  step ≥ 1.
#pragma once

#include <algorithm>
#include <cmath>

namespace spotlight {

struct InverseSqrtSchedule {
  double peak = 1e-3;
  long warmup = 4000;

  double lr(long step) const {
    if (step < 1) return 0.0;
    if (warmup <= 0) return peak;
    const double s = static_cast<double>(step), w = static_cast<double>(warmup);
    return peak * std::min(s / w, std::sqrt(w / s));
  }
};

}  // namespace spotlight
