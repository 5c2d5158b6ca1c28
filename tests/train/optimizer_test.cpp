// Adam, the inverse-square-root schedule and gradient clipping against hand-computed values.
#include "spotlight/train/optimizer.h"

#include <doctest/doctest.h>

#include <cmath>

#include "spotlight/check.h"
#include "spotlight/train/schedule.h"

using namespace spotlight;

TEST_SUITE_BEGIN("unit");

TEST_CASE("Adam's first steps equal the hand-computed update") {
  Param p("w", {2});
  p.value[0] = 1.0f;
  p.value[1] = -2.0f;
  Adam adam({&p}, AdamConfig{0.9, 0.98, 1e-9, 0.0});
  p.grad[0] = 0.5f;
  p.grad[1] = -4.0f;
  adam.step(0.1);  // bias-corrected m̂ = g, v̂ = g²: every entry moves by lr·sign(g)
  CHECK(p.value[0] == doctest::Approx(0.9));
  CHECK(p.value[1] == doctest::Approx(-1.9));
  p.grad[0] = -0.5f;
  p.grad[1] = 0.0f;
  adam.step(0.1);
  // m = 0.9·0.05 − 0.05 = −0.005, m̂ = m/0.19; v = 0.98·0.005 + 0.02·0.25 = 0.0099, v̂ = v/0.0396
  const double mh = -0.005 / 0.19, vh = 0.0099 / (1 - 0.98 * 0.98);
  CHECK(p.value[0] == doctest::Approx(0.9 - 0.1 * mh / std::sqrt(vh)));
  CHECK(adam.steps() == 2);
}

TEST_CASE("the moving average of the weights follows e = d_t·e + (1 − d_t)·p, warm-up included") {
  Param p("w", {2});
  p.value[0] = 1.0f;
  p.value[1] = -2.0f;
  WeightAverage ema({&p}, 0.5);
  CHECK(ema.decay_at(1) == doctest::Approx(2.0 / 11));  // min(0.5, (1 + t)/(10 + t))
  CHECK(ema.decay_at(100) == 0.5);
  p.value[0] = 3.0f;  // "update 1"
  ema.update(1);
  const double d1 = 2.0 / 11;
  const double e1 = d1 * 1.0 + (1 - d1) * 3.0;
  CHECK(ema.weights()[0][0] == doctest::Approx(e1));
  CHECK(ema.weights()[0][1] == doctest::Approx(-2.0));  // unchanged weights stay put
  p.value[0] = 5.0f;  // update 9: d = min(0.5, 10/19) = 0.5
  ema.update(9);
  const double e2 = 0.5 * e1 + 0.5 * 5.0;
  CHECK(ema.weights()[0][0] == doctest::Approx(e2));
  ema.swap();  // the average into the parameter, the live weights aside
  CHECK(p.value[0] == doctest::Approx(e2));
  CHECK(ema.weights()[0][0] == 5.0f);
  ema.swap();
  CHECK(p.value[0] == 5.0f);
}

TEST_CASE("decoupled weight decay shrinks weights by lr·wd") {
  Param p("w", {1});
  p.value[0] = 2.0f;
  Adam adam({&p}, AdamConfig{0.9, 0.98, 1e-9, 0.5});
  adam.step(0.1);  // g = 0: only the decay acts
  CHECK(p.value[0] == doctest::Approx(2.0 * (1 - 0.05)));
}

TEST_CASE("inverse-square-root schedule: linear warm-up, then 1/sqrt decay") {
  const LrSchedule s{1e-3, 400};
  CHECK(s.lr(0) == 0.0);
  CHECK(s.lr(100) == doctest::Approx(2.5e-4));
  CHECK(s.lr(400) == doctest::Approx(1e-3));
  CHECK(s.lr(1600) == doctest::Approx(5e-4));
}

TEST_CASE("cosine schedule: linear warm-up, then half a cosine to zero at the last update") {
  const LrSchedule s{1e-3, 400, LrDecay::cosine, 1400};
  CHECK(s.lr(0) == 0.0);
  CHECK(s.lr(100) == doctest::Approx(2.5e-4));
  CHECK(s.lr(400) == doctest::Approx(1e-3));
  CHECK(s.lr(900) == doctest::Approx(5e-4));                         // halfway: cos(π/2) = 0
  CHECK(s.lr(650) == doctest::Approx(1e-3 * 0.5 * (1 + std::sqrt(0.5))));  // a quarter: cos(π/4)
  CHECK(s.lr(1400) == doctest::Approx(0.0));
  CHECK(s.lr(2000) == doctest::Approx(0.0));  // beyond the budget it stays at zero
  // From a config's train section: the same schedule, and inverse_sqrt by default.
  TrainConfig t;
  t.lr = 1e-3;
  t.warmup = 400;
  t.max_steps = 1400;
  t.lr_schedule = "cosine";
  CHECK(LrSchedule::from_config(t).lr(650) == s.lr(650));
  t.lr_schedule = "inverse_sqrt";
  CHECK(LrSchedule::from_config(t).lr(1600) == doctest::Approx(5e-4));  // 1e-3 · sqrt(400/1600)
}

TEST_CASE("cooldown: the last updates fall linearly to zero, before them the schedule is unchanged") {
  TrainConfig t;
  t.lr = 1e-3;
  t.warmup = 400;
  t.max_steps = 2000;
  t.lr_cooldown = 400;
  const LrSchedule s = LrSchedule::from_config(t);
  const LrSchedule plain{1e-3, 400};
  for (long step : {1L, 100L, 400L, 1000L, 1600L})
    CHECK(s.lr(step) == plain.lr(step));  // bit for bit: runs without cooldown are unchanged
  CHECK(s.lr(1700) == doctest::Approx(plain.lr(1700) * 0.75));  // 300 of 400 left
  CHECK(s.lr(1800) == doctest::Approx(1e-3 * std::sqrt(400.0 / 1800) * 0.5));
  CHECK(s.lr(1999) == doctest::Approx(plain.lr(1999) / 400));
  CHECK(s.lr(2000) == 0.0);
  CHECK(s.lr(2100) == 0.0);
  // With cosine too, and the config rejects a cooldown without max_steps or longer than it.
  t.lr_schedule = "cosine";
  const LrSchedule c = LrSchedule::from_config(t);
  CHECK(c.lr(1800) == doctest::Approx(LrSchedule{1e-3, 400, LrDecay::cosine, 2000}.lr(1800) * 0.5));
  using nlohmann::json;
  CHECK_THROWS_WITH_AS(Config::from_json(json{{"train", {{"lr_cooldown", 100}}}}),
                       doctest::Contains("train.lr_cooldown: needs train.max_steps"), Error);
  CHECK_THROWS_WITH_AS(
      Config::from_json(json{{"train", {{"lr_cooldown", 3000}, {"max_steps", 2000}}}}),
      doctest::Contains("train.lr_cooldown"), Error);
}

TEST_CASE("gradient clipping scales the global norm down to the limit") {
  Param a("a", {2}), b("b", {1});
  a.grad[0] = 3.0f;
  a.grad[1] = 0.0f;
  b.grad[0] = 4.0f;
  CHECK(clip_grad_norm({&a, &b}, 10.0) == doctest::Approx(5.0));
  CHECK(a.grad[0] == 3.0f);  // below the limit: untouched
  CHECK(clip_grad_norm({&a, &b}, 1.0) == doctest::Approx(5.0));
  CHECK(grad_norm({&a, &b}) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(b.grad[0] == doctest::Approx(0.8).epsilon(1e-5));
}

TEST_SUITE_END();
