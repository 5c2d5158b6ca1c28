// blas.h — the only door to cblas_sgemm. Every matmul of the model, forward or backward, is a
// gemm on MatViews: C = alpha · op(A) · op(B) + beta · C, op = identity or transpose. Views may
// be column blocks of wider matrices (attention heads), which BLAS handles through ld. Large
// products are split into row or column blocks over the compute threads (parallel.h).
#pragma once

#include <string>

#include "spotlight/tensor.h"

namespace spotlight {

enum class Op { N, T };

// c [M, N] = alpha · op(a) [M, K] · op(b) [K, N] + beta · c. Shapes are checked.
void gemm(const MatView& a, Op op_a, const MatView& b, Op op_b, const MatView& c,
          float alpha = 1.0f, float beta = 0.0f);

// One line naming the BLAS that gemm() runs on, as the library reports it: version, the kernel
// set (core) in use, OpenBLAS's own thread count (1: gemm() splits over the compute pool
// instead), the compute pool's threads, and OPENBLAS_CORETYPE if the environment sets it, e.g.
//   OpenBLAS 0.3.21, core Haswell, 1 OpenBLAS thread, compute pool 2 threads,
//   OPENBLAS_CORETYPE=Haswell (from the environment)
// Results that are equal only up to rounding differ between cores, so test and benchmark logs
// start with this line.
std::string blas_description();

}  // namespace spotlight
