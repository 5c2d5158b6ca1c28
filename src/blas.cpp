#include "spotlight/blas.h"

#include <cblas.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "spotlight/check.h"
#include "spotlight/parallel.h"

namespace spotlight {

namespace {
// OpenBLAS runs single-threaded inside each call: the products are split over the one compute
// pool (parallel.h) instead, so its own threads never spin beside ours. Done once, before the
// first product (and before blas_description() reports the count).
void single_threaded_blas() {
  static const bool single = (openblas_set_num_threads(1), true);
  (void)single;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}
}  // namespace

std::string blas_description() {
  single_threaded_blas();
  // openblas_get_config(): "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... Haswell MAX_THREADS=64".
  const std::string config = openblas_get_config();
  const size_t version_end = config.find(' ', config.find(' ') + 1);
  const std::string core = openblas_get_corename();
  const int blas_threads = openblas_get_num_threads();
  std::string s = config.substr(0, version_end) + ", core " + core + ", " +
                  std::to_string(blas_threads) + " OpenBLAS thread" +
                  (blas_threads == 1 ? "" : "s") + ", compute pool " +
                  std::to_string(threads()) + " thread" + (threads() == 1 ? "" : "s");
  const char* requested = std::getenv("OPENBLAS_CORETYPE");
  if (requested == nullptr) {
    s += ", OPENBLAS_CORETYPE unset (OpenBLAS chose the core)";
  } else {
    s += ", OPENBLAS_CORETYPE=" + std::string(requested) + " (from the environment";
    // An unknown name, or a build without DYNAMIC_ARCH, falls back silently: say so.
    if (lower(requested) != lower(core)) s += "; not honoured, core " + core + " in use";
    s += ")";
  }
  return s;
}

void gemm(const MatView& a, Op op_a, const MatView& b, Op op_b, const MatView& c, float alpha,
          float beta) {
  const long m = op_a == Op::N ? a.rows : a.cols;
  const long k = op_a == Op::N ? a.cols : a.rows;
  const long kb = op_b == Op::N ? b.rows : b.cols;
  const long n = op_b == Op::N ? b.cols : b.rows;
  require(k == kb && c.rows == m && c.cols == n, [&] {
    return "gemm: shape mismatch: op(a) is " + std::to_string(m) + "x" + std::to_string(k) +
           ", op(b) is " + std::to_string(kb) + "x" + std::to_string(n) + ", c is " +
           std::to_string(c.rows) + "x" + std::to_string(c.cols);
  });
  if (m == 0 || n == 0) return;
  if (k == 0) {  // empty sum: c = beta · c
    for (long i = 0; i < m; ++i)
      for (long j = 0; j < n; ++j) c.at(i, j) = beta == 0.0f ? 0.0f : beta * c.at(i, j);
    return;
  }
  single_threaded_blas();
  auto call = [&](const MatView& ac, const MatView& bc, const MatView& cc) {
    cblas_sgemm(CblasRowMajor, op_a == Op::N ? CblasNoTrans : CblasTrans,
                op_b == Op::N ? CblasNoTrans : CblasTrans, static_cast<int>(cc.rows),
                static_cast<int>(cc.cols), static_cast<int>(k), alpha, ac.data,
                static_cast<int>(ac.ld), bc.data, static_cast<int>(bc.ld), beta, cc.data,
                static_cast<int>(cc.ld));
  };
  constexpr long kBlock = 32;  // split points are multiples of the kernels' register blocking
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) *
                       static_cast<double>(k);
  if (flops < 4e6 || threads() == 1 || std::max(m, n) < 2 * kBlock) {
    call(a, b, c);
  } else if (m >= n) {  // split the rows of c (and of op(a))
    parallel_for((m + kBlock - 1) / kBlock, 1, [&](long b0, long b1) {
      const long r0 = b0 * kBlock, r = std::min(m, b1 * kBlock) - r0;
      call(op_a == Op::N ? a.block(r0, 0, r, k) : a.block(0, r0, k, r), b, c.block(r0, 0, r, n));
    });
  } else {  // split the columns of c (and of op(b))
    parallel_for((n + kBlock - 1) / kBlock, 1, [&](long b0, long b1) {
      const long c0 = b0 * kBlock, w = std::min(n, b1 * kBlock) - c0;
      call(a, op_b == Op::N ? b.block(0, c0, k, w) : b.block(c0, 0, w, k), c.block(0, c0, m, w));
    });
  }
}

}  // namespace spotlight
