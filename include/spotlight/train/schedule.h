// schedule.h — the learning rate: linear warm-up to `peak` over `warmup` updates, then
//   inverse_sqrt (Vaswani et al.; fairseq's inverse_sqrt):
//     lr(step) = peak · min(step / warmup, sqrt(warmup / step))
//   cosine (to zero at `total` updates, for a run with a fixed budget of updates):
//     lr(step) = peak · ½ · (1 + cos(π · min(1, (step − warmup) / (total − warmup))))  after warm-up
// cooldown (train.lr_cooldown, with either decay): over the last `cooldown` updates before
// `total` the rate is further multiplied by (total − step) / cooldown, falling linearly to 0,
// the "warm-up, stable, decay" shape that lets the last updates settle.
// step ≥ 1 is the update about to be made; lr(0) = 0.
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>

#include "spotlight/config.h"

namespace spotlight {

enum class LrDecay { inverse_sqrt, cosine };

struct LrSchedule {
  double peak = 1e-3;
  long warmup = 4000;
  LrDecay decay = LrDecay::inverse_sqrt;
  long total = 0;  // cosine: the update at which the rate reaches 0 (train.max_steps)
  long cooldown = 0;  // updates before `total` over which the rate falls linearly to 0

  // The schedule a config's train section asks for (train.lr, warmup, lr_schedule, max_steps,
  // lr_cooldown).
  static LrSchedule from_config(const TrainConfig& t) {
    return {t.lr, t.warmup, t.lr_schedule == "cosine" ? LrDecay::cosine : LrDecay::inverse_sqrt,
            t.max_steps, t.lr_cooldown};
  }

  double lr(long step) const {
    const double base = decayed(step);
    if (cooldown <= 0 || step <= total - cooldown) return base;
    return base * static_cast<double>(std::max(total - step, 0L)) / static_cast<double>(cooldown);
  }

 private:
  double decayed(long step) const {
    if (step < 1) return 0.0;
    const double s = static_cast<double>(step), w = static_cast<double>(warmup);
    if (decay == LrDecay::inverse_sqrt)  // this exact expression: runs stay bit-reproducible
      return warmup > 0 ? peak * std::min(s / w, std::sqrt(w / s)) : peak;
    if (warmup > 0 && step < warmup) return peak * (s / w);
    const double span = static_cast<double>(std::max(total - warmup, 1L));
    const double done = std::min(1.0, (s - w) / span);
    return peak * 0.5 * (1.0 + std::cos(std::numbers::pi * done));
  }
};

}  // namespace spotlight
