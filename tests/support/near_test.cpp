// The suite's comparison rule (support/near.h) rejects what it must: a relative error beyond rtol
// on a large value, a difference beyond atol near zero, NaN, and a value that should be zero in
// exact arithmetic but is not; and it accepts what rounding explains, including two computations
// of an exact zero that a relative error calls 20% apart. The reporting helpers fail the test
// case they run in (the cases marked should_fail show each one failing alone).
#include "support/near.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace spotlight;
using namespace spotlight::testing;

TEST_SUITE_BEGIN("unit");

TEST_CASE("near: the mixed rule, with rtol relative to the reference and atol near zero") {
  const Tol t{1e-4, 1e-8};
  CHECK(near(1000.05, 1000.0, t));   // 5e-5 relative: within rtol
  CHECK(!near(1001.0, 1000.0, t));   // 1e-3 relative on a large value: beyond rtol 1e-4
  CHECK(!near(-1001.0, -1000.0, t));
  CHECK(near(5e-9, 0.0, t));         // near zero only atol acts
  CHECK(!near(2e-8, 0.0, t));
  CHECK(near(3.0 + 2.9e-4, 3.0, t));  // both parts add: 1e-8 + 3e-4 here
  CHECK(!near(3.0 + 3.1e-4, 3.0, t));
  // The bar scales with the reference b, not with a: the rule is not symmetric.
  CHECK(near(0.0, 1.0, {1.0, 0.0}));
  CHECK(!near(1.0, 0.0, {1.0, 0.0}));
  // Equal infinities match; NaN never does, not even with itself.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  CHECK(near(-inf, -inf, t));
  CHECK(!near(inf, 1e308, {1.0, 1.0}));
  CHECK(!near(nan, nan, {1.0, 1.0}));
  CHECK(!near(nan, 0.0, {1.0, 1.0}));
  CHECK(excess(nan, 0.0, t) == inf);
  CHECK(excess(1.0, 1.0, {0.0, 0.0}) == 0.0);
  CHECK(excess(1e-30, 0.0, {0.0, 0.0}) == inf);  // a zero bar admits only equality
  CHECK(excess(1000.1, 1000.0, {1e-4, 0.0}) == doctest::Approx(1.0));
}

TEST_CASE("noise_atol and scaled_tol take atol from the operands' scale") {
  CHECK(kFloatEps == std::ldexp(1.0, -23));
  CHECK(noise_atol(2.0, 8) == 16 * kFloatEps);
  Tensor ref({2, 2});
  ref[0] = 0.5f;
  ref[1] = -4.0f;  // the largest magnitude sets the scale
  ref[2] = 1e-9f;
  const Tol t = scaled_tol(ref, 1e-5, 32);
  CHECK(t.rtol == 1e-5);
  CHECK(t.atol == 32 * kFloatEps * 4.0);
  // The small entries of the tensor are held to its rounding, not to their own size: 1e-9 and
  // 2e-7 are both noise next to an entry of 4 (the relative error, 200, says nothing).
  CHECK(near(2e-7, 1e-9, t));
  CHECK(!near(2e-4, 1e-9, t));
}

TEST_CASE("a quantity zero in exact arithmetic is checked absolutely, never relatively") {
  // Two computations of one key-bias gradient (zero in exact arithmetic) with OpenBLAS's Haswell
  // kernels, next to the key weight's gradient scale: 20% apart by a relative error, yet both
  // rounding noise, ~0.1 ε of that scale.
  const double whole = 5.057e-10, chunked = 6.248e-10, weight_scale = 6.645e-3;
  const double atol = noise_atol(weight_scale, 64);
  CHECK(std::fabs(chunked - whole) / std::fabs(whole) > 0.2);  // noise over noise
  CHECK(near(whole, 0.0, {0.0, atol}));
  CHECK(near(chunked, 0.0, {0.0, atol}));
  // A value of 1e-3 where exact arithmetic gives 0 fails the zero rule at any sensible scale.
  CHECK(!near(1e-3, 0.0, {0.0, atol}));
  CHECK(!near(1e-3, 0.0, {0.0, noise_atol(1.0, 64)}));
}

TEST_CASE("compare counts the entries beyond the bar and reports the worst") {
  const float a[] = {1.0f, 2.0f, 3.003f, -4.0f, 0.0f};
  const float b[] = {1.0f, 2.0001f, 3.0f, -4.0f, 1e-9f};
  const Comparison c = compare(a, b, 5, Tol{1e-4, 1e-8});
  CHECK(c.n == 5);
  CHECK(c.failures == 1);  // 3.003 against 3: 1e-3 relative
  CHECK(c.worst == 2);
  CHECK(c.a == doctest::Approx(3.003));
  CHECK(c.worst_excess > 3.0);
  CHECK(!c.ok());
  CHECK(c.describe().find("worst at 2") != std::string::npos);
  CHECK(compare(a, a, 5, Tol{}).ok());  // equal arrays match even with a zero bar
}

TEST_CASE("expect_near and expect_zero pass silently within their bars") {
  Tensor a({3}), b({3});
  a[0] = b[0] = 1.0f;
  a[1] = 2.0f + 1e-6f;
  b[1] = 2.0f;
  a[2] = 1e-12f;
  CHECK(expect_near("within", a, b, scaled_tol(b, 1e-5, 16)));
  CHECK(expect_zero("noise", 1e-9, noise_atol(1.0, 64)));
  CHECK(expect_near("scalar", 3.0, 3.0 + 1e-7, {1e-6, 0.0}));
}

TEST_CASE("expect_near fails on a relative error of 1e-3 at rtol 1e-4" * doctest::should_fail()) {
  Tensor a({2}), b({2});
  a[0] = b[0] = 1.0f;
  a[1] = 1001.0f;
  b[1] = 1000.0f;
  expect_near("large value", a, b, {1e-4, 0.0});
}

TEST_CASE("expect_zero fails on 1e-3 where exact arithmetic gives 0" * doctest::should_fail()) {
  expect_zero("zero in exact arithmetic", 1e-3, noise_atol(1.0, 64));
}

TEST_CASE("expect_near fails on NaN" * doctest::should_fail()) {
  expect_near("nan", std::nan(""), 0.0, {1.0, 1.0});
}

TEST_CASE("expect_near fails on tensors of different sizes" * doctest::should_fail()) {
  expect_near("sizes", Tensor({2}), Tensor({3}), {1.0, 1.0});
}

TEST_SUITE_END();
