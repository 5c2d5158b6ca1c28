// gemm on views: every transpose combination, strided column blocks (as attention heads use),
// beta accumulation, and a shape mismatch reported as an error — all against a naive product.
#include "spotlight/blas.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "spotlight/check.h"
#include "support/grad_check.h"

using namespace spotlight;

namespace {
// gemm on strided blocks (every ld > cols) of every transpose against the naive product:
// op(A) m×k, op(B) k×n, C an m×n block of a larger c, with alpha and beta; c outside the
// block stays untouched.
void check_strided_gemm(long m, long k, long n, uint64_t seed) {
  Rng rng(seed);
  const long w = std::max(m, k) + 3, wb = std::max(k, n) + 3;
  Tensor a({w, w}), b({wb, wb}), c({m + 3, n + 5});
  testing::fill_uniform(a, rng);
  testing::fill_uniform(b, rng);
  testing::fill_uniform(c, rng);
  for (Op oa : {Op::N, Op::T})
    for (Op ob : {Op::N, Op::T}) {
      CAPTURE(static_cast<int>(oa));
      CAPTURE(static_cast<int>(ob));
      const MatView va = oa == Op::N ? a.view().block(1, 2, m, k) : a.view().block(1, 2, k, m);
      const MatView vb = ob == Op::N ? b.view().block(2, 1, k, n) : b.view().block(2, 1, n, k);
      const Tensor before = c;
      const MatView vc = c.view().block(2, 3, m, n);
      gemm(va, oa, vb, ob, vc, 0.5f, 2.0f);
      for (long i = 0; i < m; ++i)
        for (long j = 0; j < n; ++j) {
          double s = 0.0;
          for (long p = 0; p < k; ++p)
            s += (oa == Op::N ? va.at(i, p) : va.at(p, i)) *
                 (ob == Op::N ? vb.at(p, j) : vb.at(j, p));
          CHECK(vc.at(i, j) == doctest::Approx(0.5 * s + 2.0 * before.view().at(i + 2, j + 3)));
        }
      CHECK(c.view().at(0, 0) == before.view().at(0, 0));  // outside the block: untouched
      CHECK(c.view().at(2, n + 3) == before.view().at(2, n + 3));
    }
}
}  // namespace

TEST_CASE("gemm equals the naive product for all transposes, on strided views, with beta") {
  check_strided_gemm(3, 4, 5, 81);
  Tensor a({6, 10}), c({7, 9});
  CHECK_THROWS_WITH_AS(gemm(a.view(), Op::N, a.view(), Op::N, c.view()),
                       doctest::Contains("gemm: shape mismatch"), Error);
}

TEST_CASE("gemm with one row equals the naive product") {
  check_strided_gemm(1, 20, 30, 82);
}
