// gemm on views: every transpose combination, strided column blocks (as attention heads use),
// beta accumulation, and a shape mismatch reported as an error — all against a naive product.
#include "spotlight/blas.h"

#include <doctest/doctest.h>

#include "spotlight/check.h"
#include "support/grad_check.h"

using namespace spotlight;

TEST_CASE("gemm equals the naive product for all transposes, on strided views, with beta") {
  Rng rng(81);
  Tensor a({6, 10}), b({10, 8}), c({7, 9});
  testing::fill_uniform(a, rng);
  testing::fill_uniform(b, rng);
  testing::fill_uniform(c, rng);
  for (Op oa : {Op::N, Op::T})
    for (Op ob : {Op::N, Op::T}) {
      // op(A) is a 3x4 block, op(B) a 4x5 block, C a 3x5 block of c: all with ld > cols.
      const MatView va = oa == Op::N ? a.view().block(1, 2, 3, 4) : a.view().block(1, 2, 4, 3);
      const MatView vb = ob == Op::N ? b.view().block(2, 1, 4, 5) : b.view().block(2, 1, 5, 4);
      Tensor before = c;
      const MatView vc = c.view().block(2, 3, 3, 5);
      gemm(va, oa, vb, ob, vc, 0.5f, 2.0f);
      for (long i = 0; i < 3; ++i)
        for (long j = 0; j < 5; ++j) {
          double s = 0.0;
          for (long k = 0; k < 4; ++k)
            s += (oa == Op::N ? va.at(i, k) : va.at(k, i)) *
                 (ob == Op::N ? vb.at(k, j) : vb.at(j, k));
          CHECK(vc.at(i, j) == doctest::Approx(0.5 * s + 2.0 * before.view().at(i + 2, j + 3)));
        }
      CHECK(c.view().at(0, 0) == before.view().at(0, 0));  // outside the block: untouched
      CHECK(c.view().at(2, 8) == before.view().at(2, 8));
    }
  CHECK_THROWS_WITH_AS(gemm(a.view(), Op::N, a.view(), Op::N, c.view()),
                       doctest::Contains("gemm: shape mismatch"), Error);
}

TEST_CASE("gemm with one row (the decoding fast path) equals the naive product") {
  Rng rng(82);
  Tensor a({3, 40}), b({40, 50}), c({2, 60});
  testing::fill_uniform(a, rng);
  testing::fill_uniform(b, rng);
  testing::fill_uniform(c, rng);
  for (Op oa : {Op::N, Op::T})
    for (Op ob : {Op::N, Op::T}) {
      // op(A) is 1×20 (a row, or a strided column), op(B) 20×30, C a 1×30 block.
      const MatView va = oa == Op::N ? a.view().block(1, 3, 1, 20) : a.view().block(0, 5, 20, 1);
      const MatView vb = ob == Op::N ? b.view().block(4, 2, 20, 30) : b.view().block(2, 4, 30, 20);
      const Tensor before = c;
      const MatView vc = c.view().block(1, 7, 1, 30);
      gemm(va, oa, vb, ob, vc, 0.5f, 2.0f);
      for (long j = 0; j < 30; ++j) {
        double s = 0.0;
        for (long p = 0; p < 20; ++p)
          s += (oa == Op::N ? va.at(0, p) : va.at(p, 0)) * (ob == Op::N ? vb.at(p, j) : vb.at(j, p));
        CHECK(vc.at(0, j) == doctest::Approx(0.5 * s + 2.0 * before.view().at(1, j + 7)));
      }
      CHECK(c.view().at(1, 6) == before.view().at(1, 6));  // outside the block: untouched
      CHECK(c.view().at(0, 7) == before.view().at(0, 7));
    }
}
