#include "spotlight/blas.h"

#include <cblas.h>

#include "spotlight/check.h"

namespace spotlight {

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
  cblas_sgemm(CblasRowMajor, op_a == Op::N ? CblasNoTrans : CblasTrans,
              op_b == Op::N ? CblasNoTrans : CblasTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a.data, static_cast<int>(a.ld), b.data,
              static_cast<int>(b.ld), beta, c.data, static_cast<int>(c.ld));
}

void set_blas_threads(int n) {
  openblas_set_num_threads(n);
}
int blas_threads() {
  return openblas_get_num_threads();
}

}  // namespace spotlight
