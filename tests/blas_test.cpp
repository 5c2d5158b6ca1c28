// gemm on views: every transpose combination, strided column blocks (as attention heads use),
// beta accumulation, and a shape mismatch reported as an error — all against a naive product;
// and the line naming the BLAS in use.
#include "spotlight/blas.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "spotlight/check.h"
#include "spotlight/parallel.h"
#include "support/grad_check.h"
#include "support/near.h"

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
      // The naive product in double; the float32 one may round each of the k products and sums
      // in any order (every BLAS kernel blocks differently), so the bar is the standard bound
      // for a dot product, k·u·Σ|terms| (u = ε/2), with ε for u and two more steps for alpha and
      // beta: |c − ref| ≤ (k + 2)·ε·(0.5·Σ|a·b| + 2·|c₀|), whatever the kernel.
      for (long i = 0; i < m; ++i)
        for (long j = 0; j < n; ++j) {
          double s = 0.0, terms = 0.0;
          for (long p = 0; p < k; ++p) {
            const double x = (oa == Op::N ? va.at(i, p) : va.at(p, i)) *
                             static_cast<double>(ob == Op::N ? vb.at(p, j) : vb.at(j, p));
            s += x;
            terms += std::fabs(x);
          }
          const double c0 = before.view().at(i + 2, j + 3);
          const testing::Tol tol{0.0, testing::noise_atol(0.5 * terms + 2.0 * std::fabs(c0),
                                                          static_cast<double>(k + 2))};
          CHECK(testing::near(vc.at(i, j), 0.5 * s + 2.0 * c0, tol));
        }
      CHECK(c.view().at(0, 0) == before.view().at(0, 0));  // outside the block: untouched
      CHECK(c.view().at(2, n + 3) == before.view().at(2, n + 3));
    }
}
}  // namespace

TEST_SUITE_BEGIN("unit");

TEST_CASE("gemm equals the naive product for all transposes, on strided views, with beta") {
  check_strided_gemm(3, 4, 5, 81);
  Tensor a({6, 10}), c({7, 9});
  CHECK_THROWS_WITH_AS(gemm(a.view(), Op::N, a.view(), Op::N, c.view()),
                       doctest::Contains("gemm: shape mismatch"), Error);
}

TEST_CASE("gemm with one row equals the naive product") {
  check_strided_gemm(1, 20, 30, 82);
}

TEST_CASE("blas_description names the OpenBLAS version, core, threads and OPENBLAS_CORETYPE") {
  const std::string d = blas_description();
  MESSAGE(d);
  CHECK(d.starts_with("OpenBLAS 0."));
  CHECK(d.find(", core ") != std::string::npos);
  CHECK(d.find(", 1 OpenBLAS thread, ") != std::string::npos);  // gemm() keeps OpenBLAS at 1
  const std::string pool = "compute pool " + std::to_string(threads()) + " thread";
  CHECK(d.find(pool) != std::string::npos);
  // The environment is read, never set, here: the line reports whatever the run was given.
  const char* requested = std::getenv("OPENBLAS_CORETYPE");
  if (requested != nullptr)
    CHECK(d.find("OPENBLAS_CORETYPE=" + std::string(requested) + " (from the environment") !=
          std::string::npos);
  else
    CHECK(d.find("OPENBLAS_CORETYPE unset") != std::string::npos);
}

TEST_SUITE_END();
